import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bundleKey, workflowBundle } from '../../worker/workflow-bundle';

const dir = mkdtempSync(join(tmpdir(), 'bundle-cache-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the workflow bundle cache', () => {
  it('builds the bundle once per source version, then serves the same file; old versions are pruned', async () => {
    const key = await bundleKey();
    expect(key).toMatch(/^[0-9a-f]{20}$/);
    expect(await bundleKey()).toBe(key);
    for (let i = 0; i < 6; i++) writeFileSync(join(dir, `workflow-bundle-old${i}.js`), '');
    const first = await workflowBundle(dir);
    expect(first).toEqual({ codePath: join(dir, `workflow-bundle-${key}.js`) });
    const built = statSync(join(dir, `workflow-bundle-${key}.js`));
    expect(built.size).toBeGreaterThan(100_000);
    expect(readdirSync(dir).sort()).toHaveLength(4);
    expect(readdirSync(dir)).toContain(`workflow-bundle-${key}.js`);
    // Served from the cache: the same file, not written again.
    expect(await workflowBundle(dir)).toEqual(first);
    expect(statSync(join(dir, `workflow-bundle-${key}.js`)).mtimeMs).toBe(built.mtimeMs);
  }, 120_000);
});
