/**
 * Page helpers for the Temporal Web UI (2.54, bundled with the Temporal CLI's dev server), driven
 * with role and text selectors so a restyled UI keeps working. Every step that waits takes a
 * screenshot when it fails and names it in the error, because a bare Playwright timeout says
 * nothing about what the page showed.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';

export const ARTIFACTS_DIR = path.resolve(__dirname, '..', '..', 'test-artifacts');

export function artifactPath(file: string): string {
  return path.join(ARTIFACTS_DIR, file);
}

/**
 * A page on the UI that can only reach the UI's own origin: the UI also fetches a newsfeed from
 * temporal.io, which is noise offline and a source of nondeterminism online.
 */
export async function openUiPage(browser: Browser, uiUrl: string): Promise<Page> {
  await mkdir(ARTIFACTS_DIR, { recursive: true });
  const origin = new URL(uiUrl).origin;
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  await context.route('**/*', (route) =>
    new URL(route.request().url()).origin === origin ? route.continue() : route.abort(),
  );
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  return page;
}

/**
 * Runs one UI step; when it throws, saves a screenshot as test-artifacts/<failurePrefix>-<step>.png
 * and rethrows with the step, the page URL and the screenshot path in the message.
 */
export async function uiStep<T>(page: Page, failurePrefix: string, step: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const shot = artifactPath(`${failurePrefix}-${step.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}.png`);
    const saved = await page.screenshot({ path: shot, fullPage: true }).then(() => true, () => false);
    const reason = e instanceof Error ? e.message : String(e);
    throw new Error(
      `Temporal UI step "${step}" failed at ${page.url()}: ${reason}\n` +
        (saved ? `Screenshot of the page: ${shot}` : 'The page could not be screenshotted (browser gone?).'),
      { cause: e },
    );
  }
}

export function workflowsListUrl(uiUrl: string, namespace: string, query: string): string {
  return `${uiUrl}/namespaces/${encodeURIComponent(namespace)}/workflows?query=${encodeURIComponent(query)}`;
}

export function workflowUrl(uiUrl: string, namespace: string, workflowId: string): string {
  return `${uiUrl}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

/**
 * Opens the Workflows list filtered by a visibility query and waits until `workflowId` is listed.
 * Visibility is eventually consistent (a search attribute upsert shows a moment later), so the
 * page is reloaded until the row appears or `timeoutMs` passes.
 */
export async function waitForListedWorkflow(
  page: Page,
  opts: { uiUrl: string; namespace: string; query: string; workflowId: string; timeoutMs?: number },
): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  const row = page.getByRole('link', { name: opts.workflowId, exact: true }).first();
  const empty = page.getByRole('heading', { name: 'No Workflows Found' });
  for (;;) {
    await page.goto(workflowsListUrl(opts.uiUrl, opts.namespace, opts.query));
    // Either the row or the empty state: both mean the query has answered.
    await row.or(empty).first().waitFor();
    if (await row.isVisible()) return;
    if (Date.now() > deadline) {
      throw new Error(
        `workflow ${opts.workflowId} is not listed for the query ${opts.query} (within ${opts.timeoutMs ?? 30_000} ms)`,
      );
    }
    await page.waitForTimeout(500);
  }
}

/** Opens the Workflows list filtered by a visibility query and waits for the UI's empty state. */
export async function expectEmptyList(
  page: Page,
  opts: { uiUrl: string; namespace: string; query: string },
): Promise<void> {
  await page.goto(workflowsListUrl(opts.uiUrl, opts.namespace, opts.query));
  await page.getByRole('heading', { name: 'No Workflows Found' }).waitFor();
}

/**
 * Signal input as an operator types it into the form, the way README's messages table shows it:
 * `{"by": "finance-controller", "comment": "...", "digest": "..."}`.
 */
export function typedJson(fields: Record<string, string>): string {
  return `{${Object.entries(fields).map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(', ')}}`;
}

/**
 * The workflow's current details as its page shows them (under the User Metadata tab), once they
 * match `shows`. The UI renders the Markdown in a sandboxed frame, so the frames' text is read until
 * one matches; the page is reloaded every few seconds, as it need not follow a running workflow.
 */
export async function readCurrentDetails(
  page: Page,
  opts: { uiUrl: string; namespace: string; workflowId: string; shows: string | RegExp; timeoutMs?: number },
): Promise<string> {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const matches = (t: string) => (typeof opts.shows === 'string' ? t.includes(opts.shows) : opts.shows.test(t));
  const deadline = Date.now() + timeoutMs;
  let texts: string[] = [];
  for (;;) {
    await page.goto(workflowUrl(opts.uiUrl, opts.namespace, opts.workflowId));
    // This UI shows the workflow's current details under its User Metadata tab.
    await page.getByText('User Metadata', { exact: true }).first().click();
    const reload = Math.min(deadline, Date.now() + 5_000);
    while (Date.now() < reload) {
      texts = await Promise.all(page.frames().map((f) => f.locator('body').innerText().catch(() => '')));
      const shown = texts.find(matches);
      if (shown !== undefined) return shown;
      await page.waitForTimeout(250);
    }
    if (Date.now() >= deadline) {
      const seen = texts.filter((t) => t.trim()).map((t) => t.trim().slice(0, 400)).join('\n---\n');
      throw new Error(`the current details do not show ${String(opts.shows)} (within ${timeoutMs} ms); ` +
        `the page's frames show:\n${seen}`);
    }
  }
}

export interface SignalThroughUi {
  uiUrl: string;
  namespace: string;
  workflowId: string;
  signalName: string;
  /** JSON text typed into the form's Data editor as is (the form sends it as one json/plain payload). */
  inputJson: string;
  /** Where to save the filled form, before it is submitted. */
  formScreenshot?: string;
  failurePrefix: string;
}

/**
 * Sends a signal the way an operator does: workflow page → More Actions → Send a Signal → pick the
 * name from the list the UI builds from the workflow's registered handlers → JSON → Submit.
 * Returns the description the UI showed next to the signal name.
 */
export async function sendSignalThroughUi(page: Page, opts: SignalThroughUi): Promise<{ description: string }> {
  const step = <T>(name: string, fn: () => Promise<T>) => uiStep(page, opts.failurePrefix, name, fn);
  const dialog = page.getByRole('dialog', { name: 'Send a Signal' });

  await step('open workflow page', async () => {
    await page.goto(workflowUrl(opts.uiUrl, opts.namespace, opts.workflowId));
    await page.getByRole('heading', { name: opts.workflowId }).waitFor();
  });
  await step('open the Send a Signal form', async () => {
    await page.getByRole('button', { name: 'More Actions' }).click();
    await page.getByRole('menuitem', { name: 'Send a Signal' }).click();
    await dialog.waitFor();
  });
  const description = await step(`choose the signal ${opts.signalName}`, async () => {
    // The names come from the workflow's __temporal_workflow_metadata query, so a running worker
    // is what makes them appear; there is also a "Custom" option to type a name.
    await dialog.getByRole('button', { name: /Signal name|Select a signal/ }).click();
    const option = dialog.getByRole('option').filter({ has: page.getByText(opts.signalName, { exact: true }) });
    await option.waitFor();
    const text = (await option.innerText()).trim();
    await option.click();
    // The list closes with a short fade; until it has, it covers the rest of the form.
    await dialog.getByRole('listbox').waitFor({ state: 'hidden' });
    return text.slice(opts.signalName.length).trim();
  });
  await step('enter the JSON input', async () => {
    // A CodeMirror editor (contenteditable); fill() inserts the text as one edit, so the editor's
    // bracket auto-closing cannot double any brace or quote.
    const editor = dialog.getByRole('textbox', { name: 'Data' });
    await editor.fill(opts.inputJson);
    // Leaving the editor pretty-prints the JSON, which makes the dialog taller and moves Submit: a
    // click on Submit straight from the editor blurs it first and lands where the button was.
    await editor.blur();
    await dialog.getByText('Single JSON payload supported.').waitFor();
    await page.waitForTimeout(300);
    const typed = await editor.innerText();
    if (typed.replace(/\s+/g, '') !== opts.inputJson.replace(/\s+/g, '')) {
      throw new Error(`the Data editor holds ${typed}, not ${opts.inputJson}`);
    }
    // The form validates the JSON before it enables Submit.
    await expectEnabled(dialog.getByRole('button', { name: 'Submit' }), 'Submit');
  });
  if (opts.formScreenshot) await page.screenshot({ path: opts.formScreenshot });
  await step('submit the signal', async () => {
    await dialog.getByRole('button', { name: 'Submit' }).click();
    try {
      // The toast, and the same words again in an aria-live region for screen readers.
      await page.getByText('Workflow signaled.').first().waitFor();
    } catch (e) {
      // A failed send (e.g. the workflow has closed) leaves the dialog open with the error in its alert.
      const alert = await dialog.getByRole('alert').allInnerTexts().catch(() => []);
      const shown = alert.map((a) => a.trim()).filter(Boolean).join(' | ');
      throw new Error(`no "Workflow signaled." notice${shown ? `; the form says: ${shown}` : ''}`, { cause: e });
    }
    await dialog.waitFor({ state: 'hidden' });
  });
  return { description };
}

async function expectEnabled(button: Locator, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await button.isEnabled())) {
    if (Date.now() > deadline) throw new Error(`${what} is still disabled after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
