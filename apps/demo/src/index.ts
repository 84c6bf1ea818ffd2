/**
 * @vcl/demo: a mock parallel-file-system metadata server (an ordinary deterministic service that
 * knows nothing of VCL), its client, a workload generator, and the scripted fail-over demo.
 *
 * @example
 * ```ts
 * import { MdsClient, Workload, createMdsServer } from '@vcl/demo';
 *
 * const server = createMdsServer();
 * const { port } = await server.listen('127.0.0.1', 0);
 * const client = await MdsClient.connect({ port });
 * await client.mkdir('/a');
 * const report = await new Workload([client], { clients: 4, ops: 200 }).run();
 * console.log(report.clientErrors, (await client.digest()).digest);
 * await client.close();
 * await server.close();
 * ```
 */
export * from './mds/errors';
export * from './mds/namespace';
export * from './mds/protocol';
export * from './mds/server';
export * from './mds/log';
export * from './client/mds-client';
export * from './client/cli';
export * from './workload/workload';
export * from './workload/prng';
