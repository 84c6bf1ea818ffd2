export * from './fake-total-order';
export * from './line-substrate';
export * from './memory-link';
export * from './counter-service';
export * from './engine-harness';
export * from './recording-logger';
export * from './paused-members';
