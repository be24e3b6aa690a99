/**
 * `npm run demo`, the README's main command, run as a user runs it (a child process with its own
 * dev server and DuckDB file): once approving with --approve-as, once approved the way the Temporal
 * UI's signal form does it (an `approve` signal with one JSON object).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, describe, expect, it } from 'vitest';
import { approveSignal } from '../../contracts/messages';
import { workflowIdFor } from '../../contracts/settings';

const root = join(__dirname, '..', '..');
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function runDemo(
  args: string[],
  onLine: (line: string) => void = () => {},
): Promise<{ code: number | null; out: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'backfill-demo-'));
  dirs.push(dir);
  const child = spawn(
    process.execPath,
    ['--require', 'tsx/cjs', join(root, 'demo', 'run-demo.ts'), '--headless', '--db', join(dir, 'w.duckdb'), ...args],
    { cwd: root },
  );
  let out = '';
  const take = (d: Buffer) => {
    const text = d.toString();
    out += text;
    text.split('\n').forEach(onLine);
  };
  child.stdout.on('data', take);
  child.stderr.on('data', take);
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, out })));
}

describe('npm run demo', () => {
  it('runs the backfill to awaiting approval, approves as a named approver, publishes, prints the release and closes ' +
    'a short rollback window', async () => {
    const { code, out } = await runDemo(['--approve-as', 'finance-controller', '--rollback-window', '2s']);
    expect(code, out).toBe(0);
    expect(out).toContain('batch  1/79 2024-12-01..2024-12-07 passed');
    expect(out).toContain('batch 79/79 2026-05-31..2026-05-31 passed');
    expect(out).toMatch(/net_revenue: [\d.]+ → [\d.]+ \(-1\.106%; expected -1\.5%\.\.-0\.8%\) ok/);
    expect(out).toContain('[awaiting_approval]');
    expect(out).toContain('"approvedBy": "finance-controller"');
    expect(out).toContain('"status": "published"');
    expect(out).toContain('rollback window ended');
  }, 120_000);

  it('--graph runs the three-node release: the plan with waits, every node reconciled within its bands, one ' +
    'approval, one publish of every table, the release record and its lineage', async () => {
    const { code, out } = await runDemo(['--graph', '--approve-as', 'finance-controller', '--rollback-window', '2s']);
    expect(code, out).toBe(0);
    expect(out).toContain('2025-01-01 waits for daily_revenue 2025-01-01..2025-02-01 (31 days)');
    expect(out).toContain('2025-03-01 waits for monthly_revenue 2025-01-01..2025-04-01 (3 months)');
    expect(out).toMatch(/\[monthly_revenue\] finance\.monthly_revenue \(month\) — awaiting_approval/);
    expect(out).toMatch(/net_revenue: -1\.1\d\d%/);
    expect(out).toMatch(/lifetime_net_revenue: -0\.8\d\d%/);
    expect(out).not.toContain('OUTSIDE EXPECTED');
    expect(out).toContain('Approving the whole release as finance-controller');
    expect(out).toMatch(/"target": "finance\.merchant_ltv_monthly",\s+"rowsDeleted": \d+,\s+"rowsInserted": \d+/);
    expect(out).toContain('$ backfill lineage revenue-release-2025-h1');
    expect(out).toMatch(/batches 26 \(181 partitions\): 26 passed/);
    expect(out).toContain('rollback window ended');
  }, 180_000);

  it('without --approve-as, waits for the approve signal the Temporal UI sends, and says how to send it', async () => {
    let address: string | undefined;
    let digest: string | undefined;
    let sent: Promise<void> | undefined;
    const { code, out } = await runDemo(['--rollback-window', '1s'], (line) => {
      address ??= /on the dev server at (\S+) /.exec(line)?.[1];
      digest ??= /"digest": "([0-9a-f]{64})"/.exec(line)?.[1];
      if (digest && address && !sent) {
        sent = (async () => {
          const connection = await Connection.connect({ address: address! });
          const client = new Client({ connection });
          await client.workflow
            .getHandle(workflowIdFor('revenue-tax-fix-2026-06'))
            .signal(approveSignal, { by: 'head-of-finance-data', comment: 'from the UI form', digest });
          await connection.close();
        })();
      }
    });
    await sent;
    expect(code, out).toBe(0);
    expect(out)
      .toMatch(/\{"by": "finance-controller", "comment": "reconciliation reviewed", "digest": "[0-9a-f]{64}"\}/);
    expect(out).toContain('"approvedBy": "head-of-finance-data"');
  }, 120_000);
});
