/**
 * What reading any spec file shares (client/load-spec.ts for one backfill, client/load-graph.ts for
 * a release graph): files checked before they are read (a regular file, within SPEC_LIMITS), YAML
 * syntax errors, duplicate keys and alias bombs refused with a line, issues located on their YAML
 * line, and transform.sql_file read relative to the spec and kept inside its folder.
 */
import { closeSync, openSync, readSync, realpathSync, statSync, type Stats } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { isMap, isScalar, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import { BackfillError, BackfillFailure } from '../contracts/errors';
import { excerpt, SPEC_LIMITS } from '../contracts/limits';
import { listedIssues, type SpecIssue } from '../domain/spec/parse';
import { formatBinarySize, shown } from '../domain/spec/values';

export interface LocatedIssue extends SpecIssue {
  line?: number;
}

function splitPath(path: string): Array<string | number> {
  return [...path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)].map((m) => (m[2] !== undefined ? Number(m[2]) : m[1]!));
}

/** Line of the deepest YAML node that exists along `path` (a key that is unknown still has one). */
export function lineOf(doc: Document, counter: LineCounter, path: string): number | undefined {
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

export function formatIssues(file: string, issues: LocatedIssue[], what = 'spec'): string {
  return [
    `${file}: the ${what} is invalid (${issues.length} problem${issues.length === 1 ? '' : 's'}):`,
    ...issues.map((i) => `  - ${excerpt(i.path) || '(top level)'}${i.line ? ` (line ${i.line})` : ''}: ${i.message}`),
  ].join('\n');
}

/** The InvalidSpec failure listing `issues` (each with its path and line) for `file`. */
export const invalidSpec = (file: string, issues: LocatedIssue[], what = 'spec') =>
  new BackfillFailure(BackfillError.InvalidSpec, formatIssues(file, issues, what), { issues });

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isFIFO()) return 'a named pipe';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

export type FileRead = { text: string } | { notRegular: string } | { tooLarge: number };

/**
 * Reads `path` as UTF-8 only if it is a regular file of at most `maxBytes`, checked with stat
 * before opening (so /dev/zero or a FIFO is never opened) and again while reading (a file that
 * grows meanwhile is still cut off). Errors of the file system (ENOENT, EACCES) are thrown.
 */
export function readBoundedFile(path: string, maxBytes: number): FileRead {
  const st = statSync(path);
  if (!st.isFile()) return { notRegular: kindOf(st) };
  if (st.size > maxBytes) return { tooLarge: st.size };
  const buffer = Buffer.alloc(maxBytes + 1);
  const fd = openSync(path, 'r');
  let length = 0;
  try {
    while (length < buffer.length) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
    }
  } finally {
    closeSync(fd);
  }
  return length > maxBytes ? { tooLarge: length } : { text: buffer.toString('utf8', 0, length) };
}

/** "1048577 bytes (1 MiB), above the maximum 1048576 bytes (1 MiB)": exact, since sizes near the bound round alike. */
export const tooLarge = (size: number, max: number) =>
  `${size} bytes (${formatBinarySize(size)}), above the maximum ${max} bytes (${formatBinarySize(max)})`;

export const errnoOf = (e: unknown) =>
  (e as NodeJS.ErrnoException).code ?? (e instanceof Error ? e.message : String(e));

/**
 * transform.sql_file's reader: the path is relative to the spec file and must stay in the spec's
 * folder (after resolving symlinks), so a spec cannot make the worker read /etc/passwd or a key file
 * into a workflow input. Each refusal says what to do; parseSpec reports it at transform.sql_file.
 */
export function sqlFileReader(specFile: string): (path: string) => string {
  return (path) => {
    const folder = dirname(resolve(specFile));
    const inside = (root: string, p: string) => {
      const rel = relative(root, p);
      return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
    };
    const keepInside =
      `keep the SQL file in the spec's folder or below it and write the path relative ` +
      `to the spec, e.g. sql/fix.sql`;
    const target = resolve(folder, path);
    if (!inside(folder, target)) throw new Error(`it is outside the spec's folder ${folder}; ${keepInside}`);
    let real: string;
    let realFolder: string;
    try {
      realFolder = realpathSync(folder);
      real = realpathSync(target);
    } catch (e) {
      const code = errnoOf(e);
      throw new Error(
        code === 'ENOENT'
          ? `no such file (ENOENT) in the spec's folder ${folder}; ` +
              `the path is relative to the spec file, e.g. sql/fix.sql`
          : `${code}; check the path and its permissions`,
      );
    }
    if (!inside(realFolder, real)) {
      throw new Error(
        `it resolves (through a symbolic link) to ${real}, outside the spec's folder ${realFolder}; ${keepInside}`,
      );
    }
    let read: FileRead;
    try {
      read = readBoundedFile(real, SPEC_LIMITS.sqlFileBytes);
    } catch (e) {
      throw new Error(`${errnoOf(e)}; check the file's permissions`);
    }
    if ('notRegular' in read) {
      throw new Error(`it is ${read.notRegular}, not a regular file; name a .sql file, e.g. sql/fix.sql`);
    }
    if ('tooLarge' in read) {
      throw new Error(
        `it is ${tooLarge(read.tooLarge, SPEC_LIMITS.sqlFileBytes)} for a transform; ` +
          `a transform is one SELECT for one partition`,
      );
    }
    return read.text;
  };
}

/**
 * Where the document uses more YAML aliases than SPEC_LIMITS.yamlAliases: the first alias over the
 * limit. Counted on the syntax tree before anything is expanded; the yaml package's own check
 * (maxAliasCount) bounds how far the allowed ones expand, but resolving each alias scans the
 * document, so tens of thousands of aliases would take minutes even when each is small.
 */
function aliasOverLimit(doc: Document): Node | null {
  let count = 0;
  let over: Node | null = null;
  visit(doc, {
    Alias(_key, node) {
      count += 1;
      if (count <= SPEC_LIMITS.yamlAliases) return undefined;
      over = node;
      return visit.BREAK;
    },
  });
  return over;
}

const lineAt = (counter: LineCounter, node: { range?: [number, number, number] | null } | null | undefined) =>
  node?.range ? counter.linePos(node.range[0]).line : undefined;

/**
 * Keys that repeat within one map, compared as the JavaScript object will see them (1 and "1" are
 * the same key there). Done here in one pass: the yaml package's uniqueKeys compares every key with
 * every earlier one, which takes minutes on a map of 100,000 keys.
 */
function duplicateKeys(doc: Document, counter: LineCounter): LocatedIssue[] {
  const issues: LocatedIssue[] = [];
  visit(doc, {
    Map(_key, map) {
      const seen = new Set<string>();
      for (const { key } of map.items) {
        if (!isScalar(key)) continue;
        const name = key.value === null ? '' : String(key.value);
        if (!seen.has(name)) {
          seen.add(name);
        } else {
          issues.push({
            path: '(yaml)',
            line: lineAt(counter, key),
            message: `Map keys must be unique: ${shown(name)} is given twice in this map; keep one`,
          });
        }
      }
    },
  });
  return issues;
}

/** A spec's YAML read as data, with the means to put each later issue on its line. */
export interface SpecYaml {
  input: unknown;
  /** `issues` with the line of the YAML node at each path (the nearest one that exists). */
  locate(issues: SpecIssue[]): LocatedIssue[];
}

/**
 * Parses `text` as one YAML document for `file`; YAML syntax errors, duplicate keys and aliases
 * beyond SPEC_LIMITS.yamlAliases are thrown as InvalidSpec listing each with its line.
 */
export function readSpecYaml(text: string, file: string, what = 'spec'): SpecYaml {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: false });
  const syntax: LocatedIssue[] = doc.errors.map((e) => ({
    path: '(yaml)',
    line: counter.linePos(e.pos[0]).line,
    message: `${excerpt(e.message.split('\n')[0]!)}; fix the YAML syntax`,
  }));
  const yamlIssues = [...syntax, ...duplicateKeys(doc, counter)].sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  if (yamlIssues.length) throw invalidSpec(file, listedIssues(yamlIssues), what);
  const aliasLimit =
    `aliases are limited to ${SPEC_LIMITS.yamlAliases} per spec; write the values out instead of aliasing them`;
  const over = aliasOverLimit(doc);
  if (over) {
    throw invalidSpec(file, [
      {
        path: '(yaml)',
        line: lineAt(counter, over),
        message: `uses more than ${SPEC_LIMITS.yamlAliases} YAML aliases (*name); ${aliasLimit}`,
      },
    ], what);
  }
  let input: unknown;
  try {
    input = doc.toJS({ maxAliasCount: SPEC_LIMITS.yamlAliases });
  } catch (e) {
    // The yaml package refuses aliases of aliases that multiply past maxAliasCount (an alias bomb).
    const message =
      e instanceof Error && /alias/i.test(e.message)
        ? `YAML aliases expand to more than ${SPEC_LIMITS.yamlAliases} copies ` +
          `(an alias of an alias multiplies); ${aliasLimit}`
        : `cannot be read as data (${excerpt(e instanceof Error ? e.message : String(e))}); fix the YAML`;
    throw invalidSpec(file, [{ path: '(yaml)', message }], what);
  }
  return {
    input,
    locate: (issues) => issues.map((i) => (i.path.startsWith('(') ? i : { ...i, line: lineOf(doc, counter, i.path) })),
  };
}

/**
 * The text of the spec file `file`, read only if it is a regular file within
 * SPEC_LIMITS.specFileBytes; otherwise InvalidSpec saying what to give instead (`example`).
 */
export function readSpecFile(file: string, example: string, what = 'spec'): string {
  let read: FileRead;
  try {
    read = readBoundedFile(file, SPEC_LIMITS.specFileBytes);
  } catch (e) {
    throw new BackfillFailure(
      BackfillError.InvalidSpec,
      `${file}: cannot read the ${what} file (${errnoOf(e)}); check the path`,
    );
  }
  if ('notRegular' in read) {
    throw new BackfillFailure(
      BackfillError.InvalidSpec,
      `${file}: the ${what} file is ${read.notRegular}, not a regular file; give the path of a YAML file, e.g. ` +
        example,
    );
  }
  if ('tooLarge' in read) {
    throw new BackfillFailure(
      BackfillError.InvalidSpec,
      `${file}: the ${what} file is ${tooLarge(read.tooLarge, SPEC_LIMITS.specFileBytes)}; a spec is a short ` +
        `YAML file, with the transform in transform.sql_file`,
    );
  }
  return read.text;
}
