/**
 * How the CLI draws on a terminal: colour (picocolors), tables (cli-table3) and the watch progress
 * bar (cli-progress). Colour only where Node's tty says the terminal wants it (it reads NO_COLOR,
 * FORCE_COLOR and TERM), never into a pipe: scripts, CI logs and the tests read plain text. Loaded
 * only by the commands that draw (`need.terminal` in cli.ts, and format.ts for the plan).
 */
import { Format, SingleBar } from 'cli-progress';
import Table from 'cli-table3';
import { createColors } from 'picocolors';
import type { BackfillState, BackfillStatus } from '../contracts/status';

export type Paint = ReturnType<typeof createColors>;

/** The colours for one stream: none unless it is a terminal that wants them. */
export function colorsFor(stream: NodeJS.WriteStream): Paint {
  return createColors(Boolean(stream.isTTY && stream.hasColors()));
}

/** stdout's colours. */
export const paint = colorsFor(process.stdout);

/** What a state asks of a person: green when done well, yellow when someone must act, red when stopped. */
const STATE_COLOUR: Partial<Record<BackfillState, 'green' | 'yellow' | 'red'>> = {
  published: 'green',
  completed: 'green',
  paused: 'yellow',
  awaiting_approval: 'yellow',
  halted: 'red',
  failed: 'red',
  rolled_back: 'red',
};

const stateColour = (state: string, c: Paint) => {
  const colour = STATE_COLOUR[state as BackfillState];
  return colour ? c[colour] : String;
};

/** A state name in its colour. */
export const stateText = (state: string, c: Paint = paint): string => stateColour(state, c)(state);

/** cli-table3 without borders: columns two spaces apart; `mid` draws the rule under the header. */
const BLANK = {
  top: '', 'top-mid': '', 'top-left': '', 'top-right': '',
  bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '',
  left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '  ',
};

export interface TableOptions {
  /** Columns (by index) aligned right: numbers. */
  right?: readonly number[];
  /** A rule of dashes under the header. */
  rule?: boolean;
  /** Columns wider than this many characters wrap (every value stays whole, the others stay aligned). */
  maxWidth?: number;
}

/** A plain-text table: a bold header, aligned columns, no trailing spaces. */
export function table(header: readonly string[], rows: readonly string[][], opts: TableOptions = {}): string {
  const maxWidth = opts.maxWidth;
  const widest = (i: number) => Math.max(header[i]!.length, ...rows.map((r) => r[i]?.length ?? 0));
  const t = new Table({
    head: header.map((h) => paint.bold(h)),
    chars: opts.rule ? { ...BLANK, mid: '-', 'mid-mid': '  ' } : BLANK,
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0, compact: true },
    colAligns: header.map((_, i) => (opts.right?.includes(i) ? 'right' : 'left')),
    ...(maxWidth && {
      colWidths: header.map((_, i) => (widest(i) > maxWidth ? maxWidth : null)),
      wordWrap: true,
      wrapOnWordBoundary: false,
    }),
  });
  t.push(...rows.map((r) => [...r]));
  return t.toString().split('\n').map((line) => line.trimEnd()).join('\n');
}

export interface WatchDisplay {
  show(s: BackfillStatus, rate: number | null): void;
  /** Ends the bar's line (and its redraw timer); call it whatever way the watch ends. */
  stop(): void;
}

/**
 * What `watch` shows. On a terminal: a cli-progress bar of partitions, coloured by state, redrawn in
 * place, followed by `describe`'s text. Elsewhere (a pipe, a CI log): `describe`'s text as a line
 * whenever it says something new (a changed rate alone is not new).
 */
export function watchDisplay(
  describe: (s: BackfillStatus, rate: number | null) => string,
  stream: NodeJS.WriteStream = process.stdout,
): WatchDisplay {
  if (!stream.isTTY) {
    let last: string | null = null;
    return {
      show(s, rate) {
        const news = describe(s, null);
        if (news !== last) stream.write(`${describe(s, rate)}\n`);
        last = news;
      },
      stop() {},
    };
  }
  const c = colorsFor(stream);
  const bar = new SingleBar({
    stream,
    barsize: 24,
    barCompleteChar: '#',
    barIncompleteChar: '.',
    // Nothing planned yet (0/0) is an empty bar, not a full one.
    emptyOnZero: true,
    // Truncated at the terminal's width rather than wrapped (a wrapped line cannot be redrawn in place).
    linewrap: true,
    format: (options, params, payload: { line: string; state: string }) =>
      `[${stateColour(payload.state, c)(Format.BarFormat(params.progress, options))}] ${payload.line}`,
  });
  let started = false;
  return {
    show(s, rate) {
      const payload = { line: describe(s, rate), state: s.state };
      if (!started) {
        bar.start(s.partitions.total, s.partitions.done, payload);
        started = true;
      } else {
        bar.setTotal(s.partitions.total);
        bar.update(s.partitions.done, payload);
      }
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
