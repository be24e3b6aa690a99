/**
 * Opens the configured warehouse. Engines register an opener here; call sites never branch on the
 * engine. DuckDB is the embedded default: a file under the git-ignored .data folder.
 */
import { resolve } from 'node:path';
import { BackfillError, BackfillFailure } from '../contracts/errors';
import { openDuckDb, type StatementEvent } from './duckdb/driver';
import type { Driver } from './warehouse';

export const DEFAULT_DUCKDB_PATH = resolve(__dirname, '..', '.data', 'warehouse.duckdb');

export interface WarehouseConfig {
  engine: 'duckdb';
  /** DuckDB file, or ':memory:'. */
  path: string;
  readOnly?: boolean;
  onStatement?: (e: StatementEvent) => void;
}

const openers: Record<WarehouseConfig['engine'], (c: WarehouseConfig) => Promise<Driver>> = {
  duckdb: (c) => openDuckDb({ path: c.path, readOnly: c.readOnly, onStatement: c.onStatement }),
};

/** Config from BACKFILL_WAREHOUSE (engine:path, or a DuckDB path) with the embedded default. */
export function warehouseConfigFromEnv(env: NodeJS.ProcessEnv = process.env): WarehouseConfig {
  const raw = env.BACKFILL_WAREHOUSE?.trim();
  if (!raw) return { engine: 'duckdb', path: DEFAULT_DUCKDB_PATH };
  const m = /^([a-z]+):(.+)$/.exec(raw);
  if (m && m[1] !== 'duckdb') {
    throw new BackfillFailure(
      BackfillError.InvalidConfig,
      `BACKFILL_WAREHOUSE: engine "${m[1]}" is not supported; use duckdb:<path> or a DuckDB file path.`,
    );
  }
  return { engine: 'duckdb', path: m ? m[2]! : raw };
}

export function openWarehouse(config: WarehouseConfig): Promise<Driver> {
  return openers[config.engine](config);
}
