/**
 * The CLI and the worker run as JavaScript bundled from the TypeScript sources (esbuild, one
 * CommonJS file per entry in dist/, packages left to node_modules), so a start does not transpile
 * the sources again: `backfill --help` loads in about half the time it took through tsx. The bundle
 * is rebuilt, in about 0.2 s, whenever a source file or package.json is newer than it, so there is
 * still no build step between a change and the next `npx backfill`.
 *
 *   node scripts/built.cjs            build every entry (npm run build)
 *   require('./built.cjs').run(name)  from bin/: rebuild if stale, then run dist/<name>.cjs
 *
 * Plain JavaScript on purpose: it is what loads before any TypeScript can.
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const DIST = path.join(ROOT, 'dist');
/** Every entry is built together: they share sources, so one staleness check covers all. */
const ENTRIES = {
  cli: 'client/cli.ts',
  worker: 'worker/main.ts',
  'project-run': 'bench/peers/project-run.ts',
};
// Every folder an entry's imports reach (bench/peers/project-run.ts reaches demo/ through bench/backfill.ts).
const SOURCE_DIRS = [
  'activities', 'bench', 'client', 'contracts', 'demo', 'domain', 'scripts', 'warehouse', 'worker', 'workflows',
];
const STAMP = path.join(DIST, '.built');

/** The newest modification time (ms) of the sources a bundle is made from. */
function newestSource() {
  let newest = 0;
  const visit = (dir) => {
    let entries;
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const file = path.join(dir, e.name);
      if (e.isDirectory()) visit(file);
      else if (/\.(ts|cjs|json)$/.test(e.name)) newest = Math.max(newest, fs.statSync(file).mtimeMs);
    }
  };
  for (const dir of SOURCE_DIRS) visit(path.join(ROOT, dir));
  for (const file of ['package.json', 'package-lock.json', 'tsconfig.json']) {
    try {
      newest = Math.max(newest, fs.statSync(path.join(ROOT, file)).mtimeMs);
    } catch {
      // absent: nothing to compare
    }
  }
  return newest;
}

function stale() {
  try {
    return fs.statSync(STAMP).mtimeMs < newestSource();
  } catch {
    return true;
  }
}

/**
 * Bundles every entry into a fresh folder, then moves each file into dist/ (a rename is atomic, so
 * a CLI started meanwhile reads an old or a new file, never half of one).
 */
function build() {
  const esbuild = require('esbuild');
  // The stamp takes the time the sources were read: a file saved during the build stays newer.
  const started = new Date();
  fs.mkdirSync(DIST, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(DIST, '.building-'));
  try {
    esbuild.buildSync({
      absWorkingDir: ROOT,
      entryPoints: ENTRIES,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      packages: 'external',
      outdir: tmp,
      outExtension: { '.js': '.cjs' },
      sourcemap: true,
      // Inlined into one module, every `require.main === module` (the scripts' own command lines)
      // would be true: only the entry's top-level code may run.
      define: { 'require.main': 'undefined' },
      logLevel: 'warning',
    });
    // Each bundle sits directly in dist/, so `join(__dirname, '..')` in the sources is still the repository.
    for (const f of fs.readdirSync(tmp)) fs.renameSync(path.join(tmp, f), path.join(DIST, f));
    fs.writeFileSync(STAMP, `${started.toISOString()}\n`);
    fs.utimesSync(STAMP, started, started);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Runs dist/<name>.cjs, rebuilding first if a source changed since the last build. With
 * `sourceMaps`, stack traces name the TypeScript sources; that costs ~0.1 s of start-up (Node reads
 * the map as the bundle loads), worth it for the long-running worker, not for each CLI command.
 */
function run(name, { sourceMaps = false } = {}) {
  if (!(name in ENTRIES)) throw new Error(`scripts/built.cjs: no entry "${name}"`);
  if (stale()) build();
  if (sourceMaps) process.setSourceMapsEnabled(true);
  require(path.join(DIST, `${name}.cjs`));
}

module.exports = { run, build, stale, ENTRIES };

if (require.main === module) {
  const t0 = performance.now();
  build();
  console.log(`built ${Object.keys(ENTRIES).map((n) => `dist/${n}.cjs`).join(', ')} in ${Math.round(performance.now() - t0)} ms`);
}
