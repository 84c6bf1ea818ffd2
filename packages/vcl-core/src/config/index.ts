export * from './issues';
export * from './load-stack';
export * from './options';
export * from './stack';
export * from './stack-schema';
