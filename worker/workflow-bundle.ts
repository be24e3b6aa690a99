/**
 * The workflow bundle, built once per version of the code it contains and kept on disk: webpack is
 * most of a worker's start-up (3–4 s on two cores), paid again by every worker, demo and benchmark
 * start otherwise. The key hashes every source file the bundle can contain (workflows/, domain/,
 * contracts/: the workflow imports nothing else at run time, see eslint.config.mjs) and the SDK's
 * version, so any change builds a new bundle; a cache that cannot be written is skipped.
 */
import { createHash } from 'node:crypto';
import { access, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';

const ROOT = join(__dirname, '..');
/**
 * What the bundle is built from (TypeScript, read by the bundler: no build step): its entry point
 * and every directory it may import from.
 */
const workflowsPath = join(ROOT, 'workflows', 'index.ts');
const SOURCES = ['workflows', 'domain', 'contracts'];
const CACHE_DIR = join(ROOT, '.data', 'workflow-bundles');

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(entries.map(async (e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith('.ts') ? [path] : [];
  }));
  return nested.flat().sort();
}

/** A hash of every file the bundle is built from, plus the SDK version that builds it. */
export async function bundleKey(): Promise<string> {
  const hash = createHash('sha256');
  const sdk = JSON.parse(await readFile(require.resolve('@temporalio/workflow/package.json'), 'utf8')) as {
    version: string;
  };
  hash.update(`@temporalio/workflow ${sdk.version}\n`);
  for (const dir of SOURCES) {
    for (const file of await sourceFiles(join(ROOT, dir))) {
      hash.update(`${file.slice(ROOT.length)}\n`);
      hash.update(await readFile(file));
    }
  }
  return hash.digest('hex').slice(0, 20);
}

/** Bundler errors only: its info lines (webpack stats) say nothing an operator needs. */
const quietBundler = { info() {}, warn() {}, error: console.error, debug() {}, trace() {}, log() {} } as never;

/** Bundles of older sources are kept for a while (a worker of the previous version may still start), then removed. */
const KEEP = 4;
async function prune(cacheDir: string): Promise<void> {
  const names = (await readdir(cacheDir)).filter((n) => /^workflow-bundle-\w+\.js$/.test(n));
  const dated = await Promise.all(names.map(async (n) => ({ n, at: (await stat(join(cacheDir, n))).mtimeMs })));
  for (const { n } of dated.sort((a, b) => b.at - a.at).slice(KEEP)) await rm(join(cacheDir, n), { force: true });
}

/** The bundle for the current sources: from the cache when it has this version, else built (and cached). */
export async function workflowBundle(cacheDir = CACHE_DIR): Promise<{ codePath: string } | { code: string }> {
  const key = await bundleKey();
  const codePath = join(cacheDir, `workflow-bundle-${key}.js`);
  try {
    await access(codePath);
    return { codePath };
  } catch {
    // not cached yet
  }
  const { code } = await bundleWorkflowCode({ workflowsPath, logger: quietBundler });
  try {
    await mkdir(cacheDir, { recursive: true });
    // Written aside and renamed, so a worker starting meanwhile never reads half a bundle.
    const partial = `${codePath}.${process.pid}.partial`;
    await writeFile(partial, code);
    await rename(partial, codePath);
    await prune(cacheDir);
    return { codePath };
  } catch {
    return { code };
  }
}
