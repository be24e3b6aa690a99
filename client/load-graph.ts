/**
 * Reads a release graph spec file as client/load-spec.ts reads a backfill spec, with the same file
 * checks, YAML limits and located issues (client/spec-yaml.ts): every problem comes back in one
 * InvalidSpec failure, each with its YAML path (nodes[1].transform.sql_file) and line. Each node's
 * transform.sql_file is relative to the graph spec and must stay in its folder.
 */
import { BackfillError, BackfillFailure } from '../contracts/errors';
import type { ReleaseGraph } from '../contracts/release';
import { graphRunnableProblems, parseGraph } from '../domain/graph/parse';
import type { SpecIssue } from '../domain/spec/parse';
import { formatIssues, invalidSpec, readSpecFile, readSpecYaml, sqlFileReader } from './spec-yaml';

const WHAT = 'release spec';

export interface LoadedGraph {
  graph: ReleaseGraph;
  warnings: SpecIssue[];
  /** Problems that do not invalidate the graph but block a run (a node without transform, approvers). */
  notRunnable: SpecIssue[];
  file: string;
}

export function loadGraphText(text: string, file: string): LoadedGraph {
  const yaml = readSpecYaml(text, file, WHAT);
  const result = parseGraph(yaml.input, { readSqlFile: sqlFileReader(file) });
  if (!result.ok) throw invalidSpec(file, yaml.locate(result.issues), WHAT);
  const notRunnable = yaml.locate(graphRunnableProblems(result.graph, result.written));
  return { graph: result.graph, warnings: result.warnings, notRunnable, file };
}

export function loadGraphFile(file: string): LoadedGraph {
  return loadGraphText(readSpecFile(file, 'examples/revenue-release.yaml', WHAT), file);
}

/** Like loadGraphFile, but a graph that cannot run yet is refused with SpecNotRunnable. */
export function loadRunnableGraph(file: string): LoadedGraph {
  const loaded = loadGraphFile(file);
  if (loaded.notRunnable.length) {
    throw new BackfillFailure(
      BackfillError.SpecNotRunnable,
      formatIssues(file, loaded.notRunnable, WHAT)
        .replace(`the ${WHAT} is invalid`, `the ${WHAT} is valid but cannot run yet`),
      { issues: loaded.notRunnable },
    );
  }
  return loaded;
}
