// The built plugin main (dist/miniprogram-plugin/plugin/index.js) exports what
// tests/types/plugin-module.d.ts says requirePlugin('campus-voip') returns: the npm package's
// declared value exports (dist/npm/index.d.ts); its fileStorage throws NOT_SUPPORTED (no file system)
// and its mintSession rejects NOT_SUPPORTED (no session secret in a client).
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { REPO, DIST_PLUGIN } = require('./mp-env');

test('plugin main exports = index.d.ts value exports; fileStorage is NOT_SUPPORTED there', () => {
  const dts = fs.readFileSync(path.join(REPO, 'dist', 'npm', 'index.d.ts'), 'utf8');
  const declared = new Set();
  for (const m of dts.matchAll(/^export\s+(?:declare\s+)?(?:function|class|const|let|var)\s+([A-Za-z_$][\w$]*)/gm)) {
    declared.add(m[1]);
  }
  if (/^export default\b/m.test(dts)) declared.add('default');

  // Requiring the main needs no wx: the default instance configures itself on its first call.
  const main = require(path.join(DIST_PLUGIN, 'index.js'));
  expect(Object.keys(main).sort()).toEqual(Array.from(declared).sort());
  expect(typeof main.default.inspectBindContactPath).toBe('function');
  expect(new main.VoipPluginError(1004, 'INVALID_ARGUMENT', 'x:fail y')).toBeInstanceOf(main.VoipError);
  expect(() => main.fileStorage('/tmp/x')).toThrow(expect.objectContaining({ errCode: 1011, code: 'NOT_SUPPORTED' }));
  // mintSession is the school server's (Node): in the plugin it rejects NOT_SUPPORTED.
  return expect(main.mintSession({ secret: 'x'.repeat(32), openId: 'o_dad' })).rejects.toEqual(
    expect.objectContaining({ errCode: 1011, code: 'NOT_SUPPORTED' }),
  );
});
