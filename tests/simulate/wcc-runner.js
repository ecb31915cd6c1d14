// Runs the official WXML compiler (wcc, from the miniprogram-compiler package that
// miniprogram-simulate depends on) without touching tools/: shared by the *.wcc.test.js files.
//
// npm ships bin/linux/wcc without the execute bit; miniprogram-compiler then chmods it to 0777
// inside tools/node_modules before spawning it. `useWcc()` blocks that chmod and, unless wcc is
// already executable, runs the binary through the dynamic loader. No babel here (transform: {}),
// so jest.mock is not hoisted: call useWcc() in the test file above every require of
// miniprogram-simulate. Returns 'direct', 'loader', or null when wcc cannot run here (not
// linux-x64): the test file then skips.
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

function useWcc(testFile) {
  const runner = wccRunner();
  jest.mock('child_process', () => {
    const cp = jest.requireActual('child_process');
    return {
      ...cp,
      spawnSync(cmd, args, options) {
        if (/[\\/]wc(c|sc)(\.exe)?$/.test(cmd) && runner === 'loader') {
          return cp.spawnSync(LOADER, [cmd, ...args], options);
        }
        return cp.spawnSync(cmd, args, options);
      },
    };
  });
  jest.mock('fs', () => ({
    ...jest.requireActual('fs'),
    chmodSync() {
      throw new Error(`chmod blocked by ${testFile} (tools/node_modules stays as installed)`);
    },
  }));
  return runner;
}

module.exports = { useWcc };
