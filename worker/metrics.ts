/**
 * The backfill counters operators scrape, as prom-client metrics in a registry of their own (plus
 * prom-client's default process and Node.js metrics). No I/O here; worker/metrics-server.ts serves
 * the registry over HTTP. The SDK's own worker metrics (task slots, poll latencies, …) come from the
 * Temporal runtime's exporter on a separate port (worker/main.ts).
 */
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import type { BackfillMetrics } from '../activities';

/**
 * Batch durations run from tens of milliseconds (DuckDB, small partitions) to an hour (a warehouse
 * batch of large partitions); the buckets cover both ends.
 */
export const BATCH_SECONDS_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800, 3600] as const;

/** An activity must never fail on a metric: prom-client throws on a negative or non-finite increment. */
const countable = (n: number) => Number.isFinite(n) && n >= 0;

/**
 * The worker's backfill metrics. Counters live as long as the worker process (Prometheus handles
 * the reset on restart); every series carries the backfill_id. One registry per instance, so tests
 * (and two workers in one process) never share counts.
 */
export class Metrics implements BackfillMetrics {
  readonly registry = new Registry();

  private readonly partitions = new Counter({
    name: 'backfill_partitions_rewritten_total',
    help: 'Partitions a batch rewrote into the shadow table (delete + insert, committed). ' +
      'The idempotency proof is not counted.',
    labelNames: ['backfill_id'],
    registers: [this.registry],
  });
  private readonly rows = new Counter({
    name: 'backfill_rows_written_total',
    help: 'Rows batches wrote into the shadow table.',
    labelNames: ['backfill_id'],
    registers: [this.registry],
  });
  private readonly bytes = new Counter({
    name: 'backfill_bytes_scanned_total',
    help: "Estimated bytes the rewritten partitions scanned: the plan's average bytes per partition for each " +
      "partition rewritten (the daily scan budget's basis). Nothing is counted when the plan has no byte estimate.",
    labelNames: ['backfill_id'],
    registers: [this.registry],
  });
  private readonly validationFailures = new Counter({
    name: 'backfill_validation_failures_total',
    help: 'Failed validations: a batch whose reconciliation failed, a failed completion check, ' +
      'a failed idempotency proof.',
    labelNames: ['backfill_id'],
    registers: [this.registry],
  });
  private readonly pauses = new Counter({
    name: 'backfill_pauses_total',
    help: 'Times the backfill stopped starting batches, by kind: operator, live_pipeline, pause_window, scan_budget.',
    labelNames: ['backfill_id', 'kind'],
    registers: [this.registry],
  });
  private readonly batches = new Counter({
    name: 'backfill_batches_total',
    help: 'Batch verdicts: passed and failed as reconciled, accepted when an operator accepted a failed verdict.',
    labelNames: ['backfill_id', 'verdict'],
    registers: [this.registry],
  });
  private readonly batchSeconds = new Histogram({
    name: 'backfill_batch_seconds',
    help: 'Time one batch attempt took in the activity: rewrite, reconciliation and checkpoint.',
    labelNames: ['backfill_id'],
    buckets: [...BATCH_SECONDS_BUCKETS],
    registers: [this.registry],
  });
  /**
   * The exact sum of each backfill's byte estimates (fractional averages): the counter is advanced
   * by whole bytes, so it shows a whole number that never drifts from the rounded exact total.
   */
  private readonly exactBytes = new Map<string, number>();

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  partitionRewritten(backfillId: string, rows: number, bytes: number | null): void {
    const id = { backfill_id: backfillId };
    this.partitions.inc(id);
    if (countable(rows)) this.rows.inc(id, rows);
    if (bytes !== null && countable(bytes)) {
      const before = this.exactBytes.get(backfillId) ?? 0;
      const after = before + bytes;
      this.exactBytes.set(backfillId, after);
      this.bytes.inc(id, Math.round(after) - Math.round(before));
    }
  }

  batchFinished(backfillId: string, verdict: 'passed' | 'failed', seconds: number): void {
    this.batches.inc({ backfill_id: backfillId, verdict });
    if (countable(seconds)) this.batchSeconds.observe({ backfill_id: backfillId }, seconds);
  }

  batchAccepted(backfillId: string): void {
    this.batches.inc({ backfill_id: backfillId, verdict: 'accepted' });
  }

  validationFailed(backfillId: string): void {
    this.validationFailures.inc({ backfill_id: backfillId });
  }

  paused(backfillId: string, kind: string): void {
    this.pauses.inc({ backfill_id: backfillId, kind });
  }
}
