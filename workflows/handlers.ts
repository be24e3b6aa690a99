/**
 * The workflow's messages wired to the run: queries read it, requests go to it, and the audit
 * entries it returns are written. Keep the await chains as they are: they are those of the
 * histories in test/workflows/histories, and an extra await moves an update's completion past the
 * workflow's next command, which breaks workflows already running (see the README on patching).
 */
import { ApplicationFailure, setHandler } from '@temporalio/workflow';
import type { SignalDefinition, UpdateDefinition } from '@temporalio/common';
import { BackfillError } from '../contracts/errors';
import * as m from '../contracts/messages';
import type { ReportData } from '../contracts/report';
import type { UpdateAck } from '../contracts/status';
import type { SignatureCheck } from '../domain/approval';
import type { AuditEntry, BackfillRun, Door, Handled, SignatureToCheck } from '../domain/run/backfill-run';

/**
 * Payloads arrive as whatever was typed into the UI's form: the run checks their shape. A release
 * workflow has the same doors (workflows/release-workflow.ts), so the CLI and the UI work on both.
 */
export const DOORS: Array<[Door, SignalDefinition<[unknown]>, UpdateDefinition<UpdateAck, [unknown]>]> = [
  ['approve', m.approveSignal, m.approveUpdate],
  ['reject', m.rejectSignal, m.rejectUpdate],
  ['resolve', m.resolveSignal, m.resolveUpdate],
  ['rollback', m.rollbackSignal, m.rollbackUpdate],
  ['signoff', m.signoffSignal, m.signoffUpdate],
  ['cancel', m.cancelSignal, m.cancelUpdate],
];

export function registerHandlers(
  run: BackfillRun,
  audit: (entry: AuditEntry) => Promise<void>,
  reportData: () => Promise<ReportData | null>,
  verify: (d: SignatureToCheck) => Promise<SignatureCheck>,
): void {
  const { status } = run;
  const apply = async (h: Handled) => {
    if (h.audit) await audit(h.audit);
    return h.message;
  };
  const refused = async (h: Handled) => {
    await audit(h.audit!);
  };
  const ack = (message: string): UpdateAck => ({ accepted: true, state: status.state, message });

  // ---- queries and requests: the run decides, the workflow audits ----
  const d = m.messageDescriptions;
  setHandler(m.statusQuery, () => run.statusView(Date.now()), { description: d.status });
  setHandler(m.batchesQuery, () => run.batchesView(), { description: d.batches });
  setHandler(m.reportQuery, () => run.report(), { description: d.report });
  const requests: Array<[SignalDefinition<[unknown]>, (req: unknown) => Handled, string]> = [
    [m.pauseSignal, (req) => run.pause(req, Date.now()), d.pause],
    [m.resumeSignal, (req) => run.resume(req), d.resume],
    [m.livePipelineStartedSignal, (e) => run.livePipelineStarted(e), d.live_pipeline_started],
    [m.livePipelineFinishedSignal, (e) => run.livePipelineFinished(e), d.live_pipeline_finished],
    [m.setConcurrencySignal, (req) => run.setConcurrency(req), d.set_concurrency],
  ];
  for (const [signal, handle, description] of requests) {
    setHandler(signal, async (req) => {
      const h = handle(req);
      if (h.audit) await audit(h.audit);
    }, { description });
  }
  // A signed decision is checked by the worker (its trusted keys file) and then judged again, as the
  // state may have moved meanwhile. Unsigned ones are judged at once: no await is added to their chain.
  const decide = (door: Door, req: unknown, via: 'signal' | 'update'): Handled | Promise<Handled> => {
    const toCheck = run.signatureToCheck(door, req, Date.now());
    if (!toCheck) return run.request(door, req, via, Date.now());
    return verify(toCheck).then((checked) => run.request(door, req, via, Date.now(), checked));
  };

  // One request, two doors: the signal (the UI's form) records a refusal and never fails; the
  // update audits it and then fails with it, so the CLI gets the error at once.
  for (const [door, signal, update] of DOORS) {
    setHandler(signal, async (req) => {
      const d0 = decide(door, req, 'signal');
      const h = d0 instanceof Promise ? await d0 : d0;
      if (h.refused === null) return void (await apply(h));
      await refused(h);
    }, { description: d[door] });
    setHandler(update, async (req) => {
      const d0 = decide(door, req, 'update');
      const h = d0 instanceof Promise ? await d0 : d0;
      if (h.refused === null) return ack(await apply(h));
      await refused(h);
      throw ApplicationFailure.create({ type: BackfillError.NotAllowed, message: h.refused, nonRetryable: true });
    }, { description: d[`${door}_update`] });
  }
  setHandler(m.reportDataUpdate, reportData, { description: d.report_data });
}
