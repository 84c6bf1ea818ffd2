export * from './history';
export * from './check';
export * from './runner';
