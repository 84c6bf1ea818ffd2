// Shared Jest settings for every project: ts-jest in transpile-only mode (the typecheck target does
// the type checking once, so tests do not pay for it again) and @vcl/* mapped to sources.
const path = require('node:path');

const root = __dirname;
const src = (dir) => path.join(root, dir, 'src');

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: path.join(root, 'tsconfig.spec.json') }],
  },
  moduleFileExtensions: ['ts', 'js', 'json'],
  testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/test/**/*.spec.ts'],
  moduleNameMapper: {
    '^@vcl/substrate-resp$': path.join(src('packages/substrate-resp'), 'index.ts'),
    '^@vcl/core/testing$': path.join(src('packages/vcl-core'), 'testing/index.ts'),
    '^@vcl/core/errors$': path.join(src('packages/vcl-core'), 'errors.ts'),
    '^@vcl/core$': path.join(src('packages/vcl-core'), 'index.ts'),
    '^@vcl/gcs-sequencer$': path.join(src('packages/gcs-sequencer'), 'index.ts'),
    '^@vcl/gcs-tokenring$': path.join(src('packages/gcs-tokenring'), 'index.ts'),
    '^@vcl/substrate-tcp$': path.join(src('packages/substrate-tcp'), 'index.ts'),
    '^@vcl/substrate-http$': path.join(src('packages/substrate-http'), 'index.ts'),
    '^@vcl/substrate-cli$': path.join(src('packages/substrate-cli'), 'index.ts'),
    '^@vcl/aaa$': path.join(src('packages/aaa'), 'index.ts'),
  },
  setupFiles: [path.join(root, 'tools/jest/setup.cjs')],
  reporters: ['default', [path.join(root, 'tools/jest/summary-reporter.cjs'), {}]],
  testTimeout: 30000,
  passWithNoTests: true,
};
