/**
 * Reads a spec file: YAML syntax errors and schema issues both come back as one InvalidSpec
 * failure whose message lists every problem with its YAML path and line. Files are checked before
 * they are read (a regular file, within SPEC_LIMITS), so a device, a pipe or a huge file is refused
 * at once instead of being read. What a release graph's loader shares is in client/spec-yaml.ts.
 */
import { BackfillError, BackfillFailure } from '../contracts/errors';
import { parseSpec, runnableProblems, type SpecIssue } from '../domain/spec/parse';
import type { BackfillSpec } from '../domain/spec/schema';
import { formatIssues, invalidSpec, readSpecFile, readSpecYaml, sqlFileReader } from './spec-yaml';

export { formatIssues, type LocatedIssue } from './spec-yaml';

export interface LoadedSpec {
  spec: BackfillSpec;
  warnings: SpecIssue[];
  /** Problems that do not invalidate the spec but block a run (e.g. no transform yet). */
  notRunnable: SpecIssue[];
  file: string;
}

export function loadSpecText(text: string, file: string): LoadedSpec {
  const yaml = readSpecYaml(text, file);
  const result = parseSpec(yaml.input, { readSqlFile: sqlFileReader(file) });
  if (!result.ok) throw invalidSpec(file, yaml.locate(result.issues));
  return { spec: result.spec, warnings: result.warnings, notRunnable: runnableProblems(result.spec), file };
}

export function loadSpecFile(file: string): LoadedSpec {
  return loadSpecText(readSpecFile(file, 'examples/revenue-tax-fix.yaml'), file);
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
