export * from './frame';
export * from './body';
