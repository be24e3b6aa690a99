/** Runbook steps 6–7: the atomic publish, the rollback, the signoff, and dropping the backfill's own tables. */
import type { CleanupResult } from '../contracts/run';
import type { ReleaseRecord } from '../contracts/status';
import type { BackfillSpec } from '../domain/spec/schema';
import { cleanupBackfillTables, publish, rollbackRelease, signoffRelease } from '../warehouse/publish';
import { activitySource, heartbeating, log, type Toolkit } from './context';

export function releaseActivities({ db, clock, tagged, opts, audit, now }: Toolkit) {
  return {
    /** Runbook step 6: one short transaction replaces the range and writes the release record. */
    async publishRelease(spec: BackfillSpec, approvedBy: string): Promise<ReleaseRecord> {
      return heartbeating(async (signal) => {
        const publishedAt = clock();
        // The `published` audit entry is written in the publish transaction: exactly once, even
        // when the worker dies right after the COMMIT.
        const result = await publish(db, spec, {
          releaseId: `${spec.backfill_id}-release`,
          approvedBy,
          publishedAt: publishedAt.toISOString(),
          rollbackExpiresAt: new Date(publishedAt.getTime() + spec.rollback.window).toISOString(),
          auditDetail: { source: activitySource() },
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
    ): Promise<{ release: ReleaseRecord; rowsRestored: number }> {
      return heartbeating(async (signal) => {
        // Audited in the rollback transaction, like publish.
        const request = { releaseId, by, reason, at: now(), auditDetail: { source: activitySource() } };
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

    async signoffRelease(
      spec: BackfillSpec,
      releaseId: string,
      by: string,
      comment: string | null,
    ): Promise<ReleaseRecord> {
      const release = await signoffRelease(tagged(spec, 'signoff'), releaseId);
      await audit(spec, by, 'signed_off', { releaseId, comment });
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
