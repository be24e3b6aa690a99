/**
 * A release graph's report (contracts/report.ts ReleaseReportData) from the control schema alone:
 * the release's record and lineage (backfill_control.release_graphs, with each node's batches and
 * verdicts), its own decisions from the audit log under the release id, and each node's
 * reconciliation report (report-data.ts) in the graph's topological order, seen as part of the
 * release (inRelease). Read-only; no workflow is asked, so it serves a release that is running,
 * published, rolled back or failed.
 */
import type { Lineage } from '../contracts/release';
import type { ReleaseReportData, ReportApproval, ReportData, ReportState } from '../contracts/report';
import { tableExists } from './catalog';
import { ControlStore } from './control-store';
import { lineageOf } from './release-graph';
import { approvalOf, auditOf, gatherReportData, timelineOf } from './report-data';
import type { Driver, QueryOptions } from './warehouse';

/** How a node's report is read: gatherReportData, or the worker's bounded variant for the trip through Temporal. */
export type NodeReportReader = (db: Driver, backfillId: string, opts?: QueryOptions) => Promise<ReportData | null>;

/**
 * The report of release `releaseId`, or null when the warehouse has no such release (no
 * release_graphs table, or no row for the id: then it may be a single backfill's id).
 */
export async function gatherReleaseReportData(
  db: Driver,
  releaseId: string,
  opts: QueryOptions = {},
  readNode: NodeReportReader = gatherReportData,
): Promise<ReleaseReportData | null> {
  const control = new ControlStore(db);
  if (!(await tableExists(db, control.table('release_graphs'), opts))) return null;
  const lineage = await lineageOf(db, releaseId, opts);
  if (!lineage) return null;
  const read: Array<ReportData | null> = [];
  for (const n of lineage.nodes) read.push(await readNode(db, n.backfillId, opts));
  const audit = await auditOf(control, releaseId, opts);
  // Every node carries the release's approval block; the first recorded one names the approvers.
  const approvers = read.find((n) => n?.spec.approval)?.spec.approval?.approvers ?? [];
  const approval = approvalOf(approvers, audit);
  const timeline = timelineOf(audit);
  const endedAt = read.filter((n) => n && ENDED.includes(n.state)).map((n) => n!.stateSince).filter(Boolean).sort()
    .at(-1) ?? timeline.at(-1)?.at ?? null;
  return {
    version: 1,
    generatedAt: new Date().toISOString(),
    lineage,
    nodes: read.map((n) => n && inRelease(n, lineage, approval, endedAt)),
    approval,
    timeline,
  };
}

/** A node's own end, which its report already tells. */
const ENDED: ReportState[] = ['failed', 'rejected'];
/** Where a node waits for its release (or for an upstream node): its release's end is its own. */
const WAITING: ReportState[] = ['planned', 'running', 'halted', 'awaiting_approval', 'approved', 'publishing'];

/**
 * A node's report as part of its release: the release's one approval or rejection is the node's
 * (the node's own audit log holds none; its release row names the approver), so a node awaiting
 * approval in an approved release is approved; and a node still waiting when its release stopped
 * before publishing stopped with it, at `endedAt` (the latest end of a node that failed, else the
 * release's last decision), rather than waiting for ever.
 */
function inRelease(n: ReportData, lineage: Lineage, approval: ReportApproval, endedAt: string | null): ReportData {
  const decided: ReportData = {
    ...n,
    approval: {
      ...n.approval,
      approved: n.approval.approved ?? approval.approved,
      rejected: n.approval.rejected ?? approval.rejected,
    },
  };
  if (lineage.status === 'running' && approval.approved && n.state === 'awaiting_approval') {
    return { ...decided, state: 'approved', stateSince: approval.approved.at };
  }
  if (lineage.status !== 'failed' || !WAITING.includes(n.state)) return decided;
  return approval.rejected
    ? { ...decided, state: 'rejected', stateSince: approval.rejected.at }
    : { ...decided, state: 'failed', stateSince: endedAt };
}
