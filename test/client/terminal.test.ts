/**
 * What the CLI draws: tables (cli-table3), colour only on a terminal that wants it (picocolors),
 * and watch's display — a cli-progress bar redrawn in place on a terminal, plain new lines elsewhere.
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { BackfillStatus } from '../../contracts/status';
import { progressLine } from '../../client/operate';
import { colorsFor, stateText, table, watchDisplay } from '../../client/terminal';

const ANSI = /\x1b\[/; // eslint-disable-line no-control-regex

/** A stream that records what is written; a terminal when `tty` (wide, colours as given). */
function stream(tty: boolean, colours = true) {
  const s = new PassThrough() as PassThrough & Partial<NodeJS.WriteStream>;
  let text = '';
  s.on('data', (chunk: Buffer) => (text += chunk.toString()));
  Object.assign(s, { isTTY: tty, columns: 200, rows: 24, hasColors: () => colours });
  return { stream: s as unknown as NodeJS.WriteStream, text: () => text };
}

const status = (done: number, state: BackfillStatus['state'], extra: Partial<BackfillStatus> = {}) =>
  ({
    state,
    partitions: { done, total: 10 },
    batches: { done: Math.floor(done / 5), total: 2 },
    eta: null,
    pause: null,
    halt: null,
    ...extra,
  }) as unknown as BackfillStatus;

describe('table', () => {
  it('aligns columns two spaces apart, numbers right, a rule under the header, no trailing spaces', () => {
    const text = table(['batch', 'first', 'rows'], [['1', '2024-12-01', '1,234'], ['10', '2024-12-08', '12'],
      ['…', '7 more', '']], { right: [2], rule: true });
    expect(text.split('\n')).toEqual([
      'batch  first        rows',
      '-----  ----------  -----',
      '1      2024-12-01  1,234',
      '10     2024-12-08     12',
      '…      7 more',
    ]);
  });

  it('wraps a value wider than maxWidth inside its column and keeps the others aligned', () => {
    const long = 'x'.repeat(25);
    const lines = table(['id', 'payload', 'n'], [['a', long, '1'], ['b', 'short', '2']], { maxWidth: 10 }).split('\n');
    expect(lines[0]).toBe('id  payload     n');
    expect(lines.join('')).toContain('x'.repeat(10));
    expect(lines.join('').replace(/[^x]/g, '')).toHaveLength(25); // every character still shown
    expect(lines.every((l) => l.length <= 'id  payload     n'.length)).toBe(true);
    expect(lines.at(-1)).toBe('b   short       2');
  });
});

describe('colour', () => {
  it('only on a terminal that wants it', () => {
    expect(colorsFor(stream(true).stream).red('x')).toMatch(ANSI);
    expect(colorsFor(stream(true, false).stream).red('x')).toBe('x'); // NO_COLOR, TERM=dumb: hasColors() is false
    expect(colorsFor(stream(false).stream).red('x')).toBe('x');
  });

  it('colours states by what they ask of a person, and leaves the rest plain', () => {
    const c = colorsFor(stream(true).stream);
    expect(stateText('halted', c)).toBe(c.red('halted'));
    expect(stateText('awaiting_approval', c)).toBe(c.yellow('awaiting_approval'));
    expect(stateText('completed', c)).toBe(c.green('completed'));
    expect(stateText('running', c)).toBe('running');
    expect(stateText('halted', colorsFor(stream(false).stream))).toBe('halted');
  });
});

describe('watchDisplay', () => {
  it('off a terminal, writes a plain line whenever it says something new (a rate alone is not new)', () => {
    const out = stream(false);
    const display = watchDisplay(progressLine, out.stream);
    display.show(status(0, 'running'), null);
    display.show(status(0, 'running'), 1.5);
    display.show(status(5, 'running'), 2);
    display.show(status(5, 'paused', { pause: { kind: 'operator', reason: 'look', by: 'oncall' } } as never), 2);
    display.stop();
    expect(out.text()).not.toMatch(ANSI);
    expect(out.text().split('\n')).toEqual([
      '0/10 partitions · batch 0/2 · running',
      '5/10 partitions · batch 1/2 · 2.0/s · running',
      '5/10 partitions · batch 1/2 · 2.0/s · paused — paused (operator): look',
      '',
    ]);
  });

  it('on a terminal, draws a bar of partitions in place and ends its line when stopped', async () => {
    const out = stream(true);
    const display = watchDisplay(progressLine, out.stream);
    display.show(status(0, 'running'), null);
    display.show(status(5, 'running'), 2);
    await new Promise((r) => setTimeout(r, 250)); // cli-progress redraws on its own timer
    display.show(status(10, 'halted', { halt: { reason: 'net_revenue out of range', options: [] } } as never), 2);
    display.stop();
    const text = out.text();
    expect(text).toContain(`[${'.'.repeat(24)}] 0/10 partitions · batch 0/2 · running`);
    expect(text).toContain(`[${'#'.repeat(12)}${'.'.repeat(12)}] 5/10 partitions`);
    // The bar is in the state's colour; the text after it is the same line as off a terminal.
    const c = colorsFor(out.stream);
    expect(text).toContain(`[${c.red('#'.repeat(24))}] 10/10 partitions · batch 2/2 · 2.0/s · halted — halted: net_`);
    expect(text).toMatch(ANSI);
    expect(text.endsWith('\n')).toBe(true);
  });
});
