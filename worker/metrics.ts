/**
 * The backfill counters operators scrape: a small in-memory registry rendered in the Prometheus
 * text exposition format 0.0.4 by hand (no client library for seven series). Pure: no I/O here;
 * worker/metrics-server.ts serves render() over HTTP. The SDK's own worker metrics (task slots,
 * poll latencies, …) come from the Temporal runtime's exporter on a separate port (worker/main.ts).
 */
import type { BackfillMetrics } from '../activities';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * Batch durations run from tens of milliseconds (DuckDB, small partitions) to an hour (a warehouse
 * batch of large partitions); the buckets cover both ends.
 */
export const BATCH_SECONDS_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800, 3600] as const;

/** Label values may hold anything; the format reserves backslash, double quote and newline. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text escapes backslash and newline only. */
function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

export function formatSampleValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

type LabelValues = readonly string[];

function labelText(names: readonly string[], values: LabelValues, extra?: [string, string]): string {
  const pairs = names.map((n, i) => `${n}="${escapeLabelValue(values[i] ?? '')}"`);
  if (extra) pairs.push(`${extra[0]}="${escapeLabelValue(extra[1])}"`);
  return pairs.length ? `{${pairs.join(',')}}` : '';
}

/** Series in a stable order (by label values) so two renders of the same state are identical. */
function sortedSeries<T>(series: Map<string, { labels: LabelValues } & T>) {
  return [...series.values()].sort((a, b) => {
    for (let i = 0; i < Math.max(a.labels.length, b.labels.length); i++) {
      const c = (a.labels[i] ?? '').localeCompare(b.labels[i] ?? '');
      if (c) return c;
    }
    return 0;
  });
}

// JSON of the values array: an unambiguous key whatever the values contain.
const keyOf = (values: LabelValues) => JSON.stringify(values);

class Counter {
  private readonly series = new Map<string, { labels: LabelValues; value: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    /** Sums fractional estimates exactly but shows whole units (bytes). */
    readonly whole = false,
  ) {}

  inc(labels: LabelValues, by = 1): void {
    if (!(by >= 0)) return; // counters only go up; a negative or NaN increment would corrupt rate()
    const key = keyOf(labels);
    const s = this.series.get(key);
    if (s) s.value += by;
    else this.series.set(key, { labels: [...labels], value: by });
  }

  render(): string[] {
    const lines = [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} counter`];
    for (const s of sortedSeries(this.series)) {
      lines.push(`${this.name}${labelText(this.labelNames, s.labels)} ` +
        `${formatSampleValue(this.whole ? Math.round(s.value) : s.value)}`);
    }
    return lines;
  }
}

class Histogram {
  private readonly series = new Map<string, { labels: LabelValues; counts: number[]; sum: number; count: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    readonly buckets: readonly number[],
  ) {}

  observe(labels: LabelValues, value: number): void {
    if (Number.isNaN(value)) return;
    const key = keyOf(labels);
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = { labels: [...labels], counts: this.buckets.map(() => 0), sum: 0, count: 0 }));
    // Stored per bucket, rendered cumulatively.
    const i = this.buckets.findIndex((le) => value <= le);
    if (i >= 0) s.counts[i]!++;
    s.sum += value;
    s.count++;
  }

  render(): string[] {
    const lines = [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} histogram`];
    for (const s of sortedSeries(this.series)) {
      let cumulative = 0;
      this.buckets.forEach((le, i) => {
        cumulative += s.counts[i]!;
        lines.push(
          `${this.name}_bucket${labelText(this.labelNames, s.labels, ['le', formatSampleValue(le)])} ${cumulative}`,
        );
      });
      lines.push(`${this.name}_bucket${labelText(this.labelNames, s.labels, ['le', '+Inf'])} ${s.count}`);
      lines.push(`${this.name}_sum${labelText(this.labelNames, s.labels)} ${formatSampleValue(s.sum)}`);
      lines.push(`${this.name}_count${labelText(this.labelNames, s.labels)} ${s.count}`);
    }
    return lines;
  }
}

/**
 * The worker's backfill metrics. Counters live as long as the worker process (Prometheus handles
 * the reset on restart); every series carries the backfill_id.
 */
export class Metrics implements BackfillMetrics {
  private readonly partitions = new Counter(
    'backfill_partitions_rewritten_total',
    'Partitions a batch rewrote into the shadow table (delete + insert, committed). ' +
      'The idempotency proof is not counted.',
    ['backfill_id'],
  );
  private readonly rows = new Counter('backfill_rows_written_total', 'Rows batches wrote into the shadow table.', [
    'backfill_id',
  ]);
  private readonly bytes = new Counter(
    'backfill_bytes_scanned_total',
    "Estimated bytes the rewritten partitions scanned: the plan's average bytes per partition for each partition " +
      "rewritten (the daily scan budget's basis). Nothing is counted when the plan has no byte estimate.",
    ['backfill_id'],
    true,
  );
  private readonly validationFailures = new Counter(
    'backfill_validation_failures_total',
    'Failed validations: a batch whose reconciliation failed, a failed completion check, a failed idempotency proof.',
    ['backfill_id'],
  );
  private readonly pauses = new Counter(
    'backfill_pauses_total',
    'Times the backfill stopped starting batches, by kind: operator, live_pipeline, pause_window, scan_budget.',
    ['backfill_id', 'kind'],
  );
  private readonly batches = new Counter(
    'backfill_batches_total',
    'Batch verdicts: passed and failed as reconciled, accepted when an operator accepted a failed verdict.',
    ['backfill_id', 'verdict'],
  );
  private readonly batchSeconds = new Histogram(
    'backfill_batch_seconds',
    'Time one batch attempt took in the activity: rewrite, reconciliation and checkpoint.',
    ['backfill_id'],
    BATCH_SECONDS_BUCKETS,
  );

  partitionRewritten(backfillId: string, rows: number, bytes: number | null): void {
    this.partitions.inc([backfillId]);
    this.rows.inc([backfillId], rows);
    if (bytes !== null) this.bytes.inc([backfillId], bytes);
  }

  batchFinished(backfillId: string, verdict: 'passed' | 'failed', seconds: number): void {
    this.batches.inc([backfillId, verdict]);
    this.batchSeconds.observe([backfillId], seconds);
  }

  batchAccepted(backfillId: string): void {
    this.batches.inc([backfillId, 'accepted']);
  }

  validationFailed(backfillId: string): void {
    this.validationFailures.inc([backfillId]);
  }

  paused(backfillId: string, kind: string): void {
    this.pauses.inc([backfillId, kind]);
  }

  /** The exposition text: HELP and TYPE for every family (even before its first sample), newline-terminated. */
  render(): string {
    const families = [
      this.partitions,
      this.rows,
      this.bytes,
      this.validationFailures,
      this.pauses,
      this.batches,
      this.batchSeconds,
    ];
    return `${families.flatMap((f) => f.render()).join('\n')}\n`;
  }
}
