/**
 * The emulator's DuckDB, as a DuckDB-dialect Driver, so tests can seed it (seedRevenueScenario)
 * and read it back directly, around the wire. It shares the emulator's DuckDBInstance; closing
 * the emulator closes it.
 */
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { ResultReturnType } from '@duckdb/node-api';
import { duckDbDialect } from '../../../warehouse/duckdb/dialect';
import type { Driver, Row, ScanEstimate, Session, Statement } from '../../../warehouse/warehouse';

const toStatement = (s: Statement | string): Statement => (typeof s === 'string' ? { sql: s, params: [] } : s);

async function run(conn: DuckDBConnection, s: Statement | string): Promise<{ rows: Row[]; changed: number }> {
  const stmt = toStatement(s);
  const result = await conn.run(stmt.sql, stmt.params.length ? ([...stmt.params] as never) : undefined);
  return {
    rows: (await result.getRowObjectsJson()) as Row[],
    changed: result.returnType === ResultReturnType.CHANGED_ROWS ? result.rowsChanged : 0,
  };
}

export class BackingDuckDb implements Driver {
  readonly dialect = duckDbDialect;
  readonly pricePerHour = null;

  constructor(readonly instance: DuckDBInstance) {}

  private async with<T>(fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
    const conn = await this.instance.connect();
    try {
      return await fn(conn);
    } finally {
      conn.closeSync();
    }
  }

  query(stmt: Statement | string): Promise<Row[]> {
    return this.with(async (c) => (await run(c, stmt)).rows);
  }

  execute(stmt: Statement | string): Promise<number> {
    return this.with(async (c) => (await run(c, stmt)).changed);
  }

  transaction<T>(fn: (tx: Session) => Promise<T>): Promise<T> {
    return this.with(async (c) => {
      const tx: Session = {
        query: async (s) => (await run(c, s)).rows,
        execute: async (s) => (await run(c, s)).changed,
      };
      await c.run('BEGIN TRANSACTION');
      try {
        const out = await fn(tx);
        await c.run('COMMIT');
        return out;
      } catch (e) {
        await c.run('ROLLBACK').catch(() => undefined);
        throw e;
      }
    });
  }

  async explain(): Promise<ScanEstimate> {
    throw new Error(
      'the emulator backing does not estimate scans; explain through the Snowflake driver (EXPLAIN USING JSON)',
    );
  }

  /** The emulator owns the instance and closes it. */
  async close(): Promise<void> {}
}
