export * from './args';
export * from './run';
export * from './usage';
