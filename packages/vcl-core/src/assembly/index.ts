export * from './ordering-member';
