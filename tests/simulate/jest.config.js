// Jest config for the miniprogram-simulate test of the built bind-contact component.
// Run from the repository root:
//   tools/node_modules/.bin/jest --config tests/simulate/jest.config.js
'use strict';

const path = require('node:path');

const repo = path.resolve(__dirname, '..', '..');

module.exports = {
  // The repository root, so the test can reach dist/; `roots` keeps jest's file crawler out of
  // target/, dist/ and tools/ (it only looks for tests here).
  rootDir: repo,
  roots: ['<rootDir>/tests/simulate'],
  testMatch: ['<rootDir>/tests/simulate/**/*.test.js'],
  // miniprogram-simulate renders into jsdom (jest-environment-jsdom 29, from tools/node_modules).
  testEnvironment: 'jsdom',
  // No babel: the built plugin bundle and the component must run exactly as shipped, and
  // babel-jest is not needed for plain CommonJS tests.
  transform: {},
  // tests/ has no node_modules of its own: resolve miniprogram-simulate (and its deps) from tools/.
  moduleDirectories: ['node_modules', '<rootDir>/tools/node_modules'],
  // The built files under dist/ are required by absolute path (the component requires
  // '../../index.js' itself); nothing there may be mocked or transformed.
  watchman: false,
  cacheDirectory: path.join(require('node:os').tmpdir(), 'campus-voip-jest-simulate'),
  testTimeout: 20000,
};
