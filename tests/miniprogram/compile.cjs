// Child process: compiles Mini Program plugin projects with miniprogram-ci's real compiler,
// off-line (run with `node --require ./no-network.cjs`), one after the other, and writes what
// happened as JSON. Usage: node --require no-network.cjs compile.cjs <jobs.json> <result.json>
//   jobs.json: [{ name, projectPath, outDir }]  — outDir receives the compiled files (if any)
// It always exits by itself: the compiler leaves sockets and pipes open for minutes otherwise.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const ci = require(path.join(ROOT, 'tools', 'miniprogram-ci', 'node_modules', 'miniprogram-ci'));

async function compileOne(job) {
  const started = Date.now();
  const statuses = [];
  const config = JSON.parse(fs.readFileSync(path.join(job.projectPath, 'project.config.json'), 'utf8'));
  const out = { name: job.name, projectPath: job.projectPath, outDir: job.outDir, ok: false, files: {}, statuses };
  try {
    const project = new ci.Project({
      appid: config.appid,
      type: 'miniProgramPlugin',
      projectPath: job.projectPath,
      // PLATFORM.md §6: off-line the compiler needs a key string and default project attributes.
      privateKey: 'offline-test-key-not-used',
      attr: async () => ({ ...ci.DefaultProjectAttr }),
      ignores: ['node_modules/**/*'],
    });
    const result = await ci.getCompiledResult({
      project,
      // The project's own settings (project.config.json: es6 → ES5 + babel helpers, minified),
      // i.e. what the developer ships.
      setting: { useProjectConfig: true },
      onProgressUpdate: (t) => statuses.push(typeof t === 'string' ? { status: 'info', message: t } : { status: t.status, message: t.message }),
    });
    fs.rmSync(job.outDir, { recursive: true, force: true });
    for (const [file, content] of Object.entries(result)) {
      const dest = path.join(job.outDir, file);
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fs.writeFileSync(dest, content);
      out.files[file] = { size: content.length, buffer: Buffer.isBuffer(content) };
    }
    out.ok = true;
  } catch (e) {
    out.error = { message: String((e && e.message) || e), code: e && e.code, path: e && e.path };
  }
  out.ms = Date.now() - started;
  return out;
}

(async () => {
  const jobs = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const results = [];
  for (const job of jobs) results.push(await compileOne(job));
  fs.writeFileSync(process.argv[3], JSON.stringify({ results, blockedNetwork: globalThis.__blockedNetwork || [] }, null, 2));
  process.exit(0);
})().catch((e) => {
  console.error(e);
  process.exit(2);
});
