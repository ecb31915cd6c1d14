// The call component, rendered from the official WXML compiler's output (wcc). See
// wcc-runner.js for how wcc runs without changing tools/.
'use strict';

const runner = require('./wcc-runner').useWcc('call.wcc.test.js');
const { DIST_PLUGIN } = require('./mp-env');
const { defineCallSuite } = require('./call.suite');

if (runner) {
  defineCallSuite({
    label: `official wcc compiler (${runner})`,
    // wcc compiles every .wxml under rootPath: the plugin folder (both components and pages).
    compiler: { loadOptions: { compiler: 'official', rootPath: DIST_PLUGIN } },
  });
} else {
  test.skip('official wcc compiler: needs linux x64 (bin/linux/wcc)', () => {});
}
