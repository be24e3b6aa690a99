/**
 * A release approved the way a finance approver approves it: in the Temporal Web UI. Its own dev
 * server WITH the UI, the real worker and a seeded DuckDB run the example release graph (daily
 * revenue → monthly revenue → merchant lifetime value) to its one approval; Chromium reads the
 * release's current details (one section per node, the decision digest), and sends `approve` from
 * the workflow page's signal form: first from someone who is not an approver, then from
 * finance-controller. Screenshots land in test-artifacts/release-ui-approval-*.png.
 */
import { defaultPayloadConverter } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { startRelease } from '../../client/start-backfill';
import { releaseStatusQuery } from '../../contracts/messages';
import { EXAMPLE_TARGETS, exampleGraph, waitForRelease } from '../support/release-harness';
import {
  artifactPath,
  readCurrentDetails,
  sendSignalThroughUi,
  typedJson,
  uiStep,
  waitForListedWorkflow,
} from '../support/temporal-ui';
import { useUiLab } from '../support/ui-lab';

const FAILURE_PREFIX = 'release-ui-approval-failed';
const APPROVAL = { by: 'finance-controller', comment: 'all three nodes reviewed in the Temporal UI' };
const ui = useUiLab();

describe('release approval through the Temporal UI', () => {
  it('shows one section per node and the decision digest, refuses a non-approver in the details, ' +
    'and publishes every node on finance-controller\'s approval', async () => {
    const { uiUrl, namespace, client, lab: l, page } = ui();
    const graph = exampleGraph('ui');
    const handle = await startRelease(client, graph, { startedBy: 'vitest', taskQueue: l.taskQueue });
    const { workflowId } = handle;
    const waiting = await waitForRelease(handle, (s) => s.state === 'awaiting_approval' || s.state === 'failed');
    expect(waiting.state, waiting.error ?? waiting.phase).toBe('awaiting_approval');

    await uiStep(page, FAILURE_PREFIX, 'list filtered by BackfillState', () =>
      waitForListedWorkflow(page, { uiUrl, namespace, query: 'BackfillState="awaiting_approval"', workflowId }),
    );

    // What the approver reads before deciding: one section per node, in dependency order, each
    // reconciled, then the digest of all of it.
    let digest = '';
    await uiStep(page, FAILURE_PREFIX, 'the node sections and the decision digest in the current details', async () => {
      const shown = await readCurrentDetails(page, { uiUrl, namespace, workflowId, shows: /decision digest/ });
      expect(shown).toContain(`Release ${graph.release_id}: awaiting_approval`);
      // The example to type is code, so its quotes stay straight (a curled copy is not JSON).
      expect(shown).toContain('{"by": "...", "comment": "...", "digest": "..."}');
      const sections = nodeSections(shown);
      expect(sections.map((x) => x.heading)).toEqual([
        'daily_revenue (finance.daily_revenue, day): awaiting_approval',
        'monthly_revenue (finance.monthly_revenue, month): awaiting_approval',
        'merchant_ltv_monthly (finance.merchant_ltv_monthly, month): awaiting_approval',
      ]);
      const status = await handle.query(releaseStatusQuery);
      sections.forEach(({ text }, i) => {
        const n = status.nodes[i]!;
        const s = n.summary!;
        // Markdown typesets "26/26" with a fraction slash.
        expect(text).toMatch(new RegExp(`batches ${n.batches.total}[/⁄]${n.batches.total}, ` +
          `partitions ${n.partitions.total}[/⁄]${n.partitions.total}` +
          (i === 0 ? '\\n' : `; reads ${graph.nodes[i - 1]!.id}\\n`)));
        // Every batch passed, with the rows and measure moves the node reported, all within expectations.
        const moves = s.measures.map((x) => {
          expect(x.withinExpected, `${n.node} ${x.column}`).toBe(true);
          const pct = x.deltaPct === null ? 'n/a' : `${x.deltaPct >= 0 ? '+' : ''}${x.deltaPct.toFixed(3)}%`;
          return `${x.column} ${pct}`;
        });
        expect(text).toContain(`reconciled: ${s.batches.total} passed, 0 accepted; ` +
          `rows ${s.rows.old} → ${s.rows.new}; ${moves.join(', ')}\n`);
      });
      // The approver copies the digest of what they read from the details into the form.
      digest = /^decision digest ([0-9a-f]{64})$/m.exec(shown)?.[1] ?? '';
      expect(digest).toBe(status.decisionDigest);
      expect(shown.trim().split('\n').at(-1)).toBe(`decision digest ${digest}`);
    });
    await page.screenshot({ path: artifactPath('release-ui-approval-details.png'), fullPage: true });

    // Someone who is not an approver: the server takes the signal (the form only says "Workflow
    // signaled."), so the refusal must show where the operator looks next, the current details.
    await sendSignalThroughUi(page, {
      uiUrl, namespace, workflowId, signalName: 'approve',
      inputJson: typedJson({ by: 'mallory', comment: 'looks fine', digest }),
      failurePrefix: FAILURE_PREFIX,
    });
    await waitForRelease(handle, (s) => s.lastRefusal?.by === 'mallory', 20_000);
    await uiStep(page, FAILURE_PREFIX, 'the refusal in the current details', async () => {
      const shown = await readCurrentDetails(page, { uiUrl, namespace, workflowId, shows: /Last refused/ });
      // (Markdown curls the quotes of plain text.)
      expect(shown.trim().split('\n').at(-1))
        .toMatch(/^Last refused: approve from .mallory. at \S+: approve refused: .mallory. is not an approver/);
      // Still the same decision to take: the refusal changed nothing the digest covers.
      expect(shown).toMatch(new RegExp(`^decision digest ${digest}$`, 'm'));
    });
    await page.screenshot({ path: artifactPath('release-ui-approval-refusal.png'), fullPage: true });

    await sendSignalThroughUi(page, {
      uiUrl, namespace, workflowId, signalName: 'approve',
      inputJson: typedJson({ ...APPROVAL, digest }),
      formScreenshot: artifactPath('release-ui-approval-signal-form.png'),
      failurePrefix: FAILURE_PREFIX,
    });

    const published = await waitForRelease(handle, (s) => s.state === 'published' || s.state === 'failed', 60_000);
    expect(published.state, published.error ?? published.phase).toBe('published');
    expect(published.approval.approved).toMatchObject({ ...APPROVAL, digest });
    expect(published.approval.refusals.map((r) => r.by)).toEqual(['mallory']);
    // One publish of all three targets, each with the rows its node reconciled, under the approval given.
    const publish = published.record!.publish!;
    expect(publish.approvedBy).toBe(APPROVAL.by);
    expect(publish.approval).toEqual({ by: APPROVAL.by, digest, keyId: null, signature: null });
    expect(publish.nodes.map((n) => [n.id, n.target])).toEqual(graph.nodes.map((n, i) => [n.id, EXAMPLE_TARGETS[i]]));
    publish.nodes.forEach((n, i) => {
      expect(n.rowsInserted, n.target).toBe(waiting.nodes[i]!.summary!.rows.new);
      expect(n.rowsInserted, n.target).toBeGreaterThan(0);
    });
    expect(published.nodes.map((n) => n.state)).toEqual(['published', 'published', 'published']);

    // The UI sent one json/plain payload per form, the object typed into it.
    const history = await handle.fetchHistory();
    const approvals = (history.events ?? [])
      .map((e) => e.workflowExecutionSignaledEventAttributes)
      .filter((x) => x?.signalName === 'approve')
      .map((x) => x!.input?.payloads ?? []);
    expect(approvals.map((p) => p.length)).toEqual([1, 1]);
    expect(Buffer.from(approvals[1]![0]!.metadata!.encoding!).toString()).toBe('json/plain');
    expect(defaultPayloadConverter.fromPayload(approvals[1]![0]!)).toEqual({ ...APPROVAL, digest });

    await uiStep(page, FAILURE_PREFIX, 'the published release in the list and the current details', async () => {
      await waitForListedWorkflow(page, { uiUrl, namespace, query: 'BackfillState="published"', workflowId });
      const shown = await readCurrentDetails(page, { uiUrl, namespace, workflowId, shows: ': published\n' });
      expect(nodeSections(shown).map((x) => x.heading)).toEqual(graph.nodes.map((n, i) =>
        `${n.id} (${EXAMPLE_TARGETS[i]}, ${n.spec.source_range.grain}): published`));
    });
    await page.screenshot({ path: artifactPath('release-ui-approval-published.png'), fullPage: true });
  }, 240_000);
});

/** The node sections of the release's details as the UI renders them: each heading and the text up to the next. */
function nodeSections(shown: string): Array<{ heading: string; text: string }> {
  const text = shown.replace(/\n{2,}/g, '\n');
  const headings = [...text.matchAll(/^\w+ \([\w.]+, \w+\): \w+$/gm)];
  const digestAt = text.indexOf('\ndecision digest');
  const end = digestAt < 0 ? text.length : digestAt + 1;
  return headings.map((h, i) => ({
    heading: h[0],
    text: text.slice(h.index + h[0].length + 1, headings[i + 1]?.index ?? end),
  }));
}
