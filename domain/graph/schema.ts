/**
 * The release graph spec: a fix and every table derived from it, backfilled in dependency order and
 * published as one release (README "Release graphs"). The release names the range, owner, reason,
 * approval, rollback window and execution defaults once; each node is one table's backfill, written
 * with the blocks of a single spec (domain/spec/schema.ts). Structure only: domain/graph/parse.ts
 * turns each node into a BackfillSpec through parseSpec, so every rule of a spec applies to it.
 */
import { z } from 'zod';
import { GRAPH_LIMITS } from '../../contracts/limits';
import {
  approvalSchema,
  boundedList,
  executionSchema,
  ownerSchema,
  publishSchema,
  reasonSchema,
  rollbackCleanupSchema,
  rollbackMonitorsSchema,
  rollbackOperatorsSchema,
  rollbackWindowSchema,
  sourceRangeProblems,
  sourceRangeSchema,
  tableName,
  targetSchema,
  transformSchema,
  validationSchema,
} from '../spec/schema';

/** A node id: it names the node's backfill `<release_id>--<id>` and appears in every message about it. */
export const NODE_ID = new RegExp(`^[a-z0-9_]{1,${GRAPH_LIMITS.nodeIdChars}}$`);

/** A release id: a backfill_id of at most GRAPH_LIMITS.releaseIdChars characters. */
export const RELEASE_ID = new RegExp(`^[a-z0-9][a-z0-9_-]{2,${GRAPH_LIMITS.releaseIdChars - 1}}$`);

const releaseId = z.string().regex(RELEASE_ID, {
  message:
    `must be 3–${GRAPH_LIMITS.releaseIdChars} lowercase letters, digits, "-" or "_", starting with a letter or ` +
    `digit (each node's backfill is <release_id>--<node id>), e.g. revenue-release-2025-h1`,
});

const nodeId = z.string().regex(NODE_ID, {
  message:
    `must be 1–${GRAPH_LIMITS.nodeIdChars} lowercase letters, digits or "_" ` +
    `(it names the node's backfill <release_id>--<id>), e.g. daily_revenue`,
});

/** Every execution field optional: the release's block holds defaults, a node's block overrides them. */
const executionDefaults = executionSchema.partial();

const inputList = boundedList(
  tableName,
  GRAPH_LIMITS.inputs,
  'inputs',
  'list the production tables this node reads by name, e.g. [staging.revenue_events]',
).refine((tables) => new Set(tables.map((t) => t.toLowerCase())).size === tables.length, {
  message: 'lists a table twice; list each table once',
});

export const nodeSchema = z.strictObject({
  /** Default: the last part of target.table (finance.daily_revenue → daily_revenue). */
  id: nodeId.optional(),
  /** Default: the release's source_range.grain. Same as or coarser than each upstream node's grain. */
  grain: z.enum(['day', 'hour', 'month']).optional(),
  target: targetSchema,
  /** As in a spec; `{{ ref('schema.table') }}` reads another node's corrected rows. */
  transform: transformSchema.optional(),
  /** Production tables read by name (not through a ref); their schemas are frozen at the release's start. */
  inputs: inputList.default([]),
  /**
   * What a partition waits for in each upstream node: its own span (a month waits for its days), or
   * everything from the range's start to its end (a running total reads every month before it).
   */
  waits_for: z.enum(['partition', 'range_to_date']).default('partition'),
  validation: validationSchema,
  publish: publishSchema.default({ mode: 'range' }),
  /** Overrides the release's execution field by field. */
  execution: executionDefaults.optional(),
  rollback: z
    .strictObject({
      /** Default <target.table>_pre_<release_id with "-" as "_">. */
      snapshot: tableName.optional(),
      monitors: rollbackMonitorsSchema,
    })
    .optional(),
});

export const graphSchema = z
  .strictObject({
    release_id: releaseId,
    owner: ownerSchema,
    reason: reasonSchema,
    /** The release's range at its finest grain, inclusive; each node rewrites it at its own grain. */
    source_range: sourceRangeSchema,
    approval: approvalSchema.optional(),
    /** For the whole release: one rollback restores every node. */
    rollback: z
      .strictObject({
        window: rollbackWindowSchema,
        cleanup: rollbackCleanupSchema,
        operators: rollbackOperatorsSchema,
      })
      .optional(),
    /** Defaults for every node's execution. */
    execution: executionDefaults.optional(),
    nodes: boundedList(
      nodeSchema,
      GRAPH_LIMITS.nodes,
      'nodes',
      'split the release into several, each a fix and the tables derived from it',
    ).min(1, {
      message: 'must list at least one node, e.g. [{ target: { table: finance.daily_revenue, … }, … }]',
    }),
  })
  .superRefine((graph, ctx) => {
    for (const problem of sourceRangeProblems(graph.source_range)) {
      ctx.addIssue({ code: 'custom', path: ['source_range', ...problem.path], message: problem.message });
    }
  });

/** The graph spec as written (input) — what editors autocomplete. */
export type GraphInput = z.input<typeof graphSchema>;
/** The graph spec after its own schema: structure checked, defaults applied. */
export type ParsedGraph = z.output<typeof graphSchema>;
export type NodeInput = z.input<typeof nodeSchema>;
