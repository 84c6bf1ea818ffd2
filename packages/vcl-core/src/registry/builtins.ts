import type { PluginKind } from '../contracts/plugin';

/** The short names of the plugins VCL ships, per kind, and the package that provides each. */
export const BUILTIN_PLUGINS: Readonly<Record<PluginKind, Readonly<Record<string, string>>>> = {
  ordering: { sequencer: '@vcl/gcs-sequencer', tokenring: '@vcl/gcs-tokenring' },
  substrate: {
    tcp: '@vcl/substrate-tcp',
    http: '@vcl/substrate-http',
    cli: '@vcl/substrate-cli',
    resp: '@vcl/substrate-resp',
  },
  aaa: { hmac: '@vcl/aaa', tls: '@vcl/aaa', token: '@vcl/aaa', policy: '@vcl/aaa', 'file-audit': '@vcl/aaa' },
};
