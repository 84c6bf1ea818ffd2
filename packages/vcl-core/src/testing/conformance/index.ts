export * from './history';
export * from './check';
export * from './runner';
export * from './naive-ordering';
export * from './report';
