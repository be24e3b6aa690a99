/**
 * The file edge of spec loading (client/load-spec.ts): the spec file and transform.sql_file are
 * checked before they are read, YAML aliases and duplicate keys are refused with the file name and
 * a line, and an oversized runtime spec is refused at load instead of at workflow start. Real files
 * in a temporary folder; the CLI is run once for the exit code a user sees.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadSpecFile, loadSpecText, type LocatedIssue } from '../../client/load-spec';
import { ExitCode } from '../../client/exit-codes';
import { BackfillError, BackfillFailure } from '../../contracts/errors';
import { SPEC_LIMITS } from '../../contracts/limits';
import { SEED } from '../support/spec-fixtures';
import { failureOf } from '../support/failures';

const BIN = join(__dirname, '..', '..', 'bin', 'backfill.cjs');
const SQL = 'SELECT * FROM staging.e WHERE d >= :partition_start AND d < :partition_end\n';
const seedText = readFileSync(SEED, 'utf8');

/** Runs `fn`, which must throw a BackfillFailure of type InvalidSpec; returns it. */
const invalidSpec = (fn: () => unknown): BackfillFailure => failureOf(fn, BackfillError.InvalidSpec);

const issuesOf = (f: BackfillFailure) => (f.details.issues ?? []) as LocatedIssue[];

/** The one issue at `path`, with the line it was reported on. */
function issueAt(f: BackfillFailure, path: string): LocatedIssue {
  const at = issuesOf(f).filter((i) => i.path === path);
  expect(at, f.message).toHaveLength(1);
  return at[0]!;
}

let dir: string;
let outside: string;

beforeAll(() => {
  const root = mkdtempSync(join(tmpdir(), 'load-spec-'));
  dir = join(root, 'specs');
  outside = join(root, 'elsewhere');
  mkdirSync(join(dir, 'sql'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(dir, 'sql', 'fix.sql'), SQL);
  writeFileSync(join(outside, 'secret.sql'), SQL);
});

/**
 * Writes a spec in the temporary spec folder whose transform reads `sqlFile`; returns its path and the
 * sql_file line.
 */
function specWithSqlFile(sqlFile: string, name = 'spec.yaml'): { file: string; line: number } {
  const text = `${seedText}\ntransform:\n  sql_file: ${JSON.stringify(sqlFile)}\n  code_version: git:1\n`;
  const file = join(dir, name);
  writeFileSync(file, text);
  return { file, line: text.split('\n').findIndex((l) => l.startsWith('  sql_file:')) + 1 };
}

describe('the spec file', () => {
  it('refuses /dev/zero as a character device, without reading it', () => {
    const failure = invalidSpec(() => loadSpecFile('/dev/zero'));
    expect(failure.message).toBe('/dev/zero: the spec file is a character device, not a regular file; ' +
      'give the path of a YAML file, e.g. examples/revenue-tax-fix.yaml');
  });

  it('refuses a directory', () => {
    expect(invalidSpec(() => loadSpecFile(dir)).message).toContain(
      `${dir}: the spec file is a directory, not a regular file`,
    );
  });

  it.skipIf(process.platform === 'win32')('refuses a named pipe without opening it (opening ' +
    'would wait for a writer)', () => {
    const fifo = join(dir, 'pipe.yaml');
    execFileSync('mkfifo', [fifo]);
    expect(invalidSpec(() => loadSpecFile(fifo)).message).toContain(
      'the spec file is a named pipe, not a regular file',
    );
  });

  it(`refuses a file larger than ${SPEC_LIMITS.specFileBytes} bytes, naming the size and the bound`, () => {
    const file = join(dir, 'huge.yaml');
    writeFileSync(file, '');
    truncateSync(file, SPEC_LIMITS.specFileBytes + 1);
    const failure = invalidSpec(() => loadSpecFile(file));
    expect(failure.message).toBe(`${file}: the spec file is 1048577 bytes (1 MiB), above the maximum 1048576 bytes ` +
      `(1 MiB); a spec is a short YAML file, with the transform in transform.sql_file`);
  });

  it(`reads a file of exactly ${SPEC_LIMITS.specFileBytes} bytes`, () => {
    const file = join(dir, 'padded.yaml');
    const padding = SPEC_LIMITS.specFileBytes - Buffer.byteLength(seedText) - 2;
    writeFileSync(file, `${seedText}#${'x'.repeat(padding)}\n`);
    expect(readFileSync(file).byteLength).toBe(SPEC_LIMITS.specFileBytes);
    expect(loadSpecFile(file).spec.backfill_id).toBe('revenue-tax-fix-2026-06');
  });

  it('still names the file and the errno when it is missing', () => {
    const missing = join(dir, 'missing.yaml');
    expect(invalidSpec(() => loadSpecFile(missing)).message).toBe(
      `${missing}: cannot read the spec file (ENOENT); check the path`,
    );
  });
});

describe('transform.sql_file', () => {
  it('reads a file in the spec\'s folder or below it, and by an absolute path inside it', () => {
    expect(loadSpecFile(specWithSqlFile('sql/fix.sql').file).spec.transform?.sql).toBe(SQL);
    expect(loadSpecFile(specWithSqlFile(join(dir, 'sql', 'fix.sql')).file).spec.transform?.sql).toBe(SQL);
    expect(loadSpecFile(specWithSqlFile('./sql/../sql/fix.sql').file).spec.transform?.sql).toBe(SQL);
  });

  it('follows a symbolic link that stays inside the folder', () => {
    symlinkSync(join(dir, 'sql', 'fix.sql'), join(dir, 'inside-link.sql'));
    expect(loadSpecFile(specWithSqlFile('inside-link.sql').file).spec.transform?.sql).toBe(SQL);
  });

  it.each([
    ['a ".." escape', () => '../elsewhere/secret.sql'],
    ['an absolute path outside', () => join(outside, 'secret.sql')],
    ['an escape to a file that does not exist', () => '../../../etc/no-such.sql'],
  ])('refuses %s at transform.sql_file with its line', (_what, path) => {
    const { file, line } = specWithSqlFile(path());
    const issue = issueAt(invalidSpec(() => loadSpecFile(file)), 'transform.sql_file');
    expect(issue.line).toBe(line);
    expect(issue.message).toBe(
      `cannot read ${JSON.stringify(path())}: it is outside the spec's folder ${dir}; ` +
        `keep the SQL file in the spec's folder or below it and write the path relative to the spec, e.g. sql/fix.sql`,
    );
  });

  it('refuses a symbolic link in the folder that points outside it', () => {
    symlinkSync(join(outside, 'secret.sql'), join(dir, 'escape-link.sql'));
    const { file, line } = specWithSqlFile('escape-link.sql');
    const issue = issueAt(invalidSpec(() => loadSpecFile(file)), 'transform.sql_file');
    expect(issue.line).toBe(line);
    expect(issue.message).toContain(
      `it resolves (through a symbolic link) to ${join(outside, 'secret.sql')}, outside the spec's folder`,
    );
  });

  it('refuses a directory and a named pipe without reading them', () => {
    const { file } = specWithSqlFile('sql');
    expect(issueAt(invalidSpec(() => loadSpecFile(file)), 'transform.sql_file').message)
      .toBe('cannot read "sql": it is a directory, not a regular file; name a .sql file, e.g. sql/fix.sql');
    if (process.platform !== 'win32') {
      execFileSync('mkfifo', [join(dir, 'pipe.sql')]);
      const piped = specWithSqlFile('pipe.sql', 'piped.yaml');
      expect(
        issueAt(
          invalidSpec(() => loadSpecFile(piped.file)),
          'transform.sql_file',
        ).message,
      ).toContain('it is a named pipe, not a regular file');
    }
  });

  it(`refuses a file larger than ${SPEC_LIMITS.sqlFileBytes} bytes, before reading it`, () => {
    const big = join(dir, 'big.sql');
    writeFileSync(big, '');
    truncateSync(big, SPEC_LIMITS.sqlFileBytes + 1);
    const { file } = specWithSqlFile('big.sql');
    expect(issueAt(invalidSpec(() => loadSpecFile(file)), 'transform.sql_file').message)
      .toBe('cannot read "big.sql": it is 1048577 bytes (1 MiB), above the maximum 1048576 bytes (1 MiB) ' +
        'for a transform; a transform is one SELECT for one partition');
  });

  it('says where a missing file was looked for', () => {
    const { file } = specWithSqlFile('sql/missing.sql');
    expect(issueAt(invalidSpec(() => loadSpecFile(file)), 'transform.sql_file').message)
      .toBe(`cannot read "sql/missing.sql": no such file (ENOENT) in the spec's folder ${dir}; ` +
        `the path is relative to the spec file, e.g. sql/fix.sql`);
  });
});

describe('YAML aliases', () => {
  /** A spec plus `n` aliases spread over `anchors` anchors (x- keys, which the schema then refuses as unknown). */
  const aliases = (n: number, anchors: number) =>
    `${seedText}\nx-anchors: [${Array.from({ length: anchors }, (_, i) => `&a${i} ${i}`).join(', ')}]\nx-aliases:\n` +
    `${Array.from({ length: n }, (_, i) => `  - *a${i % anchors}`).join('\n')}\n`;
  const fieldsOnly = (text: string) => issuesOf(invalidSpec(() => loadSpecText(text, 'ok.yaml'))).map((i) => i.path);

  it(`are allowed up to ${SPEC_LIMITS.yamlAliases} in a spec (the spec is then judged on its fields)`, () => {
    expect(fieldsOnly(aliases(SPEC_LIMITS.yamlAliases, 2))).toEqual(['x-anchors', 'x-aliases']);
    const shared =
      seedText.replace('owner: finance-data', 'owner: &owner finance-data') +
      '\napproval:\n  approvers: [*owner]\n  allow_owner: true\n';
    expect(loadSpecText(shared, 'shared.yaml').spec.approval?.approvers).toEqual(['finance-data']);
  });

  it(`are refused past ${SPEC_LIMITS.yamlAliases}, naming the file and the line of the first one too many`, () => {
    const text = aliases(SPEC_LIMITS.yamlAliases + 1, 2);
    const failure = invalidSpec(() => loadSpecText(text, 'many.yaml'));
    expect(issuesOf(failure)).toEqual([{
      path: '(yaml)',
      line: text.trimEnd().split('\n').length,
      message: `uses more than ${SPEC_LIMITS.yamlAliases} YAML aliases (*name); ` +
        `aliases are limited to ${SPEC_LIMITS.yamlAliases} per spec; write the values out instead of aliasing them`,
    }]);
    expect(failure.message).toMatch(/^many\.yaml: the spec is invalid \(1 problem\):/);
  });

  it(`allow one anchor ${SPEC_LIMITS.yamlAliases} copies in all (the yaml package's maxAliasCount ` +
    `counts the anchor too)`, () => {
    expect(fieldsOnly(aliases(SPEC_LIMITS.yamlAliases - 1, 1))).toEqual(['x-anchors', 'x-aliases']);
    const failure = invalidSpec(() => loadSpecText(aliases(SPEC_LIMITS.yamlAliases, 1), 'copies.yaml'));
    expect(issuesOf(failure)).toEqual([{
      path: '(yaml)',
      message: `YAML aliases expand to more than ${SPEC_LIMITS.yamlAliases} copies (an alias of an alias ` +
        `multiplies); aliases are limited to ${SPEC_LIMITS.yamlAliases} per spec; ` +
        `write the values out instead of aliasing them`,
    }]);
  });

  it('are refused when a few aliases of aliases expand exponentially (billion laughs)', () => {
    const levels = ['l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
    for (let i = 1; i < 9; i++) levels.push(`l${i}: &l${i} [${Array(9).fill(`*l${i - 1}`).join(', ')}]`);
    const failure = invalidSpec(() => loadSpecText(`${seedText}\n${levels.join('\n')}\n`, 'laughs.yaml'));
    expect(failure.message).toContain('laughs.yaml');
    expect(issuesOf(failure)).toEqual([
      {
        path: '(yaml)',
        message: expect.stringContaining(`aliases are limited to ${SPEC_LIMITS.yamlAliases} per spec`),
      },
    ]);
  });

  it('are refused before expansion when there are thousands of them, each small', () => {
    const lines = [
      'anchors:',
      ...Array.from({ length: 500 }, (_, i) => `  - &a${i} ${i}`),
      'uses:',
      ...Array.from({ length: 20_000 }, (_, i) => `  - *a${i % 500}`),
    ];
    const failure = invalidSpec(() => loadSpecText(`${seedText}\n${lines.join('\n')}\n`, 'wide.yaml'));
    expect(issuesOf(failure).map((i) => i.path)).toEqual(['(yaml)']);
    expect(failure.message).toContain(`aliases are limited to ${SPEC_LIMITS.yamlAliases}`);
  });

  it('make the CLI exit 2 with the file name, not 1', async () => {
    const file = join(dir, 'bomb.yaml');
    writeFileSync(file, aliases(SPEC_LIMITS.yamlAliases + 1, 2));
    const result = await promisify(execFile)(process.execPath, [BIN, 'validate', file]).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(result.code).toBe(ExitCode.badInput);
    expect(result.stderr).toContain(`error (BackfillInvalidSpec): ${file}: the spec is invalid`);
    expect(result.stderr).toContain('aliases are limited to 100');
  });
});

describe('duplicate keys', () => {
  it('are refused at the second occurrence, also when YAML spells them differently (1 and "1")', () => {
    const text = `${seedText}\nx-map:\n  1: a\n  "1": b\n`;
    const failure = invalidSpec(() => loadSpecText(text, 'dup.yaml'));
    expect(issuesOf(failure)).toEqual([{
      path: '(yaml)',
      line: text.split('\n').indexOf('  "1": b') + 1,
      message: 'Map keys must be unique: "1" is given twice in this map; keep one',
    }]);
  });

  it('are checked in one pass over a map of many keys', () => {
    const keys = Array.from({ length: 20_000 }, (_, i) => `k${i}: 1`).join('\n');
    const failure = invalidSpec(() => loadSpecText(`${seedText}\n${keys}\nk7: 2\n`, 'wide.yaml'));
    expect(issuesOf(failure)).toEqual([
      expect.objectContaining({ path: '(yaml)', message: expect.stringContaining('"k7" is given twice') }),
    ]);
  });
});

describe('the runtime spec', () => {
  it(`is refused at load when larger than ${SPEC_LIMITS.specPayloadBytes} bytes as JSON, ` +
    `at the transform's line`, () => {
    writeFileSync(join(dir, 'wide.sql'), SQL + '\n'.repeat(1_000_000));
    const { file } = specWithSqlFile('wide.sql', 'wide-sql.yaml');
    const failure = invalidSpec(() => loadSpecFile(file));
    const issue = issueAt(failure, 'transform');
    expect(issue.line).toBe(readFileSync(file, 'utf8').split('\n').indexOf('transform:') + 1);
    expect(issue.message).toContain('above the maximum 1572864 bytes (1.5 MiB) that a workflow input may carry');
  });
});

describe('a "__proto__" key in the YAML', () => {
  it('is refused with its path and line', () => {
    const text = seedText.replace(
      '  revenue_delta_expected: "-1.5% to -0.8%"',
      '  revenue_delta_expected: "-1.5% to -0.8%"\n  measures:\n    __proto__: { expected_delta: "0%" }',
    );
    const issue = issueAt(invalidSpec(() => loadSpecText(text, 'proto.yaml')), 'validation.measures.__proto__');
    expect(issue.line).toBe(text.split('\n').indexOf('    __proto__: { expected_delta: "0%" }') + 1);
  });
});

describe('a refusal with very many problems', () => {
  it('lists the first ones with lines and counts the rest, without a line', () => {
    const keys = Array.from({ length: 5_000 }, (_, i) => `unknown_${i}: 1`).join('\n');
    const failure = invalidSpec(() => loadSpecText(`${seedText}\n${keys}\n`, 'noisy.yaml'));
    const issues = issuesOf(failure);
    expect(issues).toHaveLength(51);
    expect(issues[0]).toMatchObject({ path: 'unknown_0', line: expect.any(Number) });
    expect(issues.at(-1)).toEqual({
      path: '(more)',
      message: '4950 more problems not listed; fix the ones above and validate again',
    });
    expect(failure.message.split('\n').at(-1)).toBe(
      '  - (more): 4950 more problems not listed; fix the ones above and validate again',
    );
  });
});
