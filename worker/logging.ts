/**
 * Structured logs: one JSON object per line (pino), every line about a backfill carrying its
 * backfill_id, so `grep`, Loki or CloudWatch can follow one backfill through workflow and activity
 * lines. The Temporal SDK's logger (the Runtime's, which also receives Core's forwarded lines) is a
 * DefaultLogger whose entries are handed to pino: ts (the entry's own time), level (the SDK's names),
 * msg, backfill_id and the SDK's meta.
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
import { pino, type DestinationStream, type Logger as Pino } from 'pino';
import { workflowIdFor } from '../contracts/settings';

const WORKFLOW_ID_PREFIX = workflowIdFor('');

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

/**
 * What a line says about an error: its class, message, the failure type of the backfill vocabulary
 * (BackfillError) and a driver's code, the stack and the causes. pino's own error serializer would
 * put the class name where a Temporal failure keeps its type.
 */
function errorFields(value: unknown, depth = 0): unknown {
  if (!(value instanceof Error)) return value;
  const e = value as Error & { type?: unknown; code?: unknown; cause?: unknown };
  return {
    name: e.name,
    message: e.message,
    ...(typeof e.type === 'string' && { type: e.type }),
    ...(typeof e.code === 'string' && { code: e.code }),
    ...(e.stack && { stack: e.stack }),
    ...(e.cause !== undefined && depth < 3 && { cause: errorFields(e.cause, depth + 1) }),
  };
}

/** The line's fields besides level and msg: ts, backfill_id, then the SDK's meta. */
function fieldsOf(entry: LogEntry): Record<string, unknown> {
  const meta = entry.meta ?? {};
  const fields: Record<string, unknown> = { ts: new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString() };
  const backfillId = backfillIdOf(meta);
  if (backfillId !== undefined) fields.backfill_id = backfillId;
  for (const [key, value] of Object.entries(meta)) if (!RESERVED.has(key)) fields[key] = value;
  return fields;
}

export interface JsonLoggerOptions {
  level?: LogLevel;
  /**
   * Where the lines go; stdout by default, written synchronously (no transport, no worker thread:
   * the worker runs as one bundled file, and a line logged just before an exit is not lost).
   */
  destination?: DestinationStream;
}

/** The pino logger behind the worker's lines. */
function createPino(opts: JsonLoggerOptions = {}): Pino {
  return pino(
    {
      level: (opts.level ?? 'INFO').toLowerCase(),
      // No pid/hostname; the time is the SDK entry's own (Core's lines arrive in batches), set as ts.
      base: undefined,
      timestamp: false,
      formatters: { level: (label) => ({ level: label.toUpperCase() }) },
      serializers: { error: errorFields, err: errorFields },
      // The base64 task token the SDK attaches: long and useless in a log line.
      redact: { paths: ['taskToken'], remove: true },
    },
    opts.destination ?? pino.destination({ dest: 1, sync: true }),
  );
}

/** The Runtime logger: the SDK's DefaultLogger (level filter, Core's timestamps) forwarding to pino. */
export function createJsonLogger(opts: JsonLoggerOptions = {}): DefaultLogger {
  const log = createPino(opts);
  return new DefaultLogger(opts.level ?? 'INFO', (entry) =>
    log[entry.level.toLowerCase() as Lowercase<LogLevel>](fieldsOf(entry), entry.message),
  );
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
