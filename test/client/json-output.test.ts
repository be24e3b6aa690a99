/** The `--json` outputs' shape: versioned, snake_case keys, no float noise (client/json-output.ts). */
import { describe, expect, it } from 'vitest';
import { denoised, jsonOutput, JSON_SCHEMA_VERSION, snakeKey } from '../../client/json-output';

describe('--json outputs', () => {
  it('carry schema_version and kind, keys in snake_case, data keys as they are', () => {
    const out = JSON.parse(jsonOutput('status', {
      backfillId: 'FIN-2841',
      partitions: { done: 3, total: 547 },
      lastVerdict: { rowsWritten: 700, measures: [{ deltaPct: -1.2 }] },
      sums: { '2025-01-01': 1, net_revenue: 2, NET_REVENUE: 3 },
    })) as Record<string, unknown>;
    expect(out).toEqual({
      schema_version: JSON_SCHEMA_VERSION,
      kind: 'status',
      backfill_id: 'FIN-2841',
      partitions: { done: 3, total: 547 },
      last_verdict: { rows_written: 700, measures: [{ delta_pct: -1.2 }] },
      sums: { '2025-01-01': 1, net_revenue: 2, NET_REVENUE: 3 },
    });
    expect(JSON.parse(jsonOutput('list', [{ backfillId: 'a' }]))).toEqual({
      schema_version: JSON_SCHEMA_VERSION, kind: 'list', items: [{ backfill_id: 'a' }],
    });
  });

  it('print floats without noise and leave integers, NaN-free values and strings alone', () => {
    expect(denoised(120724719.47000004)).toBe(120724719.47);
    expect(denoised(0.1 + 0.2)).toBe(0.3);
    expect(denoised(-1.2000000000000002)).toBe(-1.2);
    expect(denoised(9007199254740991)).toBe(9007199254740991);
    expect(jsonOutput('plan', { costPerHour: 0.1 + 0.2 })).toContain('"cost_per_hour": 0.3');
    expect(snakeKey('rollbackExpiresAt')).toBe('rollback_expires_at');
    expect(snakeKey('2025-01-01T00')).toBe('2025-01-01T00');
  });
});
