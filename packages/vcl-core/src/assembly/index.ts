export * from './ordering-member';
export * from './resolve-single';
