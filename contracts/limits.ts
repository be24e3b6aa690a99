/**
 * Every documented bound on what a person hands the product: spec files, spec values, signal and
 * update payloads, and the lists kept in workflow state. Beyond a bound the input is refused with a
 * message naming the field and the bound (exit 2 at the CLI), never truncated silently, wedged or
 * overflowed. Dependency-free, so the workflow sandbox, the client and the worker share one copy.
 * README "What it refuses" lists them.
 */

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const MIB = 1024 * 1024;

/** Inclusive bounds of a duration field, in milliseconds. */
export interface DurationBound {
  min: number;
  max: number;
}

/**
 * Durations a spec may hold. Each maximum fits a Temporal timer, a JavaScript Date and Node's
 * timers (2^31-1 ms ≈ 24.8 days for anything a worker arms with setTimeout).
 */
export const DURATION_BOUNDS = {
  /** Snowflake's STATEMENT_TIMEOUT_IN_SECONDS stops at 7 days; below 1 s a timeout means nothing. */
  'execution.query_timeout': { min: SECOND, max: 7 * DAY },
  'execution.live_pipeline.poll_interval': { min: SECOND, max: DAY },
  'approval.timeout': { min: SECOND, max: 90 * DAY },
  /** Snowflake Time Travel keeps at most 90 days. */
  'rollback.window': { min: SECOND, max: 90 * DAY },
  /** A monitor evaluated more often than every second is load, not watching; daily is the least. */
  'rollback.monitors.interval': { min: SECOND, max: DAY },
} as const satisfies Record<string, DurationBound>;

export type DurationField = keyof typeof DURATION_BOUNDS;

export const SPEC_LIMITS = {
  /** A spec file, and a transform.sql_file, are read only when they are regular files of at most this size. */
  specFileBytes: MIB,
  sqlFileBytes: MIB,
  /** The parsed spec travels as the workflow's input (Temporal refuses payloads over 2 MiB). */
  specPayloadBytes: 1.5 * MIB,
  /** YAML aliases (*ref) in one spec; an alias bomb is refused, not expanded. */
  yamlAliases: 100,
  /** Hard ceiling on partitions, even with allow_large_range (ten years hourly is 87,600). */
  maxPartitions: 100_000,
  /** Free text: owner, approver, ticket, code version. */
  nameChars: 200,
  /** Free text: reason.change, visibility_query. */
  textChars: 2_000,
  /** Inline transform.sql (sql_file is bounded by sqlFileBytes). */
  sqlChars: MIB,
  approvers: 50,
  operators: 50,
  measures: 50,
  columns: 200,
  pauseWindows: 24,
  /** execution.max_concurrency and the set_concurrency signal. */
  concurrency: 64,
  /** |percent| in an expected range. */
  percent: 1_000_000,
  /** abs_tolerance of a measure. */
  absTolerance: 1e15,
  /** daily_scan_budget: one exabyte. */
  bytes: 1e18,
  /** validation.checks: custom checks per spec, the SQL of one, and failing rows kept per check and batch. */
  checks: 20,
  checkSqlChars: 20_000,
  checkRowsKept: 10,
  /** rollback.monitors: evaluated after publish and then every interval while the window is open. */
  monitors: 10,
} as const;

/** Release graph specs (domain/graph): several backfills in dependency order, published as one release. */
export const GRAPH_LIMITS = {
  /** Nodes (tables) in one release. */
  nodes: 20,
  /** nodes[].inputs: production tables one node reads besides its upstream nodes. */
  inputs: 20,
  /** release_id, so that `<release_id>--<node id>` stays a backfill_id of at most 100 characters. */
  releaseIdChars: 60,
  nodeIdChars: 30,
  /**
   * The parsed graph as JSON (every node's spec and its plan SQL): it is the release workflow's
   * input, which Temporal refuses above 2 MiB, so the whole graph shares one spec's bound.
   */
  payloadBytes: SPEC_LIMITS.specPayloadBytes,
} as const;

/** Fields of signal and update payloads (the Temporal UI's form sends whatever was typed). */
export const PAYLOAD_LIMITS = {
  /** `by`, `run_id`, `pipeline`: who or what. */
  nameChars: 200,
  /** `comment`, `reason`. */
  textChars: 2_000,
  /** What a refusal keeps of an oversized value, in status and the audit log. */
  excerptChars: 80,
  /** `digest`: a SHA-256 in hex. */
  digestChars: 64,
  /** `key_id`: 16 hex characters (domain/decision-digest.ts keyIdOf); more is refused. */
  keyIdChars: 64,
  /** `signature`: an Ed25519 signature in base64 is 88 characters. */
  signatureChars: 200,
} as const;

/** Lists kept in workflow state; each says what it keeps when full. */
export const STATE_LIMITS = {
  /** Newest batch summaries kept for the `batches` query; all of them are in the control schema. */
  recentBatches: 50,
  /** Newest refused approvals kept in status.approval.refusals (all are in the audit log). */
  refusals: 20,
  /** Live pipeline runs that signalled start; a start beyond this is refused (audited). */
  liveRuns: 100,
  /** Distinct warnings kept for the approver. */
  warnings: 50,
  /** Characters of one warning, error or halt reason kept in state. */
  messageChars: 4_000,
} as const;

/** `text` cut to `max` characters, saying how much was cut; for messages kept in state and logs. */
export function excerpt(text: string, max: number = PAYLOAD_LIMITS.excerptChars): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max)}… (${text.length - max} more characters)`;
}

/** A duration for messages: the largest whole unit ("7d", "90d", "1s", "1500ms"). */
export function formatDurationMs(ms: number): string {
  for (const [unit, size] of [['d', DAY], ['h', HOUR], ['m', MINUTE], ['s', SECOND]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
