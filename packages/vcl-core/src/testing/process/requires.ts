import { spawnSync } from 'node:child_process';

// Specs that drive real third-party servers and clients (redis-server, nginx, ab, sqlite3): on a
// machine without them those specs do not run, and say so plainly; under CI, which installs them
// (.ci/run), a missing one fails the run instead of passing quietly.

/** Whether `program` is on the PATH. */
export function onPath(program: string): boolean {
  return spawnSync('sh', ['-c', `command -v '${program.replace(/'/g, '')}'`], { encoding: 'utf8' }).status === 0;
}

// The Jest globals, looked up when the suite is declared so that importing @vcl/core/testing
// outside Jest (the simulator CLI) does not need them.
interface JestGlobals {
  describe(name: string, fn: () => void): void;
  it(name: string, fn: () => void): void;
}

function jestGlobals(): JestGlobals {
  const g = globalThis as unknown as Partial<JestGlobals>;
  if (typeof g.describe !== 'function' || typeof g.it !== 'function')
    throw new Error('describeWhenInstalled must be called inside a Jest test file');
  return g as JestGlobals;
}

/** What a spec needs installed. */
export interface Requirement {
  /** Programs that must be on the PATH. */
  readonly programs: readonly string[];
  /** How to install them, for the NOT RUN line (`apt-get install nginx-light apache2-utils`). */
  readonly install: string;
}

/**
 * `describe(name, body)` when every program of `needs` is on the PATH. Otherwise one test in its
 * place that logs `NOT RUN (...)` with the titles of the tests that did not run and why, and fails
 * when `CI=true`.
 */
export function describeWhenInstalled(needs: Requirement, name: string, body: () => void): void {
  const { describe, it } = jestGlobals();
  const missing = needs.programs.filter((p) => !onPath(p));
  if (!missing.length) {
    describe(name, body);
    return;
  }
  const titles = testTitles(body);
  describe(name, () => {
    it(`did not run: ${missing.join(', ')} not on the PATH`, () => {
      const line =
        `NOT RUN (${missing.join(', ')} not on the PATH; ${needs.install}): ` +
        titles.map((t) => `"${name} ${t}"`).join(', ');
      console.log(line);
      if (process.env['CI'] === 'true') throw new Error(line);
    });
  });
}

/** The titles of the tests `body` would register, without running any of it (for the NOT RUN line). */
function testTitles(body: () => void): string[] {
  const g = globalThis as unknown as Record<string, unknown>;
  const saved = ['describe', 'it', 'test', 'beforeAll', 'afterAll', 'beforeEach', 'afterEach'].map(
    (k) => [k, g[k]] as const,
  );
  const titles: string[] = [];
  const prefix: string[] = [];
  const noop = (): void => undefined;
  Object.assign(g, {
    describe: (title: string, inner: () => void) => {
      prefix.push(title);
      inner();
      prefix.pop();
    },
    it: (title: string) => titles.push([...prefix, title].join(' ')),
    test: (title: string) => titles.push([...prefix, title].join(' ')),
    beforeAll: noop,
    afterAll: noop,
    beforeEach: noop,
    afterEach: noop,
  });
  try {
    body();
  } finally {
    for (const [k, v] of saved) g[k] = v;
  }
  return titles;
}
