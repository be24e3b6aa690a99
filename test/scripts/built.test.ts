/**
 * The CLI and worker run bundled (scripts/built.cjs): a changed source makes the bundle stale and
 * the next start rebuilds it, so `npx backfill` never runs code older than the sources.
 */
import { execFile } from 'node:child_process';
import { readFileSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import * as built from '../../scripts/built.cjs';

const ROOT = join(__dirname, '..', '..');

describe('the bundled CLI and worker', () => {
  it('a source newer than the bundle makes it stale; the next start rebuilds it and runs', async () => {
    built.build();
    expect(built.stale()).toBe(false);
    for (const name of Object.keys(built.ENTRIES)) {
      expect(readFileSync(join(ROOT, 'dist', `${name}.cjs`), 'utf8').length).toBeGreaterThan(10_000);
    }
    const source = join(ROOT, 'domain', 'plan.ts');
    const { atime, mtime } = statSync(source);
    try {
      utimesSync(source, atime, new Date(Date.now() + 60_000));
      expect(built.stale()).toBe(true);
      const { stdout } = await promisify(execFile)(process.execPath, [join(ROOT, 'bin', 'backfill.cjs'), '--help']);
      expect(stdout).toMatch(/Usage: backfill/);
    } finally {
      utimesSync(source, atime, mtime);
    }
    // The start rebuilt it: the stamp is newer than the (restored) source again.
    expect(built.stale()).toBe(false);
  });

  it('the worker entry is the bundle of worker/main.ts (npm run worker)', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.worker).toMatch(/node bin\/worker\.cjs$/);
    expect(built.ENTRIES.worker).toBe('worker/main.ts');
    expect(readFileSync(join(ROOT, 'bin', 'worker.cjs'), 'utf8')).toMatch(/run\('worker'/);
  });
});
