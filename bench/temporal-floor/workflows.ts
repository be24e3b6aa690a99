/** The Temporal floor's workflows (bench/temporal-floor.ts): in-order activity steps with no work in them. */
import { proxyActivities } from '@temporalio/workflow';

const { noop } = proxyActivities<{ noop(i: number): Promise<number> }>({ startToCloseTimeout: '1 minute' });

/** `steps` activities, each scheduled when the one before it has completed: the in-order checkpoint chain. */
export async function chain(steps: number): Promise<number> {
  let sum = 0;
  for (let i = 0; i < steps; i++) sum += await noop(i);
  return sum;
}
