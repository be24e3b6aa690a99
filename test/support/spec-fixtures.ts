/** The runbook article's spec block as a YAML loader returns it, for tests that edit one field. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

export const EXAMPLES = join(__dirname, '..', '..', 'examples');
export const SEED = join(EXAMPLES, 'seed-original.yaml');

/** A spec as a YAML loader returns it: edited freely before parsing. */
export type Raw = any;
export const seed = (): Raw => parse(readFileSync(SEED, 'utf8'));
export const edited = (edit: (s: Raw) => void): Raw => {
  const s = seed();
  edit(s);
  return s;
};
