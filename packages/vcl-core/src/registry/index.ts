export * from './builtins';
export * from './plugin-registry';
