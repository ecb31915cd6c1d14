// bind-contact, rendered from the official WXML compiler's output (wcc, from the
// miniprogram-compiler package that miniprogram-simulate depends on). See wcc-runner.js for how
// wcc runs without changing tools/ (its useWcc() must come before miniprogram-simulate is
// required: no babel, so jest.mock is not hoisted).
'use strict';

const runner = require('./wcc-runner').useWcc('bind-contact.wcc.test.js');
const { DIST_PLUGIN } = require('./mp-env');
const { defineBindContactSuite } = require('./bind-contact.suite');

if (runner) {
  defineBindContactSuite({
    label: `official wcc compiler (${runner})`,
    // wcc compiles every .wxml under rootPath: the plugin folder (components and pages).
    compiler: { loadOptions: { compiler: 'official', rootPath: DIST_PLUGIN } },
  });
} else {
  test.skip('official wcc compiler: needs linux x64 (bin/linux/wcc)', () => {});
}
