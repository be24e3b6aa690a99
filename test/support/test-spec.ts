/**
 * The specs integration tests and the history recorder run. No vitest import, so a script run with
 * tsx (test/workflows/histories/record.ts) can use them too.
 */
import { join } from 'node:path';
import { loadSpecFile } from '../../client/load-spec';
import { shadowTableFor } from '../../domain/spec/parse';
import type { BackfillSpec } from '../../domain/spec/schema';

const EXAMPLE = join(__dirname, '..', '..', 'examples', 'revenue-tax-fix.yaml');

export const exampleSpec = (): BackfillSpec => loadSpecFile(EXAMPLE).spec;

/**
 * The batch mode integration tests run in: `auto` (set-based once proven), or `partition` when
 * BACKFILL_TEST_BATCH_MODE says so (the `integration-partition` project runs the lifecycle, crash,
 * engines and peer-lesson tests again that way).
 */
export const batchMode = (): 'auto' | 'partition' =>
  process.env.BACKFILL_TEST_BATCH_MODE === 'partition' ? 'partition' : 'auto';

let counter = 0;
/**
 * The example spec narrowed for speed: 2025-01-01..2025-02-28 (59 days, 9 batches of 7; a month
 * boundary inside), no live-pipeline query or pause windows unless a test adds them. Each test
 * backfill has its own shadow and restore point, as distinct backfills must (a name another
 * backfill created is refused).
 */
export function testSpec(name: string, patch: (s: BackfillSpec) => void = () => {}): BackfillSpec {
  const base = exampleSpec();
  const backfillId = `${name}-${process.pid}-${Date.now().toString(36)}-${counter++}`;
  const spec: BackfillSpec = {
    ...base,
    backfill_id: backfillId,
    target: { ...base.target, shadow_table: shadowTableFor(base.target.table, backfillId) },
    source_range: { ...base.source_range, start: '2025-01-01', end: '2025-02-28' },
    execution: {
      ...base.execution,
      pause_during_live_pipeline: false,
      live_pipeline: undefined,
      pause_windows: [],
      daily_scan_budget: undefined,
      batch_mode: batchMode(),
    },
    approval: { ...base.approval!, timeout: 10 * 60_000 },
    rollback: {
      ...base.rollback,
      window: 60 * 60_000,
      snapshot: `${base.target.table}_pre_${backfillId.replace(/-/g, '_')}`,
    },
  };
  patch(spec);
  return spec;
}
