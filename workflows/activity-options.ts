/**
 * The two activity profiles every workflow here proxies: short metadata calls, and long warehouse
 * statements that heartbeat. One definition, so a backfill and a release retry and time out alike.
 */
import { ActivityCancellationType, type ActivityOptions } from '@temporalio/workflow';
import { nonRetryableErrorTypes } from '../contracts/errors';

/** Short metadata calls (plan, lease, audit, control-schema bookkeeping). */
export const METADATA_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '1 second', maximumAttempts: 5, nonRetryableErrorTypes },
};

/**
 * Long warehouse statements: they heartbeat every 2 s, so a dead worker is noticed within the
 * heartbeat timeout and the batch retried elsewhere; cancellation reaches the running statement.
 */
export const WAREHOUSE_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '12 hours',
  heartbeatTimeout: '15 seconds',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: {
    initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 8,
    nonRetryableErrorTypes,
  },
};
