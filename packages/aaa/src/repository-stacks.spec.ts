import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkStack, ConfigError, parseStack, parseYaml } from '@vcl/core';
import { parsePolicy } from './policy';

// Every stack file in the repository, and every stack fragment in its documentation, must pass
// what `vcl check` checks: a user copies them.
const root = path.resolve(__dirname, '../../..');
const SKIP = new Set(['node_modules', '.git', 'dist', '.nx', 'coverage', 'tmp']);

function walk(dir: string, out: string[] = []): string[] {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (SKIP.has(e.name)) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

const files = walk(root);
const rel = (p: string): string => path.relative(root, p);
/** Top-level keys of a stack file. */
const STACK_KEYS = new Set([
  'group',
  'ordering',
  'substrate',
  'substrates',
  'service',
  'client',
  'aaa',
  'timeouts',
  'admin',
  'limits',
  'onDivergence',
  'dependencies',
]);

/** Stack files: YAML files whose top level has `group:`. */
const stackFiles = files
  .filter((f) => /\.ya?ml$/.test(f) && /^group:/m.test(fs.readFileSync(f, 'utf8')))
  .map((f) => ({ label: rel(f), text: fs.readFileSync(f, 'utf8') }));

/** YAML code blocks of the documentation whose top-level keys are all stack keys. */
const docBlocks = files
  .filter((f) => f.endsWith('.md'))
  .flatMap((f) =>
    [...fs.readFileSync(f, 'utf8').matchAll(/^```ya?ml\n([\s\S]*?)^```/gm)].map((m, i) => ({
      label: `${rel(f)} yaml block ${i + 1}`,
      text: m[1]!,
    })),
  )
  .filter((b) => {
    const data = parseYaml(b.text) as Record<string, unknown> | null;
    return data !== null && typeof data === 'object' && Object.keys(data).every((k) => STACK_KEYS.has(k));
  });

/** What a fragment is completed with: a loopback group with a tcp substrate. */
const BASE = `group:
  name: docs
  members:
    - { id: n1, host: 127.0.0.1, port: 7101, clientPort: 7201 }
    - { id: n2, host: 127.0.0.1, port: 7102, clientPort: 7202 }
    - { id: n3, host: 127.0.0.1, port: 7103, clientPort: 7203 }
substrates: [{ plugin: tcp, options: { framing: line } }]
service: { endpoint: { host: 127.0.0.1, port: 7401 } }
client: { listen: { host: 127.0.0.1, port: 7100 } }
`;

/** The fragment's top-level sections replace the base's. */
function complete(fragment: string): string {
  const data = parseYaml(fragment) as Record<string, unknown>;
  const base = parseYaml(BASE) as Record<string, unknown>;
  if ('substrate' in data) delete base['substrates'];
  return JSON.stringify({ ...base, ...data });
}

/** The schema, then what the aaa plugins check in the file itself (the policy rules). */
function validate(label: string, text: string): ReturnType<typeof parseStack> {
  const stack = parseStack(text, label);
  if (Array.isArray(stack.aaa?.policy)) parsePolicy(stack.aaa.policy, `${label}: aaa.policy`);
  return stack;
}

describe('every stack in the repository validates', () => {
  it('finds the stack files and the documentation fragments', () => {
    expect(stackFiles.map((s) => s.label)).toEqual(
      expect.arrayContaining([
        'packages/vcl-core/test/fixtures/stacks/three-members-tcp.yaml',
        'apps/demo/stacks/mds-sequencer.yaml',
      ]),
    );
    expect(docBlocks.map((b) => b.label)).toEqual(expect.arrayContaining(['docs/security.md yaml block 1']));
  });

  it.each(stackFiles.map((s) => [s.label, s] as const))('%s', async (_label, s) => {
    const stack = validate(s.label, s.text);
    // Stacks that name no AAA files get every start-up check `vcl check` runs (plugins, options,
    // substrate targets, client side); the others' files live on the machines they describe.
    if (!stack.aaa) await checkStack(stack, s.label);
  });

  it.each(docBlocks.map((b) => [b.label, b] as const))('%s', (_label, b) => {
    validate(b.label, complete(b.text));
  });

  it('reports what is wrong in a documented policy rule with its path under aaa.policy', () => {
    expect(() => parsePolicy([{ principal: 'bob', commands: ['qstat'] }], 'aaa.policy')).toThrow(ConfigError);
  });
});
