/** Runbook steps 6–7: the atomic publish, the rollback, the signoff, and dropping the backfill's own tables. */
import type { CleanupResult } from '../contracts/run';
import type { ApprovalProof, ReleaseRecord } from '../contracts/status';
import { isStatementRefusal } from '../contracts/errors';
import { judgeMonitor, type MonitorResult } from '../domain/monitors';
import type { BackfillSpec } from '../domain/spec/schema';
import { resolveCheckTables } from '../domain/transform-sql';
import { tablesOf } from '../warehouse/shadow';
import { queryReadOnly } from '../warehouse/warehouse';
import { cleanupBackfillTables, publish, rollbackRelease, signoffRelease } from '../warehouse/publish';
import { activitySource, heartbeating, log, type Toolkit } from './context';

/** A decision's digest, key and signature in an audit entry's detail (nothing for decisions from before digests). */
function proofDetail(p: ApprovalProof | undefined): Record<string, unknown> {
  return p ? { digest: p.digest, key_id: p.keyId, signature: p.signature } : {};
}

export function releaseActivities({ db, clock, tagged, opts, audit, now }: Toolkit) {
  return {
    /** Runbook step 6: one short transaction replaces the range and writes the release record. */
    async publishRelease(spec: BackfillSpec, approvedBy: string, approval?: ApprovalProof): Promise<ReleaseRecord> {
      return heartbeating(async (signal) => {
        const publishedAt = clock();
        // The `published` audit entry is written in the publish transaction: exactly once, even
        // when the worker dies right after the COMMIT.
        const result = await publish(db, spec, {
          releaseId: `${spec.backfill_id}-release`,
          approvedBy,
          approval: approval ?? null,
          publishedAt: publishedAt.toISOString(),
          rollbackExpiresAt: new Date(publishedAt.getTime() + spec.rollback.window).toISOString(),
          auditDetail: { source: activitySource(), ...proofDetail(approval) },
        }, opts(spec, 'publish', signal));
        const { release, rowsDeleted, rowsInserted } = result;
        log().info(
          result.alreadyPublished
            ? `${release.releaseId} was already published`
            : `published ${release.releaseId} into ${spec.target.table}: ${rowsDeleted} rows ` +
                `replaced by ${rowsInserted}`,
          {
            releaseId: release.releaseId,
            approvedBy,
            rowsDeleted,
            rowsInserted,
            rollbackExpiresAt: release.rollbackExpiresAt,
          },
        );
        return release;
      });
    },

    /** Runbook step 7: restore the pre-publish result of the range in one transaction. */
    async rollbackRelease(
      spec: BackfillSpec,
      releaseId: string,
      by: string,
      reason: string,
      proof?: ApprovalProof,
    ): Promise<{ release: ReleaseRecord; rowsRestored: number }> {
      return heartbeating(async (signal) => {
        // Audited in the rollback transaction, like publish.
        const auditDetail = { source: activitySource(), ...proofDetail(proof) };
        const request = { releaseId, by, reason, at: now(), auditDetail };
        const { release, rowsRestored } = await rollbackRelease(db, spec, request, opts(spec, 'rollback', signal));
        log().info(`rolled back ${releaseId} by ${by}: ${rowsRestored} rows restored (${reason})`, {
          releaseId,
          by,
          reason,
          rowsRestored,
        });
        return { release, rowsRestored };
      });
    },

    /**
     * Runbook step 7: evaluates the named monitors (rollback.monitors) read-only. A query the
     * warehouse cannot run is a result saying why (a breach); a lost connection is retried.
     */
    async evaluateMonitors(spec: BackfillSpec, names: string[]): Promise<MonitorResult[]> {
      const { target, snapshot } = tablesOf(spec);
      const tables = { target: db.dialect.table(target), snapshot: db.dialect.table(snapshot) };
      const o = opts(spec, 'monitor');
      const results: MonitorResult[] = [];
      for (const m of (spec.rollback.monitors ?? []).filter((x) => names.includes(x.name))) {
        const at = now();
        try {
          const rows = await queryReadOnly(db, { sql: resolveCheckTables(m.sql, tables), params: [] }, o);
          const first = rows[0] ? Object.values(rows[0])[0] : undefined;
          const value = first === null || first === undefined || first === '' ? NaN : Number(first);
          results.push(judgeMonitor(m, Number.isFinite(value) ? value : null, at));
        } catch (e) {
          if (!isStatementRefusal(e)) throw e;
          results.push(judgeMonitor(m, null, at, (e as Error).message.slice(0, 500)));
        }
      }
      for (const r of results) {
        if (r.ok) log().info(r.message, { monitor: r.name, value: r.value });
        else log().warn(r.message, { monitor: r.name, value: r.value });
      }
      return results;
    },

    async signoffRelease(
      spec: BackfillSpec,
      releaseId: string,
      by: string,
      comment: string | null,
      proof?: ApprovalProof,
    ): Promise<ReleaseRecord> {
      const release = await signoffRelease(tagged(spec, 'signoff'), releaseId);
      await audit(spec, by, 'signed_off', { releaseId, comment, ...proofDetail(proof) });
      log().info(`${releaseId} signed off by ${by}`, { releaseId, by });
      return release;
    },

    /** Drops the snapshot and shadow (after signoff, or after the window when the spec says so). */
    async cleanupTables(spec: BackfillSpec, why: string): Promise<CleanupResult> {
      return heartbeating(async (signal) => {
        const result = await cleanupBackfillTables(db, spec, now(), opts(spec, 'cleanup', signal));
        await audit(spec, 'workflow', 'cleaned_up', { ...result, why });
        log().info(`cleaned up: dropped ${result.dropped.join(', ') || 'nothing'} (${why})`, {
          dropped: result.dropped,
          why,
        });
        for (const k of result.kept) log().warn(`kept ${k.table}: ${k.why}`, { table: k.table });
        return result;
      });
    },
  };
}
