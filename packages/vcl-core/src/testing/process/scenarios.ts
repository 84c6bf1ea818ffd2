import type { MemberId } from '../../contracts/network';
import type { Violation } from '../conformance/history';
import { OrderingProcessGroup } from './harness';
import type { Workload } from './member-config';
import { wallNow } from './member-process';

/** The plugin under test, for the shared real-process scenarios. */
export interface ProcessScenarioOptions {
  /** The ordering plugin's registry name. */
  readonly plugin: string;
  /** Its options (short timeouts that still cause no false suspicion on a loaded machine). */
  readonly pluginOptions?: unknown;
  /** Each member's workload; default 25 messages/s, at most 8 unresolved. */
  readonly workload?: Workload;
  /** Deliveries to wait for between two faults; default 100. */
  readonly progress?: number;
  /** Time allowed for each step (a view change, some progress), in ms; default 20000. */
  readonly stepTimeoutMs?: number;
  /** Called with a line per step (for a test's log); default silent. */
  readonly trace?: (line: string) => void;
}

/** What a scenario leaves for the test to assert on. The group is stopped when it returns. */
export interface ProcessScenarioResult {
  /** Conformance violations found in the whole history (every incarnation of every member). */
  readonly violations: Violation[];
  /** A readable report (violations, member states, timeline, log directory) for failure messages. */
  readonly report: string;
  /** The members that were never killed, frozen or restarted. */
  readonly survivors: readonly MemberId[];
  /** Each survivor's delivery log as `seq messageId` lines. */
  readonly survivorLogs: ReadonlyMap<MemberId, readonly string[]>;
  /**
   * Cuts at which a survivor installed transferred state (it was excluded from a view while alive,
   * then joined again): the seqs up to such a cut reached it as state, not as deliveries.
   */
  readonly survivorStateCuts?: ReadonlyMap<MemberId, readonly number[]>;
  /** Every message id whose broadcast promise resolved at any member, killed ones included. */
  readonly resolved: ReadonlySet<string>;
  /** The members killed, frozen and restarted, in order, with the seq delivered when it happened. */
  readonly faults: readonly { readonly action: string; readonly member: MemberId; readonly atSeq: number }[];
  /** The highest seq delivered at the end. */
  readonly finalSeq: number;
  /** Wall ms from each kill or freeze to the next delivery at a survivor in a later view. */
  readonly failoverMs: readonly number[];
  /** For the restart scenario: seqs the restarted member delivered in its new incarnation. */
  readonly rejoinedDeliveries?: number;
  /** For the restart scenario: broadcasts of the restarted incarnation that resolved. */
  readonly rejoinedResolved?: number;
  /** For the restart scenario: the cuts at which the restarted incarnation installed transferred state. */
  readonly rejoinedStateCuts?: readonly number[];
}

const DEFAULT_WORKLOAD: Workload = { mode: 'rate', perSecond: 25, maxPending: 8 };

/**
 * The member to fail first: the one whose plugin reports a leading role (`sequencer`,
 * `token-holder`) if exactly one does, else the first member of the current view.
 */
export async function pickLeader(group: OrderingProcessGroup): Promise<MemberId> {
  const running = group.running();
  const stats = await Promise.all(running.map((id) => group.stats(id).catch(() => undefined)));
  const leaders = stats.filter((s) => s && ['sequencer', 'token-holder'].includes(s.role)).map((s) => s!.member);
  if (leaders.length === 1) return leaders[0]!;
  const view = group.member(running[0]!).view;
  const first = view?.members.find((m) => running.includes(m));
  return first ?? running[0]!;
}

/**
 * Waits until every member of `among` delivered in a view newer than `afterView`, and returns the
 * wall ms from `since` to the first such delivery at any of them.
 */
async function failoverTime(
  group: OrderingProcessGroup,
  among: readonly MemberId[],
  afterView: number,
  since: number,
  timeoutMs: number,
): Promise<number> {
  const firstNew = (id: MemberId) => {
    const e = group.events(id).find((x) => x.type === 'deliver' && x.view > afterView && x.t >= since);
    return e?.t;
  };
  await group.waitFor(
    `a delivery in a view after view ${afterView} at ${among.join(',')}`,
    () => among.every((id) => firstNew(id) !== undefined),
    timeoutMs,
  );
  return Math.min(...among.map((id) => firstNew(id)!)) - since;
}

function finish(
  group: OrderingProcessGroup,
  survivors: readonly MemberId[],
  violations: Violation[],
  faults: ProcessScenarioResult['faults'],
  failoverMs: number[],
  extra: Partial<ProcessScenarioResult> = {},
): ProcessScenarioResult {
  const survivorLogs = new Map(survivors.map((id) => [id, group.deliveryLog(id)] as const));
  const survivorStateCuts = new Map(
    survivors.map((id) => [id, group.events(id).flatMap((e) => (e.type === 'install' ? [e.cut] : []))] as const),
  );
  return {
    violations,
    report: group.report(violations),
    survivors,
    survivorLogs,
    survivorStateCuts,
    resolved: group.resolvedEverywhere(),
    faults,
    finalSeq: group.maxDelivered(),
    failoverMs,
    ...extra,
  };
}

/**
 * Five members as separate processes on loopback TCP broadcast continuously. The leader
 * (sequencer / token holder / first member) is SIGKILLed; once the four survivors deliver again,
 * the new leader is frozen with SIGSTOP; once the remaining three (still a majority of five)
 * deliver again, the frozen member is thawed and must rejoin. Then the workload stops and the
 * group settles. The result holds the checker's verdict over every incarnation and the
 * never-faulted members' delivery logs.
 */
export async function killFreezeScenario(options: ProcessScenarioOptions): Promise<ProcessScenarioResult> {
  const trace = options.trace ?? (() => undefined);
  const step = options.stepTimeoutMs ?? 20_000;
  const progress = options.progress ?? 100;
  const group = await OrderingProcessGroup.start({
    plugin: options.plugin,
    pluginOptions: options.pluginOptions,
    members: 5,
    workload: options.workload ?? DEFAULT_WORKLOAD,
  });
  try {
    const all = group.members;
    const faults: { action: string; member: MemberId; atSeq: number }[] = [];
    const failoverMs: number[] = [];
    await group.waitForView(all, { timeoutMs: step });
    await group.waitForDelivered(progress, { among: all, timeoutMs: step });
    trace(`5 members up, seq ${group.maxDelivered()}`);

    const first = await pickLeader(group);
    const viewBefore = group.member(first).view!.id;
    faults.push({ action: 'SIGKILL', member: first, atSeq: group.maxDelivered() });
    const killedAt = wallNow();
    await group.kill(first);
    const four = all.filter((m) => m !== first);
    await group.waitForView(four, { timeoutMs: step });
    failoverMs.push(await failoverTime(group, four, viewBefore, killedAt, step));
    await group.waitForDelivered(group.maxDelivered() + progress, { among: four, timeoutMs: step });
    trace(
      `killed ${first}; ${four.join(',')} deliver again (fail-over ${failoverMs[0]!.toFixed(0)} ms), seq ${group.maxDelivered()}`,
    );

    const second = await pickLeader(group);
    const viewBefore2 = group.member(second).view!.id;
    faults.push({ action: 'SIGSTOP', member: second, atSeq: group.maxDelivered() });
    const frozenAt = wallNow();
    group.freeze(second);
    const three = four.filter((m) => m !== second);
    await group.waitForView(three, { timeoutMs: step });
    failoverMs.push(await failoverTime(group, three, viewBefore2, frozenAt, step));
    await group.waitForDelivered(group.maxDelivered() + progress, { among: three, timeoutMs: step });
    trace(
      `froze ${second}; ${three.join(',')} deliver again (fail-over ${failoverMs[1]!.toFixed(0)} ms), seq ${group.maxDelivered()}`,
    );

    faults.push({ action: 'SIGCONT', member: second, atSeq: group.maxDelivered() });
    group.thaw(second);
    await group.waitForView(four, { timeoutMs: step });
    await group.waitForDelivered(group.maxDelivered() + progress / 2, { among: four, timeoutMs: step });
    trace(`thawed ${second}; it rejoined, seq ${group.maxDelivered()}`);

    await group.settle({ timeoutMs: step });
    trace(`settled at seq ${group.maxDelivered()}`);
    return finish(group, three, group.check(), faults, failoverMs);
  } catch (err) {
    group.markFailed();
    throw new Error(`${(err as Error).message}\n${group.report()}`, { cause: err });
  } finally {
    await group.stop();
  }
}

/**
 * Three members as separate processes broadcast continuously; the leader is SIGKILLed, the other
 * two go on, then the killed member is restarted (a new incarnation on the same address) and must
 * rejoin with state transfer, deliver and get its own broadcasts delivered. The group then settles
 * with every member up, so the checker also checks liveness.
 */
export async function killRestartScenario(options: ProcessScenarioOptions): Promise<ProcessScenarioResult> {
  const trace = options.trace ?? (() => undefined);
  const step = options.stepTimeoutMs ?? 20_000;
  const progress = options.progress ?? 100;
  const group = await OrderingProcessGroup.start({
    plugin: options.plugin,
    pluginOptions: options.pluginOptions,
    members: 3,
    workload: options.workload ?? DEFAULT_WORKLOAD,
  });
  try {
    const all = group.members;
    const faults: { action: string; member: MemberId; atSeq: number }[] = [];
    const failoverMs: number[] = [];
    await group.waitForView(all, { timeoutMs: step });
    await group.waitForDelivered(progress, { among: all, timeoutMs: step });
    trace(`3 members up, seq ${group.maxDelivered()}`);

    const leader = await pickLeader(group);
    const viewBefore = group.member(leader).view!.id;
    faults.push({ action: 'SIGKILL', member: leader, atSeq: group.maxDelivered() });
    const killedAt = wallNow();
    await group.kill(leader);
    const rest = all.filter((m) => m !== leader);
    await group.waitForView(rest, { timeoutMs: step });
    failoverMs.push(await failoverTime(group, rest, viewBefore, killedAt, step));
    await group.waitForDelivered(group.maxDelivered() + progress, { among: rest, timeoutMs: step });
    trace(
      `killed ${leader}; ${rest.join(',')} deliver again (fail-over ${failoverMs[0]!.toFixed(0)} ms), seq ${group.maxDelivered()}`,
    );

    faults.push({ action: 'restart', member: leader, atSeq: group.maxDelivered() });
    await group.restart(leader);
    await group.waitForView(all, { timeoutMs: step });
    const target = group.maxDelivered() + progress / 2;
    const ownResolved = () => group.events(leader).filter((e) => e.type === 'resolved').length;
    await group.waitFor(
      `${leader}#2 to deliver up to seq ${target} and get 10 of its own broadcasts delivered`,
      (g) => g.member(leader).delivered >= target && ownResolved() >= 10,
      step,
    );
    trace(`restarted ${leader}; it rejoined and delivers, seq ${group.maxDelivered()}`);

    await group.settle({ timeoutMs: step });
    trace(`settled at seq ${group.maxDelivered()}`);
    return finish(group, rest, group.check({ ended: true }), faults, failoverMs, {
      rejoinedDeliveries: group.member(leader).deliveries,
      rejoinedResolved: ownResolved(),
      rejoinedStateCuts: group.events(leader).flatMap((e) => (e.type === 'install' ? [e.cut] : [])),
    });
  } catch (err) {
    group.markFailed();
    throw new Error(`${(err as Error).message}\n${group.report()}`, { cause: err });
  } finally {
    await group.stop();
  }
}

/**
 * The claims every scenario must satisfy, as a list of what is wrong (empty: all hold): no
 * conformance violation; the survivors' delivery logs identical; each without a duplicate; and
 * holding every message whose broadcast resolved anywhere (at killed members too). A survivor that
 * was excluded while alive and joined again by state transfer (a `survivorStateCuts` entry) may
 * lack deliveries up to its cut, which reached it as state; every line it has must still match.
 */
export function scenarioProblems(result: ProcessScenarioResult): string[] {
  const problems: string[] = [];
  if (result.violations.length) problems.push(`conformance: ${result.violations.length} violation(s)`);
  const cutOf = (id: MemberId): number => Math.max(0, ...(result.survivorStateCuts?.get(id) ?? []));
  const ordered = [...result.survivors].sort((a, b) => Number(cutOf(a) > 0) - Number(cutOf(b) > 0));
  const [firstId, ...others] = ordered;
  const reference = firstId === undefined ? [] : result.survivorLogs.get(firstId)!;
  const seqOf = (line: string): number => Number(line.slice(0, line.indexOf(' ')));
  const idOf = (line: string): string => line.slice(line.indexOf(' ') + 1);
  for (const id of others) {
    const log = result.survivorLogs.get(id)!;
    const cut = cutOf(id);
    if (cut === 0 || cutOf(firstId!) > 0) {
      const at = log.findIndex((line, i) => line !== reference[i]);
      if (at >= 0 || log.length !== reference.length)
        problems.push(
          `${id}'s delivery log differs from ${firstId}'s` +
            (at >= 0 ? ` at line ${at + 1}: ${log[at]} vs ${reference[at] ?? '(end)'}` : '') +
            ` (${log.length} vs ${reference.length} deliveries)`,
        );
      continue;
    }
    const bySeq = new Map(reference.map((line) => [seqOf(line), line] as const));
    const wrong = log.find((line) => bySeq.get(seqOf(line)) !== line);
    if (wrong !== undefined)
      problems.push(
        `${id}'s delivery ${wrong} differs from ${firstId}'s ${bySeq.get(seqOf(wrong)) ?? '(none at that seq)'}`,
      );
    const held = new Set(log.map(seqOf));
    const uncovered = reference.map(seqOf).filter((seq) => seq > cut && !held.has(seq));
    if (uncovered.length)
      problems.push(
        `${id} lacks ${uncovered.length} delivery(ies) after its state transfer at cut ${cut}: seq ${uncovered.slice(0, 5).join(', ')}`,
      );
  }
  for (const id of result.survivors) {
    const cut = cutOf(id);
    const ids = result.survivorLogs.get(id)!.map(idOf);
    const seen = new Set<string>();
    const dups = ids.filter((m) => seen.size === seen.add(m).size);
    if (dups.length) problems.push(`${id} delivered ${dups.length} message(s) twice: ${dups.slice(0, 5).join(', ')}`);
    const held = new Set(seen);
    for (const line of reference) if (seqOf(line) <= cut) held.add(idOf(line));
    const missing = [...result.resolved].filter((m) => !held.has(m));
    if (missing.length)
      problems.push(
        `${id} lacks ${missing.length} message(s) whose broadcast resolved: ${missing.slice(0, 5).join(', ')}`,
      );
  }
  return problems;
}

/**
 * `'ok'` when `scenarioProblems` finds nothing, else the problems followed by the run's report
 * (violations, member states, timeline, log directory): `expect(scenarioVerdict(r)).toBe('ok')`
 * shows everything needed to read a failure.
 */
export function scenarioVerdict(result: ProcessScenarioResult): string {
  const problems = scenarioProblems(result);
  return problems.length ? `${problems.join('\n')}\n${result.report}` : 'ok';
}
