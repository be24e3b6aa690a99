/**
 * Decisions as a person makes them: with the digest of the state they decide on, read from the
 * status query just before (what `backfill status` prints and the CLI's --digest passes). Tests of
 * stale or missing digests send their payloads directly instead.
 */
import type { WorkflowHandle } from '@temporalio/client';
import type { SignalDefinition, UpdateDefinition } from '@temporalio/common';
import { statusQuery } from '../../contracts/messages';
import type { UpdateAck } from '../../contracts/status';

/** The request with the current decision digest added (unchanged for runs that have none). */
export async function digested<T extends object>(handle: WorkflowHandle, req: T): Promise<T & { digest?: string }> {
  const { decisionDigest } = await handle.query(statusQuery);
  return decisionDigest ? { ...req, digest: decisionDigest } : req;
}

/** A decision through its update, with the current digest. */
export async function decide<T extends object>(
  handle: WorkflowHandle,
  update: UpdateDefinition<UpdateAck, [T]>,
  req: T,
): Promise<UpdateAck> {
  return handle.executeUpdate(update, { args: [await digested(handle, req)] });
}

/** A decision through its signal (the UI's form), with the current digest. */
export async function decideBySignal<T extends object>(
  handle: WorkflowHandle,
  signal: SignalDefinition<[T]>,
  req: T,
): Promise<void> {
  await handle.signal(signal, await digested(handle, req));
}
