/**
 * Turns a spec object (already read from YAML) into the runtime BackfillSpec, or a list of issues
 * that each name a YAML path and say what to do. Pure: reading sql_file is an injected function.
 */
import type { z } from 'zod';
import { SPEC_LIMITS } from '../../contracts/limits';
import { transformProblems } from '../transform-sql';
import { specSchema, type BackfillSpec, type Measure, type ParsedSpec } from './schema';
import { editDistance, formatBinarySize, shown } from './values';

export interface SpecIssue {
  /** YAML path, e.g. execution.max_concurrency or approval.approvers[0]. */
  path: string;
  message: string;
}

export type ParseResult = { ok: true; spec: BackfillSpec; warnings: SpecIssue[] } | { ok: false; issues: SpecIssue[] };

export interface ParseOptions {
  /**
   * Reads transform.sql_file (resolved against the spec's folder by the caller). Throws when it
   * cannot; the Error's message becomes the issue at transform.sql_file, so it says what to do.
   */
  readSqlFile?: (path: string) => string;
}

/**
 * Problems listed for one spec. A garbage file can raise thousands; the first ones are enough to
 * act on, and listing them all (each with its YAML line) would only slow the refusal down.
 */
export const MAX_LISTED_ISSUES = 50;

/** `issues`, cut to MAX_LISTED_ISSUES with a last line saying how many more there are. */
export function listedIssues<T extends SpecIssue>(issues: T[]): Array<T | SpecIssue> {
  if (issues.length <= MAX_LISTED_ISSUES) return issues;
  const more = issues.length - MAX_LISTED_ISSUES;
  return [
    ...issues.slice(0, MAX_LISTED_ISSUES),
    {
      path: '(more)',
      message: `${more} more problem${more === 1 ? '' : 's'} not listed; fix the ones above and validate again`,
    },
  ];
}

export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, part) => {
    if (typeof part === 'number') return `${acc}[${part}]`;
    const key = String(part);
    return acc ? `${acc}.${key}` : key;
  }, '');
}

type SchemaNode = { def?: Record<string, unknown>; shape?: Record<string, unknown> } | undefined;

/** Strips optional/default/pipe wrappers (not records: a record is entered only by consuming a key). */
function unwrap(s: SchemaNode): SchemaNode {
  for (let i = 0; i < 10 && s?.def && !s.shape; i++) {
    const inner = (s.def.innerType ?? s.def.in) as SchemaNode;
    if (!inner) break;
    s = inner;
  }
  return s;
}

/** Field names of the object schema at `path`, for "did you mean" hints. */
function shapeKeys(schema: unknown, path: readonly PropertyKey[]): string[] {
  let s = unwrap(schema as SchemaNode);
  for (const part of path) {
    if (s?.def?.type === 'record') s = s.def.valueType as SchemaNode;
    else if (typeof part === 'number') s = s?.def?.element as SchemaNode;
    else s = s?.shape?.[String(part)] as SchemaNode;
    s = unwrap(s);
  }
  return Object.keys(s?.shape ?? {});
}

/** Keys longer than this get the list of known fields instead of a "did you mean" hint. */
const HINT_KEY_CHARS = 64;

const isUnder = (path: readonly PropertyKey[], parent: readonly PropertyKey[]) =>
  path.length > parent.length && parent.every((p, i) => path[i] === p);

/**
 * The zod error's issues as SpecIssues (YAML path and what to do); `schema` is the schema that was
 * parsed, for the "did you mean" hints on unknown keys.
 */
export function issuesFrom(error: z.ZodError, schema: unknown = specSchema): SpecIssue[] {
  // A list or map refused as too large is one problem, not one per entry.
  const tooLarge = error.issues
    .filter((i) => (i.code === 'too_big' && i.origin === 'array') || (i.code === 'custom' && i.params?.tooLarge))
    .map((i) => i.path);
  const kept = error.issues.filter((i) => !tooLarge.some((p) => isUnder(i.path, p)));
  return kept.flatMap((issue): SpecIssue[] => {
    if (issue.code === 'unrecognized_keys') {
      const known = shapeKeys(schema, issue.path);
      // Hints only for keys that will be listed: thousands of unknown keys cost no edit distances.
      return issue.keys.map((key, index) => {
        const best = index >= MAX_LISTED_ISSUES || key.length > HINT_KEY_CHARS ? undefined : known
          .map((k) => [k, editDistance(k, key)] as const)
          .sort((a, b) => a[1] - b[1])[0];
        const hint =
          best && best[1] <= Math.max(2, Math.floor(key.length / 3))
            ? `did you mean ${best[0]}?`
            : `known fields: ${known.join(', ')}`;
        return { path: formatPath([...issue.path, key]), message: `unknown field (typos are not ignored); ${hint}` };
      });
    }
    if ((issue.code === 'invalid_type' || issue.code === 'invalid_union') && issue.input === undefined) {
      const expected = issue.code === 'invalid_type' ? ` (${issue.expected})` : '';
      return [{ path: formatPath(issue.path), message: `is required${expected}; add it to the spec` }];
    }
    if (
      (issue.code === 'invalid_type' || issue.code === 'invalid_union') &&
      typeof issue.input === 'number' &&
      !Number.isFinite(issue.input)
    ) {
      return [{ path: formatPath(issue.path), message: `must be a finite number, got ${issue.input}` }];
    }
    if (issue.code === 'invalid_type') {
      return [{ path: formatPath(issue.path), message: `must be ${issue.expected}, got ${shown(issue.input)}` }];
    }
    if (issue.code === 'invalid_value' && 'values' in issue) {
      return [
        {
          path: formatPath(issue.path),
          message: `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`,
        },
      ];
    }
    return [{ path: formatPath(issue.path), message: issue.message }];
  });
}

function measuresOf(v: ParsedSpec['validation']): Measure[] {
  const measures: Measure[] = Object.entries(v.measures).map(([column, m]) => ({ column, ...m }));
  if (v.revenue_delta_expected && !v.measures[v.revenue_measure]) {
    measures.unshift({ column: v.revenue_measure, expected_delta: v.revenue_delta_expected, abs_tolerance: 0.005 });
  }
  return measures;
}

export function shadowTableFor(table: string, backfillId: string): string {
  return `${table}__shadow_${backfillId.replace(/-/g, '_')}`;
}

/**
 * Paths of "__proto__" keys anywhere in `input`. A YAML or JSON loader keeps one as an own
 * property, but copying it into a plain object (as zod does) sets the prototype instead, so the
 * entry would vanish without a word. Iterative, and each object is visited once (aliases share).
 */
export function protoKeyPaths(input: unknown): PropertyKey[][] {
  const found: PropertyKey[][] = [];
  const seen = new Set<object>();
  const stack: Array<[unknown, PropertyKey[]]> = [[input, []]];
  while (stack.length) {
    const [value, path] = stack.pop()!;
    if (typeof value !== 'object' || value === null || seen.has(value)) continue;
    seen.add(value);
    const proto = Object.getPrototypeOf(value);
    const entries: Array<[PropertyKey, unknown]> = Array.isArray(value)
      ? value.map((v, i) => [i, v])
      : proto === Object.prototype || proto === null ? Object.entries(value) : [];
    for (const [key, child] of entries.reverse()) {
      if (key === '__proto__') found.push([...path, key]);
      else stack.push([child, [...path, key]]);
    }
  }
  return found;
}

/** Size of the runtime spec as the workflow's input; a larger payload would fail at workflow start. */
function payloadProblem(spec: BackfillSpec): SpecIssue | null {
  const bytes = (v: unknown) => new TextEncoder().encode(JSON.stringify(v)).byteLength;
  const total = bytes(spec);
  if (total <= SPEC_LIMITS.specPayloadBytes) return null;
  const [largest, size] = Object.entries(spec)
    .map(([key, value]) => [key, bytes(value)] as const)
    .sort((a, b) => b[1] - a[1])[0]!;
  const source = largest === 'transform' && spec.transform?.sql_file ? ' (the SQL read from transform.sql_file)' : '';
  return {
    path: largest,
    message:
      `the parsed spec is ${total} bytes as JSON (${formatBinarySize(total)}), ` +
      `above the maximum ${SPEC_LIMITS.specPayloadBytes} bytes (${formatBinarySize(SPEC_LIMITS.specPayloadBytes)}) ` +
      `that a workflow input may carry; ${largest}${source} is ${formatBinarySize(size)} of it, shorten it`,
  };
}

/** An issue per "__proto__" key in `input` (protoKeyPaths), saying to rename it. */
export function protoKeyIssues(input: unknown): SpecIssue[] {
  return protoKeyPaths(input).map((path) => ({
    path: formatPath(path),
    message:
      'is a "__proto__" key, which a JavaScript object cannot hold as data ' +
      '(it would be dropped silently); rename or remove it',
  }));
}

export function parseSpec(input: unknown, options: ParseOptions = {}): ParseResult {
  const protoIssues = protoKeyIssues(input);
  const parsed = specSchema.safeParse(input, { reportInput: true });
  if (!parsed.success) return { ok: false, issues: listedIssues([...protoIssues, ...issuesFrom(parsed.error)]) };
  if (protoIssues.length) return { ok: false, issues: listedIssues(protoIssues) };
  const p = parsed.data;
  const issues: SpecIssue[] = [];
  const warnings: SpecIssue[] = [];

  let transform: BackfillSpec['transform'];
  if (p.transform) {
    let sql = p.transform.sql;
    const where = p.transform.sql_file ? 'transform.sql_file' : 'transform.sql';
    if (p.transform.sql_file) {
      try {
        if (!options.readSqlFile) {
          throw new Error(
            'no file reader was given; load the spec with client/load-spec.ts, ' +
              'which reads it relative to the spec file',
          );
        }
        sql = options.readSqlFile(p.transform.sql_file);
      } catch (e) {
        issues.push({
          path: 'transform.sql_file',
          message: `cannot read ${shown(p.transform.sql_file)}: ${e instanceof Error ? e.message : String(e)}`,
        });
      }
    }
    if (sql !== undefined && sql.length > SPEC_LIMITS.sqlChars) {
      issues.push({
        path: where,
        message:
          `is ${sql.length} characters, above the maximum ${SPEC_LIMITS.sqlChars}; ` +
          `a transform is one SELECT for one partition`,
      });
      sql = undefined;
    }
    if (sql !== undefined) {
      for (const problem of transformProblems(sql)) issues.push({ path: where, message: problem });
      transform = {
        sql,
        code_version: p.transform.code_version,
        ...(p.transform.sql_file ? { sql_file: p.transform.sql_file } : {}),
      };
    }
  }

  const shadow = p.target.shadow_table ?? shadowTableFor(p.target.table, p.backfill_id);
  if (!p.target.shadow_table && shadow.split('.').at(-1)!.length > 128) {
    issues.push({
      path: 'target.shadow_table',
      message: 'the derived shadow name is too long; set target.shadow_table explicitly',
    });
  }
  if ([p.rollback.snapshot, p.publish.view].some((t) => t?.toLowerCase() === shadow.toLowerCase())) {
    issues.push({
      path: 'target.shadow_table',
      message: `"${shadow}" collides with rollback.snapshot or publish.view; choose another name`,
    });
  }

  const measures = measuresOf(p.validation);
  if (measures.length === 0) {
    warnings.push({
      path: 'validation.measures',
      message: 'no measure has an expected delta; aggregate reconciliation will only compare row counts',
    });
  }
  if (p.execution.pause_during_live_pipeline && !p.execution.live_pipeline && p.execution.pause_windows.length === 0) {
    warnings.push({
      path: 'execution.pause_during_live_pipeline',
      message:
        'is true but no live_pipeline or pause_windows are set; ' +
        'only live_pipeline_started/finished signals will pause the backfill',
    });
  }
  if (issues.length) return { ok: false, issues };

  const { transform: _t, ...rest } = p;
  const spec: BackfillSpec = {
    ...rest,
    target: { ...p.target, shadow_table: shadow },
    ...(transform ? { transform } : {}),
    measures,
  };
  const tooLarge = payloadProblem(spec);
  if (tooLarge) return { ok: false, issues: [tooLarge] };
  return { ok: true, warnings, spec };
}

/** What a run needs beyond a valid spec; each problem names the YAML path to add. */
export function runnableProblems(spec: BackfillSpec): SpecIssue[] {
  const problems: SpecIssue[] = [];
  if (!spec.transform) {
    problems.push({
      path: 'transform',
      message: 'is missing; add transform.sql or transform.sql_file with transform.code_version',
    });
  }
  if (!spec.target.unique_key) {
    problems.push({
      path: 'target.unique_key',
      message: 'is missing; list the columns that identify a row, e.g. [revenue_date, merchant_id]',
    });
  }
  if (!spec.approval) {
    problems.push({ path: 'approval.approvers', message: 'is missing; list who may approve publication' });
  }
  return problems;
}
