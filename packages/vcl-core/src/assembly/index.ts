export * from './assemble-stack';
export * from './ordering-member';
export * from './resolve-single';
