// One jest setup for every package and service. Tests import workspace packages from their
// sources (not dist/), so a test always runs the code beside it; tests that spawn a service
// process run its dist/, which `npm test` builds first.
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/packages', '<rootDir>/services', '<rootDir>/test'],
  testMatch: ['**/test/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  transform: {
    '^.+\\.(t|j)s$': [
      '@swc/jest',
      { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } },
    ],
  },
  moduleNameMapper: {
    // The dashboard is a service whose package entry is its static server, serve.cjs.
    '^@agentos/dashboard$': '<rootDir>/services/dashboard/serve.cjs',
    '^@agentos/([a-z-]+)$': '<rootDir>/packages/$1/src',
    // The generated Prisma client imports its TypeScript siblings as `./x.js`.
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  reporters: ['default', '<rootDir>/test/summary-reporter.js'],
  testTimeout: 30_000,
  maxWorkers: 2,
};
