/**
 * Release graphs: a fix and every table derived from it, as one release (README "Release graphs").
 * Plain-JSON shapes shared by the graph parser (domain/graph), the release workflow, its activities
 * and the CLI. Type-only imports, so the workflow sandbox can use them.
 */
import type { Grain, Partition } from '../domain/partitions';
import type { BackfillSpec } from '../domain/spec/schema';

/** One node: a single-table backfill plus what it reads. */
export interface ReleaseNode {
  /** Node id (a slug, e.g. daily_revenue); the node's backfill_id is `<release_id>--<id>`. */
  id: string;
  /**
   * The node's backfill spec as the run executes it: every `{{ ref('schema.table') }}` in the
   * transform replaced by that upstream node's shadow table, the release's owner, reason, range
   * (at the node's grain), approval and rollback window filled in.
   */
  spec: BackfillSpec;
  /**
   * The same transform with each ref resolved to the upstream node's production table: for plan
   * estimates and the schema checks that run before any shadow exists.
   */
  planSql: string;
  /** Ids of the upstream nodes its transform refs, in the order they first appear. */
  upstream: string[];
  /** Production tables it reads besides upstream nodes (`inputs:` in the graph spec). */
  inputs: string[];
  /**
   * What each partition waits for in its upstream nodes: the upstream partitions inside it, or every
   * upstream partition from the range's start to its end (`waits_for: range_to_date`).
   */
  waitsFor: 'partition' | 'range_to_date';
}

export interface ReleaseGraph {
  release_id: string;
  owner: string;
  reason: { issue: string; change: string };
  /** The release's range at its finest grain, inclusive as in a backfill spec. */
  source_range: { start: string; end: string; grain: Grain };
  /** Nodes in topological order: every node after all of its upstream nodes. */
  nodes: ReleaseNode[];
}

/** What a downstream partition waits for: the upstream partitions inside it, as one half-open interval. */
export interface UpstreamWait {
  node: string;
  grain: Grain;
  /** Upstream partitions [start, end) that must have passed reconciliation. */
  range: Partition;
  partitions: number;
}

/** Set on a node's BackfillSpec (spec.release) by the release workflow; absent for a single-table backfill. */
export interface NodeRelease {
  releaseId: string;
  node: string;
  /** The release workflow's id, to report state changes to. */
  parentWorkflowId: string;
  /** Upstream nodes this node waits for, with their backfill ids and grains. */
  upstream: Array<{ node: string; backfillId: string; grain: Grain; from?: string }>;
  /** Workflow ids of the nodes that read this one, woken after each batch that passed. */
  dependants: string[];
  /** Input schemas frozen at the release's start (table → signature); a change halts the batch. */
  inputs: Record<string, string>;
  /** The transform with refs resolved to production tables: what the node's plan estimates. */
  planSql: string;
}

/** One node as the release record and `backfill lineage` keep it (frozen at the release's start). */
export interface LineageNode {
  id: string;
  backfillId: string;
  target: string;
  grain: Grain;
  /** The node's range at its grain, inclusive as in the spec. */
  range: { start: string; end: string };
  upstream: string[];
  inputs: string[];
  /** sha256 of the transform as run (refs resolved), first 16 hex digits. */
  transformHash: string;
  codeVersion: string | null;
  publishMode: 'range' | 'view' | 'swap';
  shadow: string;
  snapshot: string;
}

/** What a node published or restored, in the release's one transaction. */
export interface NodeRows {
  id: string;
  target: string;
  rowsDeleted: number;
  rowsInserted: number;
}

/** backfill_control.release_graphs: one row per release, kept after cleanup (lineage). */
export interface GraphRecord {
  releaseId: string;
  status: 'running' | 'published' | 'rolled_back' | 'signed_off' | 'failed';
  owner: string;
  reason: { issue: string; change: string };
  startedBy: string;
  startedAt: string;
  /** sha256 over the nodes as frozen at start (targets, transforms, inputs), first 16 hex digits. */
  graphHash: string;
  nodes: LineageNode[];
  /** Node id → input table → schema signature, frozen at start. */
  frozenInputs: Record<string, Record<string, string>>;
  publish?: {
    approvedBy: string;
    approval: import('./status').ApprovalProof | null;
    publishedAt: string;
    rollbackExpiresAt: string;
    nodes: NodeRows[];
  };
  rollback?: { by: string; reason: string; at: string; nodes: Array<{ id: string; rowsRestored: number }> };
  signoff?: { by: string; at: string };
  error?: string;
}

/** `backfill lineage`: the record plus each node's batches and verdicts from its checkpoints. */
export interface Lineage extends GraphRecord {
  batches: Record<string, { batches: number; partitions: number; verdicts: Record<string, number> }>;
}

/** The release workflow's input. */
export interface ReleaseInput {
  graph: ReleaseGraph;
  startedBy: string;
}

/** A node's reconciliation as its workflow reported it when its batches and completion check were done. */
export interface NodeSummary {
  batches: { passed: number; failed: number; accepted: number; total: number };
  partitions: number;
  rows: { old: number; new: number };
  measures: Array<{ column: string; oldSum: number; newSum: number; deltaPct: number | null; withinExpected: boolean }>;
  warnings: string[];
}

/** What a node's workflow tells the release workflow on a change of state (never per batch). */
export interface NodeUpdate {
  node: string;
  state: import('./status').BackfillState;
  phase: string;
  batches: { done: number; total: number };
  partitions: { done: number; total: number };
  /** The halted batch from 1 (null: the completion check), and why. */
  halt: { batch: number | null; reason: string } | null;
  /** The node's approval digest (its reconciliation and shadow fingerprint), once reconciled. */
  digest: string | null;
  summary: NodeSummary | null;
  error: string | null;
}

/** One node's section in the release's status. */
export interface NodeStatus extends NodeUpdate {
  backfillId: string;
  workflowId: string;
  target: string;
  grain: Grain;
  upstream: string[];
}

export interface ReleaseStatus {
  kind: 'release';
  releaseId: string;
  state: import('./status').BackfillState;
  phase: string;
  owner: string;
  startedBy: string;
  graphHash: string | null;
  range: { start: string; end: string; grain: Grain };
  nodes: NodeStatus[];
  approval: import('./status').ApprovalInfo;
  decisionDigest: string | null;
  signaturesRequired: boolean;
  record: GraphRecord | null;
  rollback: import('./status').RollbackInfo;
  lastRefusal: { request: string; by: string; reason: string; at: string | null } | null;
  error: string | null;
  warnings: string[];
}
