#!/usr/bin/env node
/**
 * The demo (`npm run demo`): the workload through the replicated metadata server, with a live
 * fail-over; `--direct` runs it against one plain metadata server without VCL.
 */
import { DEMO_USAGE, DemoUsageError, parseDemoArgs, type DemoOptions } from '../demo/args';
import { ReplicatedDeployment, vclCli, vclCliAvailable } from '../demo/replicated';
import { DirectDeployment, runDemo } from '../demo/run-demo';

async function main(): Promise<number> {
  let options: DemoOptions;
  try {
    options = parseDemoArgs(process.argv.slice(2), process.stdout.isTTY === true);
  } catch (e) {
    if (!(e instanceof DemoUsageError)) throw e;
    process.stderr.write(`demo: ${e.message}\n\n${DEMO_USAGE}\n`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(`${DEMO_USAGE}\n`);
    return 0;
  }
  if (!options.direct && !vclCliAvailable()) {
    process.stderr.write(
      `demo: the replicated demo needs \`vcl service\` and \`vcl client\` (${vclCli()}),\n` +
        'which are not built. Run `npm run demo -- --direct` for the workload against one plain\n' +
        'metadata server without VCL.\n',
    );
    return 1;
  }
  if (options.tty) process.on('exit', () => process.stdout.write('\x1b[?25h'));
  return runDemo(options, (ctx) =>
    options.direct ? new DirectDeployment(ctx) : new ReplicatedDeployment(ctx, { ordering: options.ordering }),
  );
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: Error) => {
    process.stderr.write(`demo: ${e.stack ?? e.message}\n`);
    process.exitCode = 1;
  },
);
