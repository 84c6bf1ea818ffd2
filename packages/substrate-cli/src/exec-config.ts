import { ConfigError, loadStack, VclError, type Stack } from '@vcl/core';

const CLI_PLUGINS = new Set(['cli', '@vcl/substrate-cli']);

/**
 * Where the `vcl client` of `stack` accepts `vcl-exec`: the listen address of its cli substrate
 * (the one named `substrate`, or the only cli one), or `client.listen` when it is the stack's only
 * substrate. Throws `VclError` saying what is missing.
 */
export function cliEndpointOf(stack: Stack, substrate?: string): string {
  const cli = stack.substrates
    .map((section, index) => ({
      section,
      index,
      name: section.name ?? (CLI_PLUGINS.has(section.plugin) ? 'cli' : section.plugin),
    }))
    .filter((s) => (substrate === undefined ? CLI_PLUGINS.has(s.section.plugin) : s.name === substrate));
  if (cli.length === 0)
    throw new VclError(
      substrate === undefined
        ? `the stack has no cli substrate (it has ${stack.substrates.map((s) => s.plugin).join(', ')})`
        : `the stack has no substrate named "${substrate}"`,
    );
  if (cli.length > 1)
    throw new VclError(
      `the stack has ${cli.length} cli substrates (${cli.map((s) => s.name).join(', ')}): give --substrate <name>`,
    );
  const { section, index } = cli[0]!;
  const listen = section.listen ?? (stack.substrates.length === 1 ? stack.client.listen : undefined);
  if (!listen) throw new VclError(`substrates[${index}] (${cli[0]!.name}) has no listen address in the stack`);
  const host = listen.host === '0.0.0.0' || listen.host === '::' ? '127.0.0.1' : listen.host;
  return host.includes(':') ? `[${host}]:${listen.port}` : `${host}:${listen.port}`;
}

/** The `vcl-exec --config` endpoint: loads `file` and applies `cliEndpointOf`; errors name the file. */
export async function endpointFromStack(file: string, substrate?: string): Promise<string> {
  try {
    return cliEndpointOf(await loadStack(file), substrate);
  } catch (e) {
    throw e instanceof ConfigError ? e : new VclError(`${file}: ${(e as Error).message}`, { cause: e });
  }
}
