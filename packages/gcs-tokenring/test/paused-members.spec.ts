import { runPausedMembers, type PausedMembersOptions } from '@vcl/core/testing';
import { tokenRing } from '../src';

// The token ring under the interceptors (5 members, 4 clients, a replicated register) with members
// paused like SIGSTOP, for less and for more than failure detection, then resumed and re-admitted
// with a state transfer, while clients fail over: every answer must be the one the total order
// produced for its request, in real-time order (a linearizable register), none lost or repeated.
// The chaos options: tokenLossMs 400, holdMs 5, links suspected after 400 ms.
// VCL_PAUSE_SEEDS=<n> runs seeds 1..n instead of the few below (about 3 s each).
const plugin = tokenRing({ tokenLossMs: 400, holdMs: 5 });
const sweep = Number(process.env['VCL_PAUSE_SEEDS'] ?? 0);
const seeds = sweep > 0 ? Array.from({ length: sweep }, (_, i) => i + 1) : [1, 2, 3];

async function run(seed: number, extra: Partial<PausedMembersOptions> = {}): Promise<string[]> {
  const r = await runPausedMembers({ seed, plugin, ...extra });
  return r.violations.map((v) => `seed ${seed}: ${v}`);
}

describe('token ring under the interceptors: paused and resumed members', () => {
  it(`no client gets a stale, lost or repeated answer (seeds ${seeds[0]}..${seeds.at(-1)})`, async () => {
    const failed: string[] = [];
    for (const seed of seeds) failed.push(...(await run(seed)).slice(0, 3));
    expect(failed).toEqual([]);
  }, 600_000);

  it('seed 7: a member re-admitted by a snapshot state transfer sends its clients to attach again', async () => {
    // n2 paused 638 ms with c2's requests 223-224 stamped; the others delivered them and excluded
    // n2, c2 (a slow client) kept its link. n2 came back with the restored caches, which held the
    // answers, but sent them on no link: c2 waited forever ("2 requests never answered").
    expect(await run(7)).toEqual([]);
  }, 60_000);

  it('seed 6 without a state-transfer hook: a re-admitted member answers from its stale replica', async () => {
    // VCL before replica recovery (the first 5-member chaos run of seed 768189): the ring
    // re-admits a member excluded while alive with an empty state, and it serves reads from the
    // replica it left with (a client's read returns its own older write). The check must see it.
    const found = await run(6, { stateTransfer: false });
    expect(found.some((v) => /\(read\) answered c\d\.\d+ .*; the group's order answered/.test(v))).toBe(true);
  }, 60_000);
});
