/**
 * Turns a release graph spec (already read from YAML) into a ReleaseGraph, or a list of issues that
 * each name a YAML path (nodes[2].transform.sql_file) and say what to do. Each node becomes one
 * BackfillSpec through parseSpec, so every rule of a single spec applies to it, its issues re-pathed
 * to the node (or to the release field they came from); what belongs to the graph is checked here:
 * refs, node ids, tables shared between nodes, cycles, grains and the range at each node's grain.
 * Pure: reading sql_file is the injected function of ParseOptions.
 */
import { excerpt, GRAPH_LIMITS } from '../../contracts/limits';
import type { ReleaseGraph, ReleaseNode } from '../../contracts/release';
import {
  GRAIN_ORDER,
  isSameOrCoarser,
  ordinalAtMs,
  ordinalStartMs,
  partitionLabel,
  rangeOrdinals,
  type Grain,
} from '../partitions';
import {
  issuesFrom,
  listedIssues,
  parseSpec,
  protoKeyIssues,
  runnableProblems,
  shadowTableFor,
  type ParseOptions,
  type SpecIssue,
} from '../spec/parse';
import { formatBinarySize, shown } from '../spec/values';
import { sqlPieces } from '../transform-sql';
import { topologicalOrder } from './plan';
import { graphSchema, NODE_ID, type GraphInput, type NodeInput, type ParsedGraph } from './schema';

export type GraphParseResult =
  | {
    ok: true;
    graph: ReleaseGraph;
    warnings: SpecIssue[];
    /** Each node's place in the spec as written (graph.nodes is in run order): id → index in nodes. */
    written: Record<string, number>;
  }
  | { ok: false; issues: SpecIssue[] };

/** A node's backfill_id. */
export const nodeBackfillId = (releaseId: string, nodeId: string): string => `${releaseId}--${nodeId}`;

/** A node's default restore point: <target.table>_pre_<release_id with "-" as "_">. */
export const snapshotTableFor = (table: string, releaseId: string): string =>
  `${table}_pre_${releaseId.replace(/-/g, '_')}`;

/** One `{{ ref('schema.table') }}` in a transform, by character offsets. */
export interface RefUse {
  /** The table as written inside the quotes, trimmed. */
  table: string;
  start: number;
  end: number;
}

export interface RefScan {
  refs: RefUse[];
  /** `{{ … }}` in the SQL's code that is not a ref, as written (cut to 80 characters). */
  strays: Array<{ text: string; start: number; end: number }>;
}

const REF = /\{\{\s*ref\s*\(\s*(?:'([^'\n]*)'|"([^"\n]*)")\s*\)\s*\}\}/iy;
const REF_EXAMPLE = "{{ ref('finance.daily_revenue') }}";

/**
 * The refs in `sql`, and any other `{{` placeholder, looking only at code: a ref inside a comment or
 * a string literal is text, not a dependency. Whitespace inside the braces and either quote work:
 * {{ref("finance.daily_revenue")}} is a ref.
 */
export function scanRefs(sql: string): RefScan {
  const skipped: Array<[number, number]> = [];
  const parts = sqlPieces(sql);
  if (Array.isArray(parts)) {
    let at = 0;
    for (const p of parts) {
      if (p.kind === 'skip') skipped.push([at, at + p.text.length]);
      at += p.text.length;
    }
  }
  // Offsets only grow, so one pointer walks the skipped pieces: linear in the SQL's length.
  let k = 0;
  const inText = (i: number) => {
    while (k < skipped.length && skipped[k]![1] <= i) k += 1;
    return k < skipped.length && i >= skipped[k]![0];
  };
  const scan: RefScan = { refs: [], strays: [] };
  for (let i = sql.indexOf('{{'); i !== -1; i = sql.indexOf('{{', i)) {
    if (inText(i)) {
      i += 2;
      continue;
    }
    REF.lastIndex = i;
    const m = REF.exec(sql);
    if (m) {
      scan.refs.push({ table: (m[1] ?? m[2] ?? '').trim(), start: i, end: i + m[0].length });
      i += m[0].length;
    } else {
      const close = sql.indexOf('}}', i);
      const end = close === -1 || close - i > 200 ? Math.min(sql.length, i + 2) : close + 2;
      const text = sql.slice(i, close === -1 ? Math.min(sql.length, i + 80) : Math.min(close + 2, i + 80));
      scan.strays.push({ text, start: i, end });
      i = end;
    }
  }
  return scan;
}

/** `sql` with each ref and stray replaced by what `name` returns for it (offsets from scanRefs). */
function substitute(sql: string, scan: RefScan, name: (ref: RefUse | null) => string): string {
  const spans = [
    ...scan.refs.map((r) => ({ start: r.start, end: r.end, to: name(r) })),
    ...scan.strays.map((s) => ({ start: s.start, end: s.end, to: name(null) })),
  ].sort((a, b) => a.start - b.start);
  let out = '';
  let at = 0;
  for (const s of spans) {
    out += sql.slice(at, s.start) + s.to;
    at = s.end;
  }
  return out + sql.slice(at);
}

/** A table name found in the SQL's code (not in a string or comment), as a whole dotted name. */
function namesTable(sql: string, table: string): boolean {
  const parts = sqlPieces(sql);
  const code = Array.isArray(parts) ? parts.filter((p) => p.kind === 'code').map((p) => p.text).join(' ') : sql;
  const escaped = table.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[^A-Za-z0-9_$."])${escaped}(?![A-Za-z0-9_$])`, 'i').test(code);
}

/** A boundary as a person writes it at the grain: 2025-01-01, 2025-01-01T07:00, 2025-01. */
function written(ordinal: number, grain: Grain): string {
  const label = partitionLabel(ordinal, grain);
  if (grain === 'hour') return label.slice(0, 16);
  if (grain === 'month') return label.slice(0, 7);
  return label;
}

type Raw = Record<string, unknown>;
const rawOf = (v: unknown): Raw => (typeof v === 'object' && v !== null ? (v as Raw) : {});

/** Drops keys whose value is undefined, so a spec's defaults apply to them. */
const compact = (o: Raw): Raw => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

interface Draft {
  i: number;
  /** `nodes[i]` */
  at: string;
  id: string;
  idWritten: boolean;
  idProblem: boolean;
  shadowWritten: boolean;
  snapshotWritten: boolean;
  grain: Grain;
  table: string;
  shadow: string;
  snapshot: string;
  view?: string;
  inputs: string[];
  waitsFor: 'partition' | 'range_to_date';
  /** nodes[i].transform.sql or nodes[i].transform.sql_file, when the node has a transform. */
  sqlPath?: string;
  text?: string;
  readError?: unknown;
  scan?: RefScan;
  /** Indices of the nodes it refs, in the order they first appear; never itself. */
  upstream: number[];
  /** Its range at its grain, inclusive. */
  range: { start: string; end: string };
  rangeProblem: boolean;
}

const REQUIRED = /^is required\b/;

/**
 * Where a problem parseSpec found in node `d`'s spec belongs in the graph spec: a field the release
 * gives every node (owner, reason, approval, rollback window) at the release's path; execution at the
 * level that set the field; everything else under the node.
 */
function graphIssue(issue: SpecIssue, d: Draft, release: Raw, node: Raw, releaseGrain: Grain): SpecIssue | null {
  const { path, message } = issue;
  if (path.startsWith('(')) return issue;
  const [head, second] = path.split(/[.[]/);
  switch (head) {
    case 'owner':
    case 'reason':
    case 'approval':
      return issue;
    case 'backfill_id':
      return d.idProblem ? null : { path: `${d.at}.id`, message };
    case 'source_range':
      if (d.rangeProblem) return null;
      return d.grain === releaseGrain ? issue : { path: `${d.at}.grain`, message };
    case 'execution': {
      const everyNode = "set it in execution (for every node) or in each node's execution";
      if (!second) {
        return REQUIRED.test(message)
          ? { path: 'execution', message: `is required; ${everyNode}, with partitions_per_batch and max_concurrency` }
          : { path: `${d.at}.execution`, message };
      }
      if (second in rawOf(node.execution)) return { path: `${d.at}.${path}`, message };
      if (second in rawOf(release.execution)) return issue;
      return REQUIRED.test(message) ? { path, message: `${message.replace(/;.*$/, '')}; ${everyNode}` } : issue;
    }
    case 'rollback':
      if (second === 'window' || second === 'cleanup' || second === 'operators') return issue;
      return { path: `${d.at}.${path}`, message };
    default:
      return { path: `${d.at}.${path}`, message };
  }
}

const dedupe = (issues: SpecIssue[]): SpecIssue[] => {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const key = `${i.path}\n${i.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
};

/** Ids, grains, tables, inputs and transform text of every node, with the issues of each alone. */
function draftsOf(g: ParsedGraph, options: ParseOptions, issues: SpecIssue[]): Draft[] {
  const releaseGrain = g.source_range.grain as Grain;
  const rel = rangeOrdinals(g.source_range.start, g.source_range.end, releaseGrain)!;
  const startMs = ordinalStartMs(rel.first, releaseGrain);
  const endMs = ordinalStartMs(rel.last + 1, releaseGrain);
  return g.nodes.map((n, i): Draft => {
    const at = `nodes[${i}]`;
    const id = n.id ?? n.target.table.split('.').at(-1)!.toLowerCase();
    const grain = (n.grain ?? releaseGrain) as Grain;
    const d: Draft = {
      i,
      at,
      id,
      idWritten: n.id !== undefined,
      idProblem: false,
      shadowWritten: n.target.shadow_table !== undefined,
      snapshotWritten: n.rollback?.snapshot !== undefined,
      grain,
      table: n.target.table,
      shadow: n.target.shadow_table ?? shadowTableFor(n.target.table, nodeBackfillId(g.release_id, id)),
      snapshot: n.rollback?.snapshot ?? snapshotTableFor(n.target.table, g.release_id),
      ...(n.publish.view ? { view: n.publish.view } : {}),
      inputs: n.inputs,
      waitsFor: n.waits_for,
      upstream: [],
      range: { start: '', end: '' },
      rangeProblem: false,
    };
    if (!d.idWritten && !NODE_ID.test(id)) {
      d.idProblem = true;
      const example = id.replace(/[^a-z0-9_]+/g, '_').slice(0, GRAPH_LIMITS.nodeIdChars) || 'node';
      issues.push({
        path: `${at}.id`,
        message:
          `is not set, and its default ${shown(id)} (the last part of target.table) is not a node id; ` +
          `set id: 1–${GRAPH_LIMITS.nodeIdChars} lowercase letters, digits or "_", e.g. ${example}`,
      });
    }
    if (!n.rollback?.snapshot && d.snapshot.split('.').at(-1)!.length > 128) {
      issues.push({
        path: `${at}.rollback.snapshot`,
        message: `the derived restore point ${shown(d.snapshot)} is too long; set ${at}.rollback.snapshot explicitly`,
      });
    }

    // The release's range at the node's grain: whole node partitions only.
    const first = ordinalAtMs(startMs, grain);
    const last = ordinalAtMs(endMs - 1, grain);
    d.range = { start: partitionLabel(first, grain), end: partitionLabel(last, grain) };
    if (!isSameOrCoarser(grain, releaseGrain)) {
      d.rangeProblem = true;
      issues.push({
        path: `${at}.grain`,
        message:
          `is ${grain}, finer than the release's source_range.grain ${releaseGrain}; write source_range at the ` +
          `finest grain of any node: grain: ${grain}, start: ${written(first, grain)}, end: ${written(last, grain)}`,
      });
    } else if (grain !== releaseGrain) {
      const problems: string[] = [];
      if (ordinalStartMs(first, grain) !== startMs) {
        const before = ordinalAtMs(ordinalStartMs(first, grain), releaseGrain);
        const after = ordinalAtMs(ordinalStartMs(first + 1, grain), releaseGrain);
        problems.push(
          `source_range.start ${g.source_range.start} is inside a ${grain}; start on a ${grain}'s first ` +
            `${releaseGrain}, e.g. start: ${written(before, releaseGrain)} (or ${written(after, releaseGrain)})`,
        );
      }
      if (ordinalStartMs(last + 1, grain) !== endMs) {
        const within = ordinalAtMs(ordinalStartMs(last + 1, grain) - 1, releaseGrain);
        const before = ordinalAtMs(ordinalStartMs(last, grain) - 1, releaseGrain);
        problems.push(
          `source_range.end ${g.source_range.end} is inside a ${grain}; end on a ${grain}'s last ` +
            `${releaseGrain}, e.g. end: ${written(within, releaseGrain)} (or ${written(before, releaseGrain)})`,
        );
      }
      if (problems.length) {
        d.rangeProblem = true;
        issues.push({
          path: `${at}.grain`,
          message: `is ${grain}, so the node rewrites whole ${grain}s, but ${problems.join('; and ')}`,
        });
      }
    }

    if (n.transform) {
      const file = n.transform.sql_file;
      d.sqlPath = `${at}.transform.${file !== undefined ? 'sql_file' : 'sql'}`;
      if (file === undefined) {
        d.text = n.transform.sql;
      } else {
        try {
          if (!options.readSqlFile) {
            throw new Error(
              'no file reader was given; load the release with client/load-graph.ts, ' +
                'which reads it relative to the spec file',
            );
          }
          d.text = options.readSqlFile(file);
        } catch (e) {
          d.readError = e;
        }
      }
      if (d.text !== undefined) d.scan = scanRefs(d.text);
    }
    return d;
  });
}

/** Two nodes with one id, and any table name used twice across nodes (target, shadow, snapshot, view). */
function sharedNames(drafts: Draft[], issues: SpecIssue[]): void {
  const ids = new Map<string, Draft>();
  for (const d of drafts) {
    const other = ids.get(d.id);
    if (!other) {
      ids.set(d.id, d);
      continue;
    }
    const defaulted = d.idWritten ? '' : ' (its default, the last part of target.table)';
    issues.push({
      path: `${d.at}.id`,
      message:
        `${shown(d.id)}${defaulted} is also the id of ${other.at}; give each node its own id, ` +
        `e.g. id: ${`${d.id}_${d.i}`.slice(-GRAPH_LIMITS.nodeIdChars)}`,
    });
  }

  const owners = new Map<string, { d: Draft; field: string }>();
  for (const d of drafts) {
    const names = [
      ['target.table', d.table, true],
      ['target.shadow_table', d.shadow, d.shadowWritten],
      ['rollback.snapshot', d.snapshot, d.snapshotWritten],
      ['publish.view', d.view, true],
    ] as const;
    let sameTable = false;
    for (const [field, name, written] of names) {
      if (!name) continue;
      const key = name.toLowerCase();
      const prev = owners.get(key);
      if (!prev) {
        owners.set(key, { d, field });
      } else if (prev.d !== d && !(sameTable && !written)) {
        // A name derived from a table already reported as shared would only repeat that problem.
        sameTable ||= field === 'target.table' && prev.field === 'target.table';
        issues.push({
          path: `${d.at}.${field}`,
          message:
            field === 'target.table' && prev.field === 'target.table'
              ? `${name} is also the target of ${prev.d.at} (${prev.d.id}); a release rewrites each table once: ` +
                `merge the two transforms into one node, or release them separately`
              : `${shown(name)} is also ${prev.d.at}.${prev.field}; every table of a release must be distinct, ` +
                `so name another one here or there`,
        });
      }
    }
  }
}

/** Refs resolved to nodes, other placeholders refused, and inputs checked against the release's tables. */
function resolveRefs(drafts: Draft[], issues: SpecIssue[], warnings: SpecIssue[]): void {
  const byTable = new Map(drafts.map((d) => [d.table.toLowerCase(), d]));
  const created = new Map<string, { d: Draft; field: string }>();
  for (const d of drafts) {
    created.set(d.shadow.toLowerCase(), { d, field: 'target.shadow_table' });
    created.set(d.snapshot.toLowerCase(), { d, field: 'rollback.snapshot' });
  }
  const tables = drafts.map((d) => d.table).join(', ');
  for (const d of drafts) {
    d.inputs.forEach((input, k) => {
      const made = created.get(input.toLowerCase());
      if (made) {
        issues.push({
          path: `${d.at}.inputs[${k}]`,
          message:
            `${input} is ${made.d.at}.${made.field}, a table this release creates; to read ${made.d.id}'s ` +
            `corrected rows write {{ ref('${made.d.table}') }} in the transform, and remove it from inputs`,
        });
      }
    });
    if (!d.scan || !d.sqlPath) continue;
    for (const stray of d.scan.strays) {
      issues.push({
        path: d.sqlPath,
        message:
          `uses ${shown(stray.text)}; the only placeholder in a release's transform is ` +
          `{{ ref('schema.table') }} with the table in quotes, naming another node's target.table, e.g. ${REF_EXAMPLE}`,
      });
    }
    for (const ref of d.scan.refs) {
      const up = byTable.get(ref.table.toLowerCase());
      if (!up) {
        issues.push({
          path: d.sqlPath,
          message:
            `{{ ref('${excerpt(ref.table)}') }} names no node of this release; ref one of ${tables} ` +
            `(a node's target.table), or name a production table directly and list it in ${d.at}.inputs`,
        });
      } else if (up === d) {
        issues.push({
          path: d.sqlPath,
          message:
            `{{ ref('${excerpt(ref.table)}') }} is this node's own target.table, a cycle (${d.id} → ${d.id}): a node ` +
            `cannot read the rows it is correcting. To read the published rows, name ${d.table} directly and ` +
            `list it in ${d.at}.inputs`,
        });
      } else if (!d.upstream.includes(up.i)) {
        d.upstream.push(up.i);
      }
    }
    // Another node's table named without a ref reads production's uncorrected rows: said, unless declared.
    for (const other of drafts) {
      if (other === d || d.upstream.includes(other.i)) continue;
      const declared = d.inputs.some((t) => t.toLowerCase() === other.table.toLowerCase());
      if (!declared && d.text !== undefined && namesTable(d.text, other.table)) {
        warnings.push({
          path: d.sqlPath,
          message:
            `reads ${other.table} by name, which is production's published rows, not the rows ${other.at} ` +
            `(${other.id}) corrects; write {{ ref('${other.table}') }} for the corrected rows, or list ` +
            `${other.table} in ${d.at}.inputs if the published rows are meant`,
        });
      }
    }
  }
}

/** Cycles, and nodes finer than a node they read. */
function orderProblems(drafts: Draft[], issues: SpecIssue[]): number[] | null {
  for (const d of drafts) {
    for (const u of d.upstream) {
      const up = drafts[u]!;
      if (!isSameOrCoarser(d.grain, up.grain)) {
        issues.push({
          path: `${d.at}.grain`,
          message:
            `is ${d.grain}, finer than ${up.at} (${up.id}, ${up.grain}) which it refs; a node's grain must be ` +
            `the same as or coarser than each upstream node's (${GRAIN_ORDER.join(' < ')}), so that each of its ` +
            `partitions waits for whole upstream partitions: set grain: ${up.grain}` +
            (up.grain === 'month' ? '' : ' or coarser'),
        });
      }
    }
  }
  const sorted = topologicalOrder(drafts.map((d) => ({ id: String(d.i), upstream: d.upstream.map(String) })));
  if (sorted.ok) return sorted.order.map(Number);
  for (const cycle of sorted.cycles) {
    const first = drafts[Number(cycle[0])]!;
    const before = drafts[Number(cycle.at(-2))]!;
    issues.push({
      path: first.sqlPath ?? `${first.at}.transform`,
      message:
        `is in a cycle: ${cycle.map((i) => drafts[Number(i)]!.id).join(' → ')} (each node reads the one ` +
        `before it); a release runs its nodes in dependency order, so a node cannot depend on itself: ` +
        `remove one of these refs, e.g. {{ ref('${before.table}') }} here`,
    });
  }
  return null;
}

/** The graph as JSON is bounded (each node's spec is bounded by parseSpec); the largest node is named. */
function payloadProblem(graph: ReleaseGraph, drafts: Draft[]): SpecIssue | null {
  const bytes = (v: unknown) => new TextEncoder().encode(JSON.stringify(v)).byteLength;
  const total = bytes(graph);
  if (total <= GRAPH_LIMITS.payloadBytes) return null;
  const [largest, size] = graph.nodes
    .map((n) => [n, bytes(n)] as const)
    .sort((a, b) => b[1] - a[1])[0]!;
  const at = drafts.find((d) => d.id === largest.id)?.at ?? 'nodes';
  return {
    path: at,
    message:
      `the parsed release is ${total} bytes as JSON (${formatBinarySize(total)}), above the maximum ` +
      `${GRAPH_LIMITS.payloadBytes} bytes (${formatBinarySize(GRAPH_LIMITS.payloadBytes)}); ${at} (${largest.id}) ` +
      `is ${formatBinarySize(size)} of it: shorten its transform, or split the release`,
  };
}

export function parseGraph(input: unknown, options: ParseOptions = {}): GraphParseResult {
  const protoIssues = protoKeyIssues(input);
  const parsed = graphSchema.safeParse(input, { reportInput: true });
  if (!parsed.success) {
    return { ok: false, issues: listedIssues([...protoIssues, ...issuesFrom(parsed.error, graphSchema)]) };
  }
  if (protoIssues.length) return { ok: false, issues: listedIssues(protoIssues) };
  const g = parsed.data;
  const raw = input as Raw;
  const rawRelease = input as GraphInput;
  const releaseGrain = g.source_range.grain as Grain;
  const issues: SpecIssue[] = [];
  const warnings: SpecIssue[] = [];

  const drafts = draftsOf(g, options, issues);
  sharedNames(drafts, issues);
  resolveRefs(drafts, issues, warnings);
  const order = orderProblems(drafts, issues);

  // Each node as one backfill spec: every rule of a spec applies, its issues re-pathed to the graph.
  const specs = drafts.map((d) => {
    const node = rawRelease.nodes[d.i] as NodeInput;
    const toShadow = (r: { table: string } | null) =>
      r ? (drafts.find((o) => o.table.toLowerCase() === r.table.toLowerCase() && o !== d)?.shadow ?? 'unresolved_ref')
        : 'unresolved_placeholder';
    const resolved = d.text !== undefined && d.scan ? substitute(d.text, d.scan, toShadow) : undefined;
    const transform = node.transform && compact({
      ...node.transform,
      ...(node.transform.sql !== undefined && resolved !== undefined ? { sql: resolved } : {}),
    });
    const spec = compact({
      backfill_id: nodeBackfillId(g.release_id, d.id),
      owner: rawRelease.owner,
      source_range: compact({
        start: d.range.start,
        end: d.range.end,
        grain: d.grain,
        max_partitions: rawRelease.source_range.max_partitions,
        allow_large_range: rawRelease.source_range.allow_large_range,
      }),
      target: node.target,
      reason: rawRelease.reason,
      transform,
      execution: rawRelease.execution || node.execution
        ? { ...rawOf(rawRelease.execution), ...rawOf(node.execution) }
        : undefined,
      validation: node.validation,
      approval: rawRelease.approval,
      publish: node.publish,
      rollback: compact({
        snapshot: d.snapshot,
        window: rawRelease.rollback?.window,
        cleanup: rawRelease.rollback?.cleanup,
        operators: rawRelease.rollback?.operators,
        monitors: node.rollback?.monitors,
      }),
    });
    const result = parseSpec(spec, {
      readSqlFile: () => {
        if (d.readError !== undefined) throw d.readError;
        return resolved ?? '';
      },
    });
    const repath = (list: SpecIssue[]) =>
      list.map((i) => graphIssue(i, d, raw, node as Raw, releaseGrain)).filter((i): i is SpecIssue => i !== null);
    if (!result.ok) {
      issues.push(...repath(result.issues));
      return null;
    }
    warnings.push(...repath(result.warnings));
    return result.spec;
  });
  if (issues.length || !order) return { ok: false, issues: listedIssues(dedupe(issues)) };

  const nodes = order.map((i): ReleaseNode => {
    const d = drafts[i]!;
    const toTable = (r: { table: string } | null) =>
      r ? (drafts.find((o) => o.table.toLowerCase() === r.table.toLowerCase())?.table ?? r.table) : '';
    return {
      id: d.id,
      spec: specs[i]!,
      planSql: d.text !== undefined && d.scan ? substitute(d.text, d.scan, toTable) : '',
      upstream: d.upstream.map((u) => drafts[u]!.id),
      inputs: d.inputs,
      waitsFor: d.waitsFor,
    };
  });
  const graph: ReleaseGraph = {
    release_id: g.release_id,
    owner: g.owner,
    reason: g.reason,
    source_range: { start: g.source_range.start, end: g.source_range.end, grain: releaseGrain },
    nodes,
  };
  const tooLarge = payloadProblem(graph, drafts);
  if (tooLarge) return { ok: false, issues: [tooLarge] };
  const written = Object.fromEntries(drafts.map((d) => [d.id, d.i]));
  return { ok: true, graph, warnings: dedupe(warnings), written };
}

/**
 * What the graph's nodes still need to run (runnableProblems of each node's spec), at the graph
 * spec's paths: a node's under nodes[i] (`written` from parseGraph), approval at the release's.
 */
export function graphRunnableProblems(graph: ReleaseGraph, written: Record<string, number>): SpecIssue[] {
  const problems = graph.nodes.flatMap((node) =>
    runnableProblems(node.spec).map((p) =>
      p.path.startsWith('approval')
        ? p
        : { path: `nodes[${written[node.id] ?? '?'}].${p.path}`, message: p.message }));
  // The release's own fields first, then the nodes as written.
  const order = (p: SpecIssue) => (p.path.startsWith('nodes[') ? Number(/^nodes\[(\d+)\]/.exec(p.path)?.[1]) + 1 : 0);
  return dedupe(problems).sort((a, b) => order(a) - order(b));
}
