/**
 * How long the CLI takes to answer, as a person runs it (a fresh process each time):
 *   npm run bench:cli -- [--runs 7]
 * Times `node bin/backfill.cjs` (the bundle, rebuilt first if stale) for commands that need no
 * server or warehouse, beside the same commands run through tsx from the TypeScript sources, and
 * prints min and median per command with the target (well under a second; `npx` adds its own start).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from '../scripts/built.cjs';

const ROOT = join(__dirname, '..');
const COMMANDS: string[][] = [['--version'], ['--help'], ['validate', 'examples/revenue-tax-fix.yaml'], ['schema']];
const TARGET_S = 1;

function time(argv: string[]): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, argv, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  const s = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}: ${r.stderr.toString().slice(0, 400)}`);
  return s;
}

function main(): void {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '7' } } });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > 50) throw new Error('--runs: a whole number 1..50');
  build();
  const ways: Array<[string, string[]]> = [
    ['bundled (bin/backfill.cjs)', [join(ROOT, 'bin', 'backfill.cjs')]],
    ['tsx, from the sources', ['--require', 'tsx/cjs', join(ROOT, 'client', 'cli.ts')]],
  ];
  console.log(`CLI start-up, ${runs} runs each, interleaved; seconds from process start to exit`);
  console.log(`${'command'.padEnd(50)} ${'way'.padEnd(28)} ${'min'.padStart(6)} ${'median'.padStart(7)}  target`);
  for (const args of COMMANDS) {
    const samples = new Map<string, number[]>(ways.map(([w]) => [w, []]));
    for (let i = 0; i < runs; i++) for (const [w, argv] of ways) samples.get(w)!.push(time([...argv, ...args]));
    for (const [w] of ways) {
      const s = samples.get(w)!.sort((a, b) => a - b);
      const median = s[Math.floor(s.length / 2)]!;
      const verdict = w.startsWith('bundled') ? `< ${TARGET_S} s ${median < TARGET_S ? 'PASS' : 'MISS'}` : '';
      console.log(
        `${`backfill ${args.join(' ')}`.padEnd(50)} ${w.padEnd(28)} ${s[0]!.toFixed(2).padStart(6)} ` +
          `${median.toFixed(2).padStart(7)}  ${verdict}`,
      );
    }
  }
}

main();
