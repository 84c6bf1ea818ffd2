export * from './conformance';
export * from './conversation-checks';
export * from './fixture';
export * from './framing-checks';
export * from './relay';
export * from './tcp-client';
export * from './process-failover';
