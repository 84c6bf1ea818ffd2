export * from './build';
export * from './errors';
export * from './harness';
export * from './member-config';
export * from './member-log';
export * from './member-process';
export * from './payload';
export * from './scenarios';
