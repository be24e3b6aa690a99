/**
 * Reads a spec file: YAML syntax errors and schema issues both come back as one InvalidSpec
 * failure whose message lists every problem with its YAML path and line.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isMap, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import { BackfillError, BackfillFailure } from '../contracts/errors';
import { parseSpec, runnableProblems, type SpecIssue } from '../domain/spec/parse';
import type { BackfillSpec } from '../domain/spec/schema';

export interface LoadedSpec {
  spec: BackfillSpec;
  warnings: SpecIssue[];
  /** Problems that do not invalidate the spec but block a run (e.g. no transform yet). */
  notRunnable: SpecIssue[];
  file: string;
}

export interface LocatedIssue extends SpecIssue {
  line?: number;
}

function splitPath(path: string): Array<string | number> {
  return [...path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)].map((m) => (m[2] !== undefined ? Number(m[2]) : m[1]!));
}

/** Line of the deepest YAML node that exists along `path` (a key that is unknown still has one). */
function lineOf(doc: Document, counter: LineCounter, path: string): number | undefined {
  const parts = splitPath(path);
  for (let n = parts.length; n >= 0; n--) {
    const parentPath = parts.slice(0, Math.max(0, n - 1));
    const last = parts[n - 1];
    const parent = n === 0 ? doc.contents : parentPath.length ? doc.getIn(parentPath, true) : doc.contents;
    if (isMap(parent) && last !== undefined) {
      const pair = parent.items.find((i) => isScalar(i.key) && i.key.value === last);
      const offset = (pair?.key as { range?: [number, number, number] } | undefined)?.range?.[0];
      if (offset !== undefined) return counter.linePos(offset).line;
    }
    const node = doc.getIn(parts.slice(0, n), true) as { range?: [number, number, number] } | undefined;
    if (node?.range) return counter.linePos(node.range[0]).line;
  }
  return undefined;
}

export function formatIssues(file: string, issues: LocatedIssue[]): string {
  return [
    `${file}: the spec is invalid (${issues.length} problem${issues.length === 1 ? '' : 's'}):`,
    ...issues.map((i) => `  - ${i.path || '(top level)'}${i.line ? ` (line ${i.line})` : ''}: ${i.message}`),
  ].join('\n');
}

export function loadSpecText(text: string, file: string): LoadedSpec {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) {
    const issues = doc.errors.map((e) => ({
      path: '(yaml)',
      line: counter.linePos(e.pos[0]).line,
      message: `${e.message.split('\n')[0]}; fix the YAML syntax`,
    }));
    throw new BackfillFailure(BackfillError.InvalidSpec, formatIssues(file, issues), { issues });
  }
  const result = parseSpec(doc.toJS(), {
    readSqlFile: (p) => readFileSync(resolve(dirname(file), p), 'utf8'),
  });
  if (!result.ok) {
    const issues = result.issues.map((i) => ({ ...i, line: lineOf(doc, counter, i.path) }));
    throw new BackfillFailure(BackfillError.InvalidSpec, formatIssues(file, issues), { issues });
  }
  return { spec: result.spec, warnings: result.warnings, notRunnable: runnableProblems(result.spec), file };
}

export function loadSpecFile(file: string): LoadedSpec {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new BackfillFailure(BackfillError.InvalidSpec, `${file}: cannot read the spec file (${(e as NodeJS.ErrnoException).code ?? e}); check the path`);
  }
  return loadSpecText(text, file);
}

/** Like loadSpecFile, but a spec that cannot run yet is refused with SpecNotRunnable. */
export function loadRunnableSpec(file: string): LoadedSpec {
  const loaded = loadSpecFile(file);
  if (loaded.notRunnable.length) {
    throw new BackfillFailure(
      BackfillError.SpecNotRunnable,
      formatIssues(file, loaded.notRunnable).replace('the spec is invalid', 'the spec is valid but cannot run yet'),
      { issues: loaded.notRunnable },
    );
  }
  return loaded;
}
