/**
 * Structured logs: one JSON object per line, every line about a backfill carrying its backfill_id,
 * so `grep`, Loki or CloudWatch can follow one backfill through workflow and activity lines.
 *
 * Where backfill_id comes from:
 * - activity lines: an activity interceptor reads it from the activity's first argument (every
 *   activity but countLivePipelines takes the spec first) and adds it to the activity's log
 *   attributes, so Context.current().log and the SDK's own "Activity failed" lines carry it;
 * - every other line with a workflowId (workflow lines, the SDK's "Activity started" line, which is
 *   logged before interceptors run, and countLivePipelines): derived in the log function from the
 *   workflow ID, which is always `backfill-<backfill_id>` (contracts/settings.ts workflowIdFor).
 *   Deriving it there rather than in a workflow interceptor keeps it working with the pre-built
 *   workflow bundles the tests use, which ignore the worker's workflow interceptor modules.
 * Worker-level lines (state changes, core warnings) concern no backfill and have no backfill_id.
 */
import type { LogLevel } from '@temporalio/common';
import { DefaultLogger, type ActivityInterceptorsFactory, type LogEntry } from '@temporalio/worker';
import { workflowIdFor } from '../contracts/settings';

const WORKFLOW_ID_PREFIX = workflowIdFor('');

/** Meta the SDK attaches that is long and useless in a log line (the base64 task token). */
const DROPPED_META = new Set(['taskToken']);
/** Fields of the line itself; meta with these names cannot overwrite them. */
const RESERVED = new Set(['ts', 'level', 'msg', 'backfill_id']);

/** The backfill a log line is about: its own attribute, else derived from the workflow ID. */
export function backfillIdOf(meta: Record<string, unknown> | undefined): string | undefined {
  if (!meta) return undefined;
  if (typeof meta.backfill_id === 'string') return meta.backfill_id;
  const workflowId = meta.workflowId;
  if (
    typeof workflowId === 'string' &&
    workflowId.startsWith(WORKFLOW_ID_PREFIX) &&
    workflowId.length > WORKFLOW_ID_PREFIX.length
  ) {
    return workflowId.slice(WORKFLOW_ID_PREFIX.length);
  }
  return undefined;
}

/** Errors become plain objects (JSON.stringify would write `{}`); bigints become strings. */
function plain(value: unknown, depth = 0): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) {
    const e = value as Error & { type?: unknown; code?: unknown; cause?: unknown };
    return {
      name: e.name,
      message: e.message,
      ...(typeof e.type === 'string' && { type: e.type }),
      ...(typeof e.code === 'string' && { code: e.code }),
      ...(e.stack && { stack: e.stack }),
      ...(e.cause !== undefined && depth < 3 && { cause: plain(e.cause, depth + 1) }),
    };
  }
  return value;
}

/** One log entry as one line of JSON (no trailing newline): ts, level, msg, backfill_id, then the meta. */
export function jsonLogLine(entry: LogEntry): string {
  const meta = entry.meta ?? {};
  const line: Record<string, unknown> = {
    ts: new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString(),
    level: entry.level,
    msg: entry.message,
  };
  const backfillId = backfillIdOf(meta);
  if (backfillId !== undefined) line.backfill_id = backfillId;
  for (const [key, value] of Object.entries(meta)) {
    if (!RESERVED.has(key) && !DROPPED_META.has(key) && value !== undefined) line[key] = value;
  }
  try {
    return JSON.stringify(line, (_key, value: unknown) => plain(value));
  } catch {
    // A circular meta value: write each object once rather than lose the line.
    const seen = new WeakSet<object>();
    return JSON.stringify(line, (_key, value: unknown) => {
      const v = plain(value);
      if (typeof v === 'object' && v !== null) {
        if (seen.has(v)) return '[circular]';
        seen.add(v);
      }
      return v;
    });
  }
}

export interface JsonLoggerOptions {
  level?: LogLevel;
  /** Receives each line without its newline; stdout by default. */
  write?: (line: string) => void;
}

/** The Runtime logger: the SDK's DefaultLogger (level filter, timestamps) writing JSON lines. */
export function createJsonLogger(opts: JsonLoggerOptions = {}): DefaultLogger {
  const write = opts.write ?? ((line: string) => void process.stdout.write(`${line}\n`));
  return new DefaultLogger(opts.level ?? 'INFO', (entry) => write(jsonLogLine(entry)));
}

/** The backfill_id of an activity's arguments: the spec comes first. */
export function backfillIdOfArgs(args: readonly unknown[]): string | undefined {
  const first = args[0] as { backfill_id?: unknown } | null | undefined;
  return typeof first === 'object' && first !== null && typeof first.backfill_id === 'string'
    ? first.backfill_id
    : undefined;
}

/**
 * Adds backfill_id to the log attributes of every line an activity logs. The factory runs once per
 * activity execution, so the id captured by `execute` belongs to that execution only.
 */
export const backfillLogAttributes: ActivityInterceptorsFactory = () => {
  let backfillId: string | undefined;
  return {
    inbound: {
      execute(input, next) {
        backfillId = backfillIdOfArgs(input.args);
        return next(input);
      },
    },
    outbound: {
      getLogAttributes(input, next) {
        return next(backfillId === undefined ? input : { ...input, backfill_id: backfillId });
      },
    },
  };
};
