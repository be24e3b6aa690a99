/**
 * Planning speed, printed as figures (never asserted in tests):
 *   npx tsx bench/plan.ts [--scale 1,10]
 * Pure planning for growing ranges, then the full warehouse-backed estimate on the demo scenario.
 */
import { loadSpecFile } from '../client/load-spec';
import { seedRevenueScenario } from '../demo/revenue-scenario';
import { buildPlan, planShape } from '../domain/plan';
import type { BackfillSpec } from '../domain/spec/schema';
import { openDuckDb } from '../warehouse/duckdb/driver';
import { estimatePlan } from '../warehouse/plan-estimates';

const base = loadSpecFile('examples/revenue-tax-fix.yaml').spec;
const ms = (t0: number) => (performance.now() - t0).toFixed(1);

function pureCase(label: string, range: Partial<BackfillSpec['source_range']>): void {
  const spec: BackfillSpec = { ...base, source_range: { ...base.source_range, ...range, allow_large_range: true } };
  const t0 = performance.now();
  const plan = buildPlan(spec, { rowsByPartition: {}, sample: null, pricePerHour: null });
  const shape = planShape(spec);
  console.log(`pure plan  ${label.padEnd(28)} ${String(shape.partitions).padStart(7)} partitions ` +
    `${String(shape.batches).padStart(6)} batches  ${ms(t0).padStart(7)} ms  ` +
    `(${(JSON.stringify(plan).length / 1024).toFixed(0)} KiB JSON)`);
}

async function main(): Promise<void> {
  pureCase('seed range, daily', {});
  pureCase('10 years, daily', { start: '2016-06-01', end: '2026-05-31' });
  pureCase('10 years, hourly', { start: '2016-06-01T00', end: '2026-05-31T23', grain: 'hour' });

  const scales = (process.argv.find((a) => a.startsWith('--scale='))?.slice(8) ?? '1,10').split(',').map(Number);
  for (const scale of scales) {
    const db = await openDuckDb({ path: ':memory:' });
    const seeded = await seedRevenueScenario(db, { scale });
    const t0 = performance.now();
    const plan = await estimatePlan(db, base, { sample: true });
    console.log(
      `estimate   scale ${String(scale).padEnd(22)} ${String(seeded.dailyRows).padStart(7)} target rows ` +
        `${String(plan.totals.batches).padStart(3)} batches  ${ms(t0).padStart(7)} ms  (sample read ` +
        `${((plan.sample?.seconds ?? 0) * 1000).toFixed(1)} ms)`,
    );
    await db.close();
  }
}

void main();
