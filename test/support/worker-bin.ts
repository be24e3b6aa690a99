/**
 * The worker as `npm run worker` starts it (bin/worker.cjs, the bundle), configured only through
 * the environment, in its own process; resolves once it polls. The caller stops it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

export interface WorkerBin {
  child: ChildProcess;
  /** Everything it printed so far (JSON log lines). */
  log(): string;
  stop(): Promise<void>;
}

export async function startWorkerBin(env: NodeJS.ProcessEnv): Promise<WorkerBin> {
  let log = '';
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'worker.cjs')], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, BACKFILL_METRICS_ADDRESS: 'off', BACKFILL_METRICS_SDK_ADDRESS: 'off', ...env },
  });
  await new Promise<void>((resolve, reject) => {
    const seen = (d: Buffer) => {
      log += d.toString();
      if (log.includes('"state":"RUNNING"')) resolve();
    };
    child.stdout!.on('data', seen);
    child.stderr!.on('data', seen);
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}:\n${log}`)));
  });
  return {
    child,
    log: () => log,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
