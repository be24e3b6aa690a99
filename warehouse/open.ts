/**
 * Opens the configured warehouse. Engines register an opener here; call sites never branch on the
 * engine. DuckDB is the embedded default: a file under the git-ignored .data folder. Snowflake is
 * configured by a config file and/or the SNOWFLAKE_* environment variables (snowflake/config.ts).
 */
import { resolve } from 'node:path';
import { BackfillError, BackfillFailure } from '../contracts/errors';
import { openDuckDb } from './duckdb/driver';
import type { StatementEvent } from './warehouse';
import type { Driver } from './warehouse';

export const DEFAULT_DUCKDB_PATH = resolve(__dirname, '..', '.data', 'warehouse.duckdb');

/** `path` of a Snowflake warehouse configured by SNOWFLAKE_* environment variables alone. */
export const SNOWFLAKE_FROM_ENV = '(SNOWFLAKE_* environment)';

export interface WarehouseConfig {
  engine: 'duckdb' | 'snowflake';
  /** DuckDB: the file, or ':memory:'. Snowflake: the config file (YAML or JSON), or SNOWFLAKE_FROM_ENV. */
  path: string;
  /** DuckDB opens the file without write access; Snowflake relies on the role's grants. */
  readOnly?: boolean;
  onStatement?: (e: StatementEvent) => void;
  /** Environment the Snowflake settings are read from; process.env by default. */
  env?: NodeJS.ProcessEnv;
}

const ENGINES = ['duckdb', 'snowflake'] as const;

type SnowflakeModules = typeof import('./snowflake/config') & typeof import('./snowflake/driver');

/**
 * The Snowflake modules, loaded only when Snowflake is chosen. The CLI and worker run under tsx's
 * CommonJS hook, where require resolves extensionless TypeScript and import() does not; vitest's
 * module runner is the other way round.
 */
async function snowflakeModules(): Promise<SnowflakeModules> {
  try {
    return {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- deliberate, see above
      ...(require('./snowflake/config') as typeof import('./snowflake/config')),
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- deliberate, see above
      ...(require('./snowflake/driver') as typeof import('./snowflake/driver')),
    };
  } catch {
    return { ...(await import('./snowflake/config')), ...(await import('./snowflake/driver')) };
  }
}

/** DuckDB's buffer pool in a process of this project unless BACKFILL_DUCKDB_MEMORY_LIMIT says otherwise. */
export const DEFAULT_DUCKDB_MEMORY_LIMIT = '128MB';

/**
 * The DuckDB settings a worker (or the CLI) opens its file with. DuckDB's buffer pool would otherwise
 * grow to 80% of the machine's memory; capped, DuckDB spills large operations to a temporary
 * directory beside the file instead. BACKFILL_DUCKDB_MEMORY_LIMIT takes a DuckDB size (`512MB`, `4GB`).
 */
export function duckDbSettings(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const limit = env.BACKFILL_DUCKDB_MEMORY_LIMIT?.trim() || DEFAULT_DUCKDB_MEMORY_LIMIT;
  if (!/^\d{1,7}(\.\d{1,3})? ?(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i.test(limit)) {
    throw new BackfillFailure(
      BackfillError.InvalidConfig,
      `BACKFILL_DUCKDB_MEMORY_LIMIT: "${limit.slice(0, 40)}" is not a size; write e.g. 512MB or 4GB.`,
    );
  }
  return { memory_limit: limit };
}

const openers: Record<WarehouseConfig['engine'], (c: WarehouseConfig) => Promise<Driver>> = {
  duckdb: (c) => openDuckDb({
    path: c.path, readOnly: c.readOnly, onStatement: c.onStatement, settings: duckDbSettings(c.env ?? process.env),
  }),
  // Loaded on demand: snowflake-sdk (and the cloud SDKs it pulls in) is heavy, and DuckDB users never need it.
  snowflake: async (c) => {
    const { loadSnowflakeConfig, openSnowflake } = await snowflakeModules();
    const config = loadSnowflakeConfig(c.path === SNOWFLAKE_FROM_ENV ? undefined : c.path, c.env ?? process.env);
    return openSnowflake(config, { onStatement: c.onStatement });
  },
};

/**
 * Config from BACKFILL_WAREHOUSE with the embedded default: `snowflake` (SNOWFLAKE_* variables),
 * `snowflake:<config file>`, `duckdb:<path>`, or a DuckDB file path.
 */
export function warehouseConfigFromEnv(env: NodeJS.ProcessEnv = process.env): WarehouseConfig {
  const raw = env.BACKFILL_WAREHOUSE?.trim();
  if (!raw) return { engine: 'duckdb', path: DEFAULT_DUCKDB_PATH };
  if (raw === 'snowflake') return { engine: 'snowflake', path: SNOWFLAKE_FROM_ENV, env };
  const m = /^([a-z]+):(.+)$/.exec(raw);
  if (!m) return { engine: 'duckdb', path: raw };
  const engine = ENGINES.find((e) => e === m[1]);
  if (!engine) {
    throw new BackfillFailure(
      BackfillError.InvalidConfig,
      `BACKFILL_WAREHOUSE: engine "${m[1]}" is not supported; use duckdb:<path> (or a DuckDB file path), snowflake, ` +
        `or snowflake:<config file>.`,
    );
  }
  return { engine, path: m[2]!, ...(engine === 'snowflake' && { env }) };
}

export function openWarehouse(config: WarehouseConfig): Promise<Driver> {
  return openers[config.engine](config);
}
