/**
 * Already-running backfills must survive a deploy: every history recorded under
 * test/workflows/histories/ (by its record.ts) is replayed against the current workflow code. A
 * change of the commands the workflow issues, or of their order, fails here with a
 * DeterminismViolationError; version such a change with patched() (see README.md).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { workflowIdFor } from '../../contracts/settings';
import type { BackfillInput } from '../../contracts/status';
import { workflowBundle } from '../support/backfill-harness';

const DIR = join(__dirname, 'histories');
const files = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();

interface HistoryJson {
  events: Array<{ workflowExecutionStartedEventAttributes?: { input?: { payloads?: Array<{ data?: string }> } } }>;
}

/** The workflow ID (a history does not carry it), from the start event's input as startBackfill derives it. */
function workflowIdOf(json: HistoryJson, file: string): string {
  const payload = json.events[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  if (!payload?.data) throw new Error(`${file}: the first event is not a workflow start with an input`);
  const input = JSON.parse(Buffer.from(payload.data, 'base64').toString('utf8')) as BackfillInput;
  return workflowIdFor(input.spec.backfill_id);
}

describe('recorded histories replay against the current workflow code', () => {
  it('has histories to replay', () => {
    expect(files.length).toBeGreaterThan(0);
  });

  it.each(files)('%s', async (file) => {
    const json = JSON.parse(readFileSync(join(DIR, file), 'utf8')) as HistoryJson;
    const history = historyFromJSON(json);
    expect(history.events?.length).toBeGreaterThan(0);
    // Throws DeterminismViolationError when the code issues other commands than the history
    // recorded, ReplayError on any other failure of a workflow task.
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, workflowIdOf(json, file));
  });
});
