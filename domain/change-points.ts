/**
 * Change-points in one measure's per-partition delta% series: level shifts (the day a bug starts
 * moves every later partition) and outlier partitions (one partition far from its neighbours: a
 * spike or trough that can mean a partial rewrite). It replaces comparing neighbours across month
 * edges, which flags every edge of a noisy hourly series and misses a discontinuity inside a month.
 *
 * Robust statistics throughout, so one odd partition can neither hide nor fake a shift:
 * - the level either side of a candidate partition is the median of a window of whole periods (a
 *   week of days, a day of hours, a quarter of months), so a pattern that repeats unchanged within
 *   the period (hours holding different currencies) cancels out;
 * - the noise scale comes from differences at the grain's seasonal lag (an hour against the same
 *   hour a day earlier), so a daily pattern of hours does not pass for noise and raise the bar;
 * - a steady trend moves every pair of windows apart alike, so the typical shift is taken as the
 *   trend and only the excess over it counts;
 * - a shift counts when it exceeds both JUMP_K standard errors of the two medians' difference and a
 *   floor in percentage points (hours are noisier than days, so their floor is higher), and when the
 *   median of all differences between the two windows agrees (two kinds of partition mixed about
 *   half and half in one window can move its median alone);
 * - an outlier differs from its neighbours on both sides, beyond what the spread around it makes
 *   ordinary.
 *
 * Pure and deterministic (no clock, no I/O): the completion check and the report both call it.
 */
import { partitionOrdinal, type Grain } from './partitions';

export interface ChangePoint {
  measure: string;
  /** The partition where the new level starts (jump) or the odd partition itself (outlier). */
  partition: string;
  kind: 'jump' | 'outlier';
  /** delta% before: the median of the window before (jump) or of the neighbours (outlier). */
  before: number;
  /** delta% after: the median of the window from `partition` on (jump) or the partition's own (outlier). */
  after: number;
  /** |after - before|, in percentage points. */
  magnitude: number;
  /** One line naming the partition and the figures, for warnings and the report. */
  message: string;
}

export interface ChangePointOptions {
  grain: Grain;
  measure: string;
  /** The measure's expected change, quoted in jump messages so the reader can relate the levels to it. */
  expected?: { min: number; max: number };
}

/** Change-points kept per measure; the strongest are kept when there are more. */
export const MAX_CHANGE_POINTS = 10;
/** Fewer usable partitions than this say nothing about shape. */
const MIN_POINTS = 5;
/** Standard errors a jump must exceed: candidates overlap heavily, so a high bar keeps noise quiet. */
const JUMP_K = 5;
/** Standard errors an outlier must exceed against each side's neighbours. */
const OUTLIER_K = 5;
/** Neighbours at the seasonal lag on each side of an outlier candidate. */
const NEIGHBOURS = 3;
/** Lag differences needed to trust a seasonal noise scale; fewer fall back to adjacent differences. */
const MIN_LAG_PAIRS = 8;
/** MAD to a normal standard deviation; a median's standard error relative to a mean's (sqrt(pi / 2)). */
const MAD_TO_SD = 1.4826;
const MEDIAN_SE = 1.2533;
/** The central 90% of a normal spans 2 × 1.645 standard deviations. */
const P90_TO_SD = 1 / 3.29;

interface GrainRule {
  /** Partitions (in time, gaps included) on each side whose median is a level. */
  window: number;
  /** The shortest side allowed at the series' ends; hours need a whole day for the daily pattern to cancel. */
  minSide: number;
  /** Seasonal lag of the noise scale and of outlier neighbours. */
  lag: number;
  /** Smallest jump and outlier worth a warning, in percentage points. */
  jumpFloor: number;
  outlierFloor: number;
  /** Partitions either side whose spread says what is ordinary around an outlier candidate. */
  context: number;
  unit: string;
}

const RULES: Record<Grain, GrainRule> = {
  hour: { window: 24, minSide: 24, lag: 24, jumpFloor: 1, outlierFloor: 2, context: 7 * 24, unit: 'hour' },
  day: { window: 7, minSide: 3, lag: 1, jumpFloor: 0.5, outlierFloor: 1, context: 28, unit: 'day' },
  month: { window: 3, minSide: 2, lag: 1, jumpFloor: 0.5, outlierFloor: 1, context: 12, unit: 'month' },
};

/** One series being scanned: usable points in time order and what every step reads. */
interface Scan {
  rule: GrainRule;
  opts: ChangePointOptions;
  partitions: string[];
  /** Position in time at the grain; the index in the series when labels are not partitions. */
  ts: number[];
  xs: number[];
  /** Position in time → index. */
  indexOf: Map<number, number>;
  /** Differences at the seasonal lag, and the index of each one's later point (ascending). */
  diffs: number[];
  diffAt: number[];
  /** The point noise's standard deviation over the whole range. */
  scale: number;
}

interface Found extends ChangePoint {
  /** Position among the usable points, for ordering. */
  index: number;
  /** How far past its threshold, for choosing what to keep. */
  score: number;
}

/**
 * Jumps and outlier partitions of one measure's per-partition delta% (`series` in partition order;
 * null = no percentage, skipped). At most MAX_CHANGE_POINTS, in partition order.
 */
export function changePoints(
  series: Array<{ partition: string; deltaPct: number | null }>,
  opts: ChangePointOptions,
): ChangePoint[] {
  const scan = scanOf(series, opts);
  if (!scan) return [];
  const found = [...jumps(scan), ...outliers(scan)];
  // Jumps are the story of a range; outliers can be many on a noisy measure. Keep the strongest.
  const kept = found
    .sort((a, b) => (a.kind === b.kind ? b.score - a.score || a.index - b.index : a.kind === 'jump' ? -1 : 1))
    .slice(0, MAX_CHANGE_POINTS)
    .sort((a, b) => a.index - b.index || (a.kind === 'jump' ? -1 : 1));
  return kept.map(({ index: _i, score: _s, ...point }) => point);
}

function scanOf(series: Array<{ partition: string; deltaPct: number | null }>, opts: ChangePointOptions): Scan | null {
  const rule = RULES[opts.grain];
  const kept = series.filter(
    (p): p is { partition: string; deltaPct: number } => p.deltaPct !== null && Number.isFinite(p.deltaPct),
  );
  if (kept.length < MIN_POINTS) return null;
  const ordinals = kept.map((p) => partitionOrdinal(p.partition, opts.grain));
  // Labels that are not partitions at this grain (a hand-made series): equally spaced, in order.
  const byTime = ordinals.every((o, i) => o !== null && (i === 0 || o > ordinals[i - 1]!));
  const ts = kept.map((_, i) => (byTime ? ordinals[i]! : i));
  const xs = kept.map((p) => p.deltaPct);
  const indexOf = new Map(ts.map((t, i) => [t, i]));
  const { diffs, diffAt } = lagDifferences(ts, xs, indexOf, rule.lag);
  return {
    rule,
    opts,
    partitions: kept.map((p) => p.partition),
    ts,
    xs,
    indexOf,
    diffs,
    diffAt,
    scale: madScale(diffs),
  };
}

/** Differences at the seasonal lag; adjacent differences when too few pairs are that far apart. */
function lagDifferences(
  ts: number[],
  xs: number[],
  indexOf: Map<number, number>,
  lag: number,
): { diffs: number[]; diffAt: number[] } {
  const diffs: number[] = [];
  const diffAt: number[] = [];
  ts.forEach((t, i) => {
    const j = indexOf.get(t - lag);
    if (j !== undefined) {
      diffs.push(xs[i]! - xs[j]!);
      diffAt.push(i);
    }
  });
  if (diffs.length >= MIN_LAG_PAIRS || (lag === 1 && diffs.length > 0)) return { diffs, diffAt };
  return { diffs: xs.slice(1).map((x, i) => x - xs[i]!), diffAt: xs.slice(1).map((_, i) => i + 1) };
}

/** The point noise's standard deviation from differences (each carries two points' noise), by MAD. */
function madScale(diffs: number[]): number {
  if (!diffs.length) return 0;
  const mid = median(diffs);
  return (MAD_TO_SD * median(diffs.map((v) => Math.abs(v - mid)))) / Math.SQRT2;
}

/**
 * The same from the central 90% of differences, never below the MAD's: when more than one partition
 * in twenty or so stands apart (hours that each hold one of several currencies), those are the
 * measure's spread, not outliers.
 */
function spreadScale(diffs: number[]): number {
  if (!diffs.length) return 0;
  const s = [...diffs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.round(p * (s.length - 1))))]!;
  return Math.max(madScale(diffs), ((q(0.95) - q(0.05)) * P90_TO_SD) / Math.SQRT2);
}

/** The first position in ascending `sorted` holding `value` or more. */
function firstAtOrAfter(sorted: number[], value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function median(values: number[]): number {
  if (!values.length) return 0;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const mean = (values: number[]) => values.reduce((a, v) => a + v, 0) / (values.length || 1);

interface Candidate {
  /** The first point of the window after; points [lo, index) are the window before, [index, hi) after. */
  index: number;
  lo: number;
  hi: number;
  before: number;
  after: number;
  /** Distance between the windows' centres, in partitions. */
  distance: number;
  /** The shift beyond what the trend explains. */
  excess: number;
  threshold: number;
}

/** How far past its threshold a candidate is. */
const score = (c: Candidate) => Math.abs(c.excess) / c.threshold;

/** The two windows either side of every point that has long enough sides, with their medians. */
function candidates({ rule, ts, xs }: Scan): Candidate[] {
  const out: Candidate[] = [];
  const first = ts[0]!;
  const end = ts[ts.length - 1]! + 1;
  let lo = 0;
  let hi = 0;
  for (let i = 1; i < ts.length; i++) {
    const t = ts[i]!;
    while (ts[lo]! < t - rule.window) lo++;
    while (hi < ts.length && ts[hi]! < t + rule.window) hi++;
    if (Math.min(rule.window, t - first) < rule.minSide || Math.min(rule.window, end - t) < rule.minSide) continue;
    if (i - lo < 2 || hi - i < 2) continue;
    const before = median(xs.slice(lo, i));
    const after = median(xs.slice(i, hi));
    const distance = mean(ts.slice(i, hi)) - mean(ts.slice(lo, i));
    out.push({ index: i, lo, hi, before, after, distance, excess: after - before, threshold: Infinity });
  }
  return out;
}

/**
 * The bar a candidate's shift must clear: the floor, and JUMP_K standard errors of the difference of
 * its two medians.
 */
function judge(scan: Scan, c: Candidate, drift: number): Candidate {
  const excess = c.after - c.before - drift * c.distance;
  const nb = c.index - c.lo;
  const na = c.hi - c.index;
  const se = (sb: number, sa: number) => MEDIAN_SE * Math.sqrt((sb * sb) / nb + (sa * sa) / na);
  let threshold = Math.max(scan.rule.jumpFloor, JUMP_K * se(scan.scale, scan.scale));
  if (Math.abs(excess) > threshold) {
    // Noise can differ along a range (an exact old result, then a noisy fix): each side's median is
    // judged with the noisier of the range's scale and its own window's (less the difference across
    // the split, which is the shift itself).
    const between = (from: number, to: number) =>
      scan.diffs.slice(firstAtOrAfter(scan.diffAt, from), firstAtOrAfter(scan.diffAt, to));
    const local = (from: number, to: number) => Math.max(scan.scale, madScale(between(from, to)));
    // Adjacent differences see a shift once, so at lag 1 a window's outer neighbour lends its
    // differences for a steadier estimate; seasonal ones see it for a whole period, so they stay within.
    const reach = scan.rule.lag === 1 ? c.hi - c.lo : 0;
    threshold = Math.max(threshold, JUMP_K * se(local(c.lo - reach, c.index), local(c.index + 1, c.hi + reach)));
    // The two medians can part by chance when a window holds two kinds of partition (hours of
    // different currencies) about half and half; the shift must also hold for the median of all
    // differences between the windows (Hodges–Lehmann), which needs most pairs to move.
    const shift = hodgesLehmann(scan.xs.slice(c.lo, c.index), scan.xs.slice(c.index, c.hi)) - drift * c.distance;
    if (Math.sign(shift) !== Math.sign(excess) || Math.abs(shift) <= threshold) threshold = Infinity;
  }
  return { ...c, excess, threshold };
}

/** The median of every difference after - before: a shift estimate robust to a mix within a window. */
function hodgesLehmann(before: number[], after: number[]): number {
  return median(after.flatMap((a) => before.map((b) => a - b)));
}

function jumps(scan: Scan): Found[] {
  const { rule, ts } = scan;
  const all = candidates(scan);
  if (!all.length) return [];
  // A steady trend moves every pair of windows apart by its slope; a jump moves only the few pairs
  // that straddle it. So the typical shift per partition of distance is the trend — once there are
  // enough candidates for those straddling a jump to be few.
  const drift = all.length > 3 * rule.window ? median(all.map((c) => (c.after - c.before) / c.distance)) : 0;
  // A shift shows at every candidate whose windows straddle it: group them into runs of one sign.
  const runs: Candidate[][] = [];
  for (const raw of all) {
    const c = judge(scan, raw, drift);
    if (Math.abs(c.excess) <= c.threshold) continue;
    const run = runs.at(-1);
    const last = run?.at(-1);
    // Same sign and within a window of the run's end: noise dipped below the bar mid-shift.
    if (run && last && Math.sign(last.excess) === Math.sign(c.excess) && ts[c.index]! - ts[last.index]! < rule.window) {
      run.push(c);
    } else runs.push([c]);
  }
  const flat = deseasonalised(scan);
  const byIndex = new Map(all.map((c) => [c.index, c]));
  const out: Found[] = [];
  for (const run of runs) {
    const c = locate(scan, flat, run, (i) => {
      const at = byIndex.get(i);
      return at && judge(scan, at, drift);
    });
    const previous = out.at(-1);
    // Two runs that locate the same shift within a window of each other: keep the stronger.
    if (previous && ts[c.index]! - ts[previous.index]! < rule.window) {
      if (score(c) <= previous.score) continue;
      out.pop();
    }
    out.push(jumpPoint(scan, c));
  }
  return out;
}

/**
 * Where a run's shift is: the split with the smallest total absolute deviation from the two sides'
 * medians over the run's span (the L1 two-segment fit), earliest on a tie. Splits from half a window
 * before the run to half a window after it are tried: which ones cleared the bar is partly noise,
 * where the level changes is not. The run's strongest candidate stands in when the split found does
 * not clear the bar on its own windows.
 */
function locate(
  scan: Scan,
  flat: number[],
  run: Candidate[],
  candidateAt: (i: number) => Candidate | undefined,
): Candidate {
  const lo = run[0]!.lo;
  const hi = run[run.length - 1]!.hi;
  const cost = (values: number[]) => {
    const m = median(values);
    return values.reduce((a, v) => a + Math.abs(v - m), 0);
  };
  const reach = Math.max(1, Math.floor(scan.rule.window / 2));
  let split = run[0]!.index;
  let best = Infinity;
  const from = Math.max(lo + 1, run[0]!.index - reach);
  const to = Math.min(hi - 1, run[run.length - 1]!.index + reach);
  for (let s = from; s <= to; s++) {
    const total = cost(flat.slice(lo, s)) + cost(flat.slice(s, hi));
    if (total < best - 1e-9) {
      best = total;
      split = s;
    }
  }
  const at = candidateAt(split);
  if (at && Math.sign(at.excess) === Math.sign(run[0]!.excess) && Math.abs(at.excess) > at.threshold) return at;
  return run.reduce((a, c) => (score(c) > score(a) ? c : a));
}

/**
 * Each point's value less its phase's median over the whole range (the same hour of the day), so a
 * daily pattern of hours does not pull a split towards the hour where it peaks. Over the whole range
 * every phase holds about the same share of partitions on each side of a shift, so the shift
 * survives. At lag 1 there is one phase and values stay as they are.
 */
function deseasonalised({ rule, ts, xs }: Scan): number[] {
  if (rule.lag === 1) return xs;
  const phase = (t: number) => ((t % rule.lag) + rule.lag) % rule.lag;
  const byPhase = new Map<number, number[]>();
  ts.forEach((t, i) => {
    const values = byPhase.get(phase(t));
    if (values) values.push(xs[i]!);
    else byPhase.set(phase(t), [xs[i]!]);
  });
  const level = new Map([...byPhase].map(([k, values]) => [k, median(values)]));
  return xs.map((x, i) => x - level.get(phase(ts[i]!))!);
}

function jumpPoint({ rule, opts, partitions, ts }: Scan, c: Candidate): Found {
  const t = ts[c.index]!;
  const back = Math.min(rule.window, t - ts[0]!);
  const ahead = Math.min(rule.window, ts[ts.length - 1]! + 1 - t);
  const windows =
    back === ahead
      ? `${plural(back, rule.unit)} before vs after`
      : `${plural(back, rule.unit)} before vs ${ahead} after`;
  const expected = opts.expected ? `; expected ${expectedText(opts.expected)}` : '';
  const partition = partitions[c.index]!;
  return {
    measure: opts.measure,
    partition,
    kind: 'jump',
    before: c.before,
    after: c.after,
    magnitude: Math.abs(c.after - c.before),
    message:
      `${opts.measure} delta% ${c.after > c.before ? 'jumps' : 'drops'} from ${signedPct(c.before)} to ` +
      `${signedPct(c.after)} at ${partition} (median of ${windows}${expected}): a discontinuity the change ` +
      `may not explain — confirm its cause before approving`,
    index: c.index,
    score: score(c),
  };
}

/**
 * Partitions far from their neighbours on both sides (at the seasonal lag: an hour against the same
 * hour of the days around it). Both sides, so the first partition of a jump is not an outlier.
 */
function outliers({ rule, opts, partitions, ts, xs, indexOf, diffs, diffAt }: Scan): Found[] {
  const side = (t: number, sign: 1 | -1) =>
    Array.from({ length: NEIGHBOURS }, (_, k) => indexOf.get(t + sign * (k + 1) * rule.lag))
      .filter((i): i is number => i !== undefined)
      .map((i) => xs[i]!);
  const overall = spreadScale(diffs);
  const threshold = (scale: number, n: number) =>
    Math.max(rule.outlierFloor, OUTLIER_K * scale * Math.sqrt(1 + (MEDIAN_SE * MEDIAN_SE) / n));
  // What is ordinary can change along a range (exact before the bug, spread after it): a candidate
  // must also stand out of the spread around it.
  const around = (index: number) =>
    Math.max(
      overall,
      spreadScale(
        diffs.slice(firstAtOrAfter(diffAt, index - rule.context), firstAtOrAfter(diffAt, index + rule.context + 1)),
      ),
    );
  const neighbours =
    rule.lag === 1
      ? `the ${NEIGHBOURS} ${rule.unit}s either side`
      : `the same hour on the ${NEIGHBOURS} days either side`;
  const out: Found[] = [];
  xs.forEach((x, index) => {
    const left = side(ts[index]!, -1);
    const right = side(ts[index]!, 1);
    if (left.length < 2 || right.length < 2) return;
    const dl = x - median(left);
    const dr = x - median(right);
    const stands = (scale: number) =>
      Math.sign(dl) === Math.sign(dr) &&
      Math.abs(dl) > threshold(scale, left.length) &&
      Math.abs(dr) > threshold(scale, right.length);
    if (!stands(overall)) return;
    const local = around(index);
    if (!stands(local)) return;
    const level = median([...left, ...right]);
    const partition = partitions[index]!;
    out.push({
      measure: opts.measure,
      partition,
      kind: 'outlier',
      before: level,
      after: x,
      magnitude: Math.abs(x - level),
      message:
        `${opts.measure} delta% is ${signedPct(x)} at ${partition} against ${signedPct(level)} around it ` +
        `(median of ${neighbours}): a ${x > level ? 'spike' : 'trough'} that can mean a partial rewrite — ` +
        `check this partition before approving`,
      index,
      score: Math.min(Math.abs(dl) / threshold(local, left.length), Math.abs(dr) / threshold(local, right.length)),
    });
  });
  return out;
}

const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'}`;

/** A percentage with its sign always shown, and more digits for a tiny one so it never reads as 0. */
function signedPct(x: number): string {
  let digits = 2;
  while (digits < 6 && x !== 0 && Number(Math.abs(x).toFixed(digits)) === 0) digits++;
  const s = Math.abs(x).toFixed(digits);
  return `${x < 0 && Number(s) !== 0 ? '-' : '+'}${s}%`;
}

const expectedText = (r: { min: number; max: number }) => {
  const p = (v: number) => `${v < 0 ? '-' : '+'}${Math.abs(v)}%`;
  return r.min === r.max ? p(r.min) : `${p(r.min)} to ${p(r.max)}`;
};
