/**
 * What the workflow engine alone costs per batch on this machine: a workflow of N in-order no-op
 * activities (each scheduled when the one before has completed, as each batch's checkpoint is) on
 * the same dev server and SDK the backfill uses, with nothing else running.
 *   npm run bench:temporal-floor -- [--steps 92] [--rounds 3]
 * Prints the time per step and what N steps cost, beside the budgets `npm run bench` is judged on
 * (the hourly case: ≤ 10× a 0.15 s floor for 92 batches). A lower bound, not a target: every
 * batch's checkpoint is one such step, before any SQL runs.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Runtime, Worker, DefaultLogger } from '@temporalio/worker';
import { startDevServer } from '../scripts/dev-server';
import type { chain } from './temporal-floor/workflows';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { steps: { type: 'string', default: '92' }, rounds: { type: 'string', default: '3' } },
  });
  const steps = Number(values.steps);
  const rounds = Number(values.rounds);
  if (!Number.isInteger(steps) || steps < 1 || steps > 10_000) throw new Error('--steps: a whole number 1..10000');
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20) throw new Error('--rounds: a whole number 1..20');
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const server = await startDevServer({ headless: true });
  try {
    const { code } = await bundleWorkflowCode({
      workflowsPath: join(__dirname, 'temporal-floor', 'workflows.ts'),
      logger: new DefaultLogger('WARN'),
    });
    const native = await NativeConnection.connect({ address: server.address });
    const taskQueue = `temporal-floor-${randomUUID()}`;
    const worker = await Worker.create({
      connection: native, namespace: server.namespace, taskQueue, workflowBundle: { code },
      activities: { noop: async (i: number) => i },
    });
    const connection = await Connection.connect({ address: server.address });
    const client = new Client({ connection, namespace: server.namespace });
    const ms: number[] = [];
    await worker.runUntil(async () => {
      for (let r = 0; r < rounds; r++) {
        const t0 = performance.now();
        const workflowId = `chain-${randomUUID()}`;
        await client.workflow.execute<typeof chain>('chain', { taskQueue, workflowId, args: [steps] });
        ms.push(performance.now() - t0);
      }
    });
    await native.close();
    await connection.close();
    const best = Math.min(...ms);
    const sorted = [...ms].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    console.log(`Temporal floor: one workflow of ${steps} in-order no-op activities, ${rounds} round(s)`);
    console.log(`  whole workflow      ${(best / 1000).toFixed(3)} s best, ${(median / 1000).toFixed(3)} s median`);
    console.log(`  per step            ${(best / steps).toFixed(1)} ms best, ${(median / steps).toFixed(1)} ms median`);
    console.log(`  hourly case budget  1.5 s (≤ 10× its 0.15 s floor) for 92 batches: ${steps === 92
      ? `this floor alone is ${(best / 1500 * 100).toFixed(0)}% of it` : 'run with --steps 92 to compare'}`);
  } finally {
    await server.stop();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
