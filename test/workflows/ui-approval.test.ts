/**
 * Approval the way a finance approver gives it: in the Temporal Web UI, not the CLI. Runs its own
 * dev server WITH the UI (the suite's shared one is headless), the real worker and a seeded DuckDB,
 * and drives the UI with Chromium: find the backfill by its BackfillState search attribute, send
 * `approve` from the workflow page's signal form, then check through the client that it published.
 * Screenshots land in test-artifacts/ui-approval-*.png.
 */
import { defaultPayloadConverter } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { approveSignal, messageDescriptions, statusQuery } from '../../contracts/messages';
import { testSpec, waitForStatus } from '../support/backfill-harness';
import {
  artifactPath,
  expectEmptyList,
  readCurrentDetails,
  sendSignalThroughUi,
  typedJson,
  uiStep,
  waitForListedWorkflow,
} from '../support/temporal-ui';
import { useUiLab } from '../support/ui-lab';
import { decideBySignal } from '../support/decide';

const FAILURE_PREFIX = 'ui-approval-failed';
const APPROVAL = { by: 'finance-controller', comment: 'approved in the Temporal UI' };
const ui = useUiLab();

describe('approval through the Temporal UI', () => {
  it('lists the backfill under BackfillState="awaiting_approval", ' +
    'approves it with the UI\'s signal form, and it publishes', async () => {
    const { uiUrl, namespace, lab: l, page } = ui();
    // Two weeks: two batches of seven days, enough to reach approval in a few seconds.
    const spec = testSpec('ui-approval', (s) => {
      s.source_range = { ...s.source_range, start: '2025-01-01', end: '2025-01-14' };
    });
    const handle = await l.start(spec);
    const { workflowId } = handle;
    await waitForStatus(handle, (s) => s.state === 'awaiting_approval');

    await uiStep(page, FAILURE_PREFIX, 'list filtered by BackfillState', async () => {
      // The filter must exclude too: the only workflow on this server is not published yet.
      await expectEmptyList(page, { uiUrl, namespace, query: 'BackfillState="published"' });
      await waitForListedWorkflow(page, { uiUrl, namespace, query: 'BackfillState="awaiting_approval"', workflowId });
    });
    await page.screenshot({ path: artifactPath('ui-approval-list.png') });

    // A wrong approver's signal is accepted by the server (a form only says "Workflow signaled."),
    // so the refusal must be where the operator looks next: the workflow page's current details.
    await decideBySignal(handle, approveSignal, { by: 'mallory', comment: 'ok' });
    await waitForStatus(handle, (s) => s.lastRefusal?.by === 'mallory');
    let digest = '';
    await uiStep(page, FAILURE_PREFIX, 'the refusal and the decision digest in the current details', async () => {
      // (Markdown curls the quotes of plain text; the JSON examples are code and keep theirs.)
      const shown = await readCurrentDetails(page, { uiUrl, namespace, workflowId, shows: 'Last refused' });
      expect(shown).toMatch(/Last refused: approve from .mallory. at .*is not an approver/);
      expect(shown).toContain('{"by": "...", "comment": "...", "digest": "..."}');
      // The approver copies the digest of what they read from the details into the form.
      digest = /Decision digest: ([0-9a-f]{64})/.exec(shown)?.[1] ?? '';
      expect(digest).toBe((await handle.query(statusQuery)).decisionDigest);
    });
    await page.screenshot({ path: artifactPath('ui-approval-refusal.png') });

    const { description } = await sendSignalThroughUi(page, {
      uiUrl,
      namespace,
      workflowId,
      signalName: 'approve',
      // What the approver types into the form, with the digest the details show.
      inputJson: typedJson({ ...APPROVAL, digest }),
      formScreenshot: artifactPath('ui-approval-signal-form.png'),
      failurePrefix: FAILURE_PREFIX,
    });
    // The UI lists the handler with the description the workflow registered for it.
    expect(description).toBe(messageDescriptions.approve);

    const published = await waitForStatus(handle, (s) => s.state === 'published' || s.state === 'failed');
    expect(published.state).toBe('published');
    expect(published.release?.approvedBy).toBe(APPROVAL.by);
    expect(published.approval?.approved).toMatchObject({ ...APPROVAL, digest });
    // The release record keeps what was approved.
    expect(published.release?.approval).toEqual({ by: APPROVAL.by, digest, keyId: null, signature: null });
    expect(published.approval?.refusals.map((r) => r.by)).toEqual(['mallory']);

    // The UI sent exactly one json/plain payload, the object typed into the form.
    const history = await handle.fetchHistory();
    const signals = (history.events ?? [])
      .map((e) => e.workflowExecutionSignaledEventAttributes)
      .filter((a) => a?.signalName === 'approve');
    expect(signals).toHaveLength(2);
    const payloads = signals[1]!.input?.payloads ?? [];
    expect(payloads).toHaveLength(1);
    expect(Buffer.from(payloads[0]!.metadata!.encoding!).toString()).toBe('json/plain');
    expect(defaultPayloadConverter.fromPayload(payloads[0]!)).toEqual({ ...APPROVAL, digest });

    await uiStep(page, FAILURE_PREFIX, 'list filtered by BackfillState after publish', () =>
      waitForListedWorkflow(page, { uiUrl, namespace, query: 'BackfillState="published"', workflowId }),
    );
    await page.screenshot({ path: artifactPath('ui-approval-published.png') });
  }, 120_000);
});
