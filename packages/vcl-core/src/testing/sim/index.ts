export * from './event-queue';
export * from './prng';
export * from './simulator';
