/**
 * A release graph through the real CLI, as an operator runs it, with the worker bin holding the
 * DuckDB file: validate (the example and every invalid graph), plan (text and JSON), start, status
 * until approval (one section per node, the decision digest), the owner's refused approval and an
 * approval without a digest, the approval, lineage (through the worker), and one rollback that
 * leaves every production table exactly as it was before the start.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../client/exit-codes';
import { openDuckDb } from '../../warehouse/duckdb/driver';
import { tableDigests } from '../safety/support';
import { backfillWith } from '../support/cli';
import { seededWarehouse } from '../support/scratch';
import { EXAMPLES } from '../support/spec-fixtures';
import { temporalTestEnv } from '../support/temporal';
import { startWorkerBin, type WorkerBin } from '../support/worker-bin';

const NODES = ['daily_revenue', 'monthly_revenue', 'merchant_ltv_monthly'];
const TARGETS = ['finance.daily_revenue', 'finance.monthly_revenue', 'finance.merchant_ltv_monthly'];
/** Every table the release reads or writes: rows and an order-independent hash of whole rows. */
const PRODUCTION = [...TARGETS, 'staging.revenue_events']
  .map((t) => `SELECT '${t}' AS tbl, count(*) AS n, CAST(coalesce(sum(CAST(hash(x) AS HUGEINT)), 0) AS VARCHAR) ` +
    `AS h FROM ${t} AS x`)
  .join(' UNION ALL ') + ' ORDER BY tbl';
const SLOW = 300_000;

/** `backfill status <release_id> --json`, the fields read here. */
interface StatusJson {
  kind: string;
  state: string;
  error: string | null;
  decision_digest: string | null;
  nodes: Array<{ node: string; state: string }>;
}

let env: Awaited<ReturnType<typeof temporalTestEnv>>;
let worker: WorkerBin | undefined;

beforeAll(async () => {
  env = await temporalTestEnv();
});
afterAll(async () => {
  await worker?.stop();
  await env?.connection.close();
});

/** examples/revenue-release.yaml under `id`, without its UTC pause window, beside a copy of examples/sql. */
function releaseFile(dir: string, id: string): string {
  cpSync(join(EXAMPLES, 'sql'), join(dir, 'sql'), { recursive: true });
  const text = readFileSync(join(EXAMPLES, 'revenue-release.yaml'), 'utf8')
    .replace(/^release_id: .*$/m, `release_id: ${id}`)
    .replace(/^ {2}pause_windows:\n.*\n/m, '');
  expect(text).not.toContain('pause_windows');
  const file = join(dir, 'release.yaml');
  writeFileSync(file, text);
  return file;
}

async function digestsOf(path: string) {
  const db = await openDuckDb({ path, readOnly: true });
  try {
    return await tableDigests(db, [...TARGETS, 'staging.revenue_events']);
  } finally {
    await db.close();
  }
}

describe('backfill validate on release graphs', () => {
  it('names the example\'s nodes in order, and refuses each invalid graph at the path it names', async () => {
    const ok = await backfillWith({}, 'validate', join(EXAMPLES, 'revenue-release.yaml'));
    expect(ok.code, ok.stderr).toBe(ExitCode.ok);
    expect(ok.stdout).toContain('valid release graph revenue-release-2025-h1 (3 nodes in dependency order: ' +
      'daily_revenue finance.daily_revenue by day → monthly_revenue finance.monthly_revenue by month → ' +
      'merchant_ltv_monthly finance.merchant_ltv_monthly by month)');
    const invalid = readdirSync(join(EXAMPLES, 'invalid')).filter((f) => /^graph-.*\.yaml$/.test(f));
    expect(invalid).toContain('graph-cycle.yaml');
    for (const name of invalid) {
      const file = join(EXAMPLES, 'invalid', name);
      const at = /^# expect-error-at: (\S+)$/m.exec(readFileSync(file, 'utf8'))?.[1];
      expect(at, `${name} says where it is wrong`).toBeDefined();
      const r = await backfillWith({}, 'validate', file);
      expect(r.code, `${name}\n${r.stdout}${r.stderr}`).toBe(ExitCode.badInput);
      expect(r.stderr, name).toContain('the release spec is invalid');
      expect(r.stderr, name).toContain(`  - ${at} (line `);
    }
    const cycle = await backfillWith({}, 'validate', join(EXAMPLES, 'invalid', 'graph-cycle.yaml'));
    expect(cycle.stderr).toMatch(/is in a cycle: daily_revenue → daily_revenue_adjusted → daily_revenue/);
  });
});

describe('a release through the CLI, with the worker holding the warehouse', () => {
  it('plans, starts, waits for approval, refuses the owner, publishes, shows lineage and rolls back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'backfill-release-cli-'));
    const dbPath = await seededWarehouse(dir);
    const id = `release-cli-${process.pid}-${Date.now().toString(36)}`;
    const graph = releaseFile(dir, id);
    const settings = {
      TEMPORAL_ADDRESS: env.address,
      TEMPORAL_NAMESPACE: env.namespace,
      TEMPORAL_CONFIG_FILE: join(dir, 'no-profile.toml'),
      BACKFILL_TASK_QUEUE: `release-cli-${process.pid}-${Date.now().toString(36)}`,
      BACKFILL_WAREHOUSE: dbPath,
    };
    const run = (...args: string[]) => backfillWith(settings, ...args);
    const backfill = async (...args: string[]) => {
      const r = await run(...args);
      expect(r.code, `backfill ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(ExitCode.ok);
      return r;
    };
    const before = await digestsOf(dbPath);

    // The plan, read from the file directly (no worker yet): JSON, every node in dependency order.
    const json = JSON.parse((await backfill('plan', graph, '--json')).stdout) as {
      kind: string; release_id: string;
      nodes: Array<{ id: string; plan: { totals: { partitions: number; batches: number } };
        waits: Array<{ partition: { start: string }; waits: Array<{ node: string; partitions: number }> }> }>;
    };
    expect(json.kind).toBe('release_plan');
    expect(json.release_id).toBe(id);
    expect(json.nodes.map((n) => n.id)).toEqual(NODES);
    expect(json.nodes.map((n) => [n.plan.totals.partitions, n.plan.totals.batches]))
      .toEqual([[181, 26], [6, 6], [6, 6]]);
    expect(json.nodes[0]!.waits).toEqual([]);
    expect(json.nodes[1]!.waits[0]).toMatchObject({
      partition: { start: '2025-01-01' }, waits: [{ node: 'daily_revenue', partitions: 31 }],
    });

    worker = await startWorkerBin(settings);

    // The text plan, through the worker that now holds the file.
    const plan = await backfill('plan', graph);
    expect(plan.stderr).toContain(`a worker holds ${dbPath}; reading it through the worker`);
    const order = NODES.map((n, i) => plan.stdout.indexOf(`  ${i + 1}. ${n}: ${TARGETS[i]} by `));
    expect(order.every((at, i) => at >= 0 && (i === 0 || at > order[i - 1]!)), plan.stdout).toBe(true);
    expect(plan.stdout).toContain('181 partitions in 26 batches');
    expect(plan.stdout).toContain('6 partitions in 6 batches');
    expect(plan.stdout).toContain('2025-01-01 waits for daily_revenue 2025-01-01..2025-02-01 (31 days)');
    expect(plan.stdout).toContain('2025-01-01 waits for monthly_revenue 2025-01-01..2025-02-01 (1 month)');
    const production = (await backfill('sql', PRODUCTION)).stdout;
    expect(production).toMatch(/\(4 rows\)/);

    const start = await backfill('start', graph, '--by', 'vitest');
    expect(start.stdout).toContain(`started release ${id}: ${NODES.join(' → ')}`);
    expect(start.stdout).toContain(`workflow ID: backfill-${id}`);

    /** Polls `status --json` until `state`; a failed release fails the test at once with its error. */
    const until = async (state: string, timeoutMs = 180_000): Promise<StatusJson> => {
      const deadline = Date.now() + timeoutMs;
      let last = '';
      for (;;) {
        const r = await run('status', id, '--json');
        if (r.code === ExitCode.ok) {
          const s = JSON.parse(r.stdout) as StatusJson;
          expect(s.kind).toBe('release_status');
          if (s.state === state) return s;
          expect(s.state, `release failed: ${s.error}`).not.toBe('failed');
          last = r.stdout;
        } else last = r.stderr;
        if (Date.now() > deadline) throw new Error(`no ${state} within ${timeoutMs} ms; last:\n${last}`);
        await new Promise((r) => setTimeout(r, 500));
      }
    };
    const waiting = await until('awaiting_approval');
    expect(waiting.nodes.map((n) => [n.node, n.state])).toEqual(NODES.map((n) => [n, 'awaiting_approval']));
    const status = (await backfill('status', id)).stdout;
    expect(status).toContain(`release ${id}: awaiting_approval`);
    for (const [i, n] of NODES.entries()) {
      expect(status).toMatch(new RegExp(`\\[${n}\\] ${TARGETS[i]!.replace('.', '\\.')} \\((day|month)\\) — ` +
        'awaiting_approval'));
      expect(status).toContain(`backfill ${id}--${n}; batches `);
    }
    expect(status).toContain('approvers: finance-controller, head-of-finance-data');
    const digest = /decision digest ([0-9a-f]{64})/.exec(status)?.[1];
    expect(digest, status).toBeDefined();
    expect(waiting.decision_digest).toBe(digest);

    // Refusals: the owner is not an approver (4); a decision on nothing read (2).
    const owner = await run('approve', id, '--by', 'finance-data', '--digest', digest!);
    expect(owner.code, owner.stderr).toBe(ExitCode.refused);
    expect(owner.stderr).toContain('approve refused: "finance-data" is not an approver');
    const blind = await run('approve', id, '--by', 'finance-controller');
    expect(blind.code, blind.stderr).toBe(ExitCode.badInput);
    expect(blind.stderr).toContain('approve needs --digest');
    expect((await backfill('status', id)).stdout).toContain('last refusal: approve by finance-data');
    expect((await backfill('sql', PRODUCTION)).stdout).toBe(production);

    await backfill('approve', id, '--by', 'finance-controller', '--comment', 'three nodes reviewed',
      '--digest', digest!.slice(0, 12));
    await until('published');
    const published = (await backfill('status', id)).stdout;
    expect(published).toMatch(/published \S+ by approval of finance-controller; rollback window until /);
    const released = /decision digest ([0-9a-f]{64})/.exec(published)?.[1];
    expect(released, published).toBeDefined();
    expect(released).not.toBe(digest);
    expect((await backfill('sql', PRODUCTION)).stdout).not.toBe(production);

    // Lineage, from backfill_control.release_graphs through the worker.
    const lineage = await backfill('lineage', id);
    expect(lineage.stderr).toContain('reading it through the worker');
    expect(lineage.stdout).toContain(`release ${id}: published`);
    expect(lineage.stdout).toContain('approved by finance-controller');
    expect(lineage.stdout).toContain('inputs: staging.revenue_events');
    expect(lineage.stdout).toContain('inputs: daily_revenue (node, read from its shadow)');
    expect(lineage.stdout).toContain('inputs: monthly_revenue (node, read from its shadow), finance.monthly_revenue');
    for (const n of NODES) {
      expect(lineage.stdout).toMatch(new RegExp(`transform [0-9a-f]{16}, code git:8f31c2a; backfill ${id}--${n}`));
    }
    expect(lineage.stdout).toMatch(/batches 26 \(181 partitions\): \d+ passed/);
    expect(lineage.stdout.match(/batches 6 \(6 partitions\): \d+ passed/g)).toHaveLength(2);
    const asJson = JSON.parse((await backfill('lineage', id, '--json')).stdout) as {
      kind: string; release_id: string; status: string;
      nodes: Array<{ id: string; transform_hash: string; code_version: string; upstream: string[] }>;
      batches: Record<string, { batches: number }>;
    };
    expect(asJson.kind).toBe('lineage');
    expect(asJson.release_id).toBe(id);
    expect(asJson.status).toBe('published');
    expect(asJson.nodes.map((n) => [n.id, n.upstream])).toEqual([
      ['daily_revenue', []], ['monthly_revenue', ['daily_revenue']], ['merchant_ltv_monthly', ['monthly_revenue']],
    ]);
    for (const n of asJson.nodes) {
      expect(n.transform_hash).toMatch(/^[0-9a-f]{16}$/);
      expect(n.code_version).toBe('git:8f31c2a');
    }
    expect(NODES.map((n) => asJson.batches[n]?.batches)).toEqual([26, 6, 6]);
    const unknown = await run('lineage', 'no-such-release');
    expect(unknown.code, unknown.stderr).toBe(ExitCode.badInput);
    expect(unknown.stderr).toContain('no release no-such-release in backfill_control.release_graphs');

    // One rollback restores every node.
    const rollback = await backfill('rollback', id, '--by', 'finance-data', '--reason', 'release cli test',
      '--digest', released!);
    expect(rollback.stdout).toContain(`${id}: `);
    await until('rolled_back');
    const restored = (await backfill('status', id)).stdout;
    expect(restored).toContain(`release ${id}: rolled_back`);
    for (const n of NODES) expect(restored).toMatch(new RegExp(`\\[${n}\\] .* — rolled_back`));
    expect(restored).toMatch(/^ {2}rolled back \S+ by finance-data: release cli test$/m);
    expect(restored).not.toContain('rollback window until');
    expect((await backfill('sql', PRODUCTION)).stdout).toBe(production);
    const rolled = (await backfill('lineage', id)).stdout;
    expect(rolled).toContain(`release ${id}: rolled_back`);
    expect(rolled).toContain('rolled back');
    expect(rolled).toMatch(/rolled back .* by finance-data: release cli test/);
    await env.client.workflow.getHandle(`backfill-${id}`).result();

    // With the worker stopped, the file itself: every table the release touched, row for row as before.
    await worker.stop();
    worker = undefined;
    expect(await digestsOf(dbPath)).toEqual(before);
  }, SLOW);
});
