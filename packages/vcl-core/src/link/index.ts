export * from './frame';
export * from './body';
export * from './member-frames';
export * from './no-security';
export * from './tcp-network';
