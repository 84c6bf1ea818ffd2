export * from './issues';
export * from './options';
