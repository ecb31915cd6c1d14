// bind-contact, rendered from the official WXML compiler's output (wcc, from the
// miniprogram-compiler package that miniprogram-simulate depends on).
//
// npm ships bin/linux/wcc without the execute bit; miniprogram-compiler then chmods it to 0777
// inside tools/node_modules before spawning it. This test changes nothing there: it blocks that
// chmod and, unless wcc is already executable, runs the binary through the dynamic loader.
// No babel here (transform: {}), so jest.mock is not hoisted: these calls must stay above every
// require of miniprogram-simulate.
'use strict';

const fs = jest.requireActual('fs');
const path = require('node:path');

const WCC = path.resolve(__dirname, '../../tools/node_modules/miniprogram-compiler/bin/linux/wcc');
const LOADER = '/lib64/ld-linux-x86-64.so.2';

function wccRunner() {
  if (process.platform !== 'linux' || process.arch !== 'x64' || !fs.existsSync(WCC)) return null;
  try {
    fs.accessSync(WCC, fs.constants.X_OK);
    return 'direct';
  } catch (e) {
    return fs.existsSync(LOADER) ? 'loader' : null;
  }
}
const runner = wccRunner();

jest.mock('child_process', () => {
  const cp = jest.requireActual('child_process');
  return {
    ...cp,
    spawnSync(cmd, args, options) {
      if (/[\\/]wc(c|sc)(\.exe)?$/.test(cmd) && runner === 'loader') {
        return cp.spawnSync('/lib64/ld-linux-x86-64.so.2', [cmd, ...args], options);
      }
      return cp.spawnSync(cmd, args, options);
    },
  };
});
jest.mock('fs', () => ({
  ...jest.requireActual('fs'),
  chmodSync() {
    throw new Error('chmod blocked by bind-contact.wcc.test.js (tools/node_modules stays as installed)');
  },
}));

const { DIST_PLUGIN } = require('./mp-env');
const { defineBindContactSuite } = require('./bind-contact.suite');

if (runner) {
  defineBindContactSuite({
    label: `official wcc compiler (${runner})`,
    // wcc compiles every .wxml under rootPath: the plugin folder (component + bind page).
    compiler: { loadOptions: { compiler: 'official', rootPath: DIST_PLUGIN } },
  });
} else {
  test.skip('official wcc compiler: needs linux x64 (bin/linux/wcc)', () => {});
}
