/**
 * The release schema checks on real engines: in-memory DuckDB, and Snowflake (snowflake-sdk against
 * the wire emulator). Each engine gets the same tables and views, created with its own driver, so the
 * view text is what that engine keeps: a target finance.daily_revenue with a legacy_flag column,
 * views that read it (one of them uses legacy_flag), and a similarly named finance.daily_revenue_v2
 * with a view of its own that must not count as reading the target.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSpecFile } from '../../client/load-spec';
import type { BackfillSpec } from '../../domain/spec/schema';
import {
  compatibilityProblems,
  dependentViews,
  inputSignature,
  signatureChanges,
  transformOutputColumns,
  viewBindProblems,
  zeroRowTransform,
} from '../../warehouse/compatibility';
import { openDuckDb } from '../../warehouse/duckdb/driver';
import { snowflakeConfigFromEnv } from '../../warehouse/snowflake/config';
import { openSnowflake } from '../../warehouse/snowflake/driver';
import type { Driver, StatementEvent } from '../../warehouse/warehouse';
import { startSnowflakeEmulator, type SnowflakeEmulator } from '../support/snowflake-emulator';

const base = loadSpecFile('examples/revenue-tax-fix.yaml').spec;
const spec: BackfillSpec = { ...base, source_range: { ...base.source_range, start: '2025-01-01', end: '2025-01-31' } };

/** Statements both engines run as written: Snowflake's unquoted names fold to upper case. */
const SETUP = [
  'CREATE SCHEMA staging',
  'CREATE SCHEMA finance',
  `CREATE TABLE staging.revenue_events (revenue_date DATE, merchant_id VARCHAR, gross_amount DECIMAL(18, 2),
     tax_amount DECIMAL(18, 2), legacy BOOLEAN)`,
  `INSERT INTO staging.revenue_events VALUES ('2025-01-01', 'M1', 10.00, 1.00, TRUE),
     ('2025-01-02', 'M2', 20.00, 2.00, FALSE)`,
  `CREATE TABLE finance.daily_revenue (revenue_date DATE, merchant_id VARCHAR, gross_revenue DECIMAL(12, 2),
     net_revenue DECIMAL(18, 2), order_count BIGINT, legacy_flag BOOLEAN, recalculated_at TIMESTAMP,
     backfill_id VARCHAR)`,
  `INSERT INTO finance.daily_revenue VALUES ('2025-01-01', 'M1', 10.00, 10.00, 1, TRUE, NULL, NULL)`,
  'CREATE TABLE finance.daily_revenue_v2 (revenue_date DATE, legacy_flag BOOLEAN)',
  `CREATE VIEW finance.revenue_by_month AS
     SELECT r.revenue_date, SUM(r.net_revenue) AS net FROM FINANCE.DAILY_REVENUE r GROUP BY r.revenue_date`,
  `CREATE VIEW finance.flagged_revenue AS
     SELECT merchant_id, legacy_flag FROM finance.daily_revenue WHERE legacy_flag`,
  'CREATE VIEW finance.v2_flags AS SELECT revenue_date, legacy_flag FROM finance.daily_revenue_v2',
  `CREATE VIEW finance.recent_revenue AS
     SELECT revenue_date, net_revenue FROM finance.daily_revenue WHERE revenue_date >= '2025-01-01'`,
];

/** The corrected transform, every target column; `edit` changes its select list. */
function transform(edit: (columns: string[]) => string[] = (c) => c): string {
  const columns = [
    'revenue_date',
    'merchant_id',
    'CAST(SUM(gross_amount) AS DECIMAL(18, 2)) AS gross_revenue',
    'CAST(SUM(gross_amount - tax_amount) AS DECIMAL(18, 2)) AS net_revenue',
    'COUNT(*) AS order_count',
    'CAST(NULL AS BOOLEAN) AS legacy_flag',
    'CAST(current_timestamp AS TIMESTAMP) AS recalculated_at',
    "'FIN-2841' AS backfill_id",
  ];
  return `SELECT ${edit(columns).join(',\n  ')}
FROM staging.revenue_events
WHERE revenue_date >= :partition_start AND revenue_date < :partition_end
GROUP BY revenue_date, merchant_id -- one row per merchant-day`;
}

const without = (name: string) => (c: string[]) => c.filter((x) => !x.endsWith(` AS ${name}`) && x !== name);
const NET = 'CAST(SUM(gross_amount - tax_amount) AS';
const replacing = (name: string, by: string) => (c: string[]) => c.map((x) => (x.endsWith(` AS ${name}`) ? by : x));

interface Engine {
  name: string;
  open(): Promise<{ db: Driver; statements: () => string[]; close(): Promise<void> }>;
  /** How the engine spells the output types of `transform()`. */
  types: { decimal: (p: number, s: number) => string; count: string; timestamp: string };
}

const ENGINES: Engine[] = [
  {
    name: 'DuckDB',
    async open() {
      const events: StatementEvent[] = [];
      const db = await openDuckDb({ path: ':memory:', onStatement: (e) => events.push(e) });
      return { db, statements: () => events.map((e) => e.sql), close: () => db.close() };
    },
    types: { decimal: (p, s) => `DECIMAL(${p},${s})`, count: 'BIGINT', timestamp: 'TIMESTAMP' },
  },
  {
    name: 'Snowflake (emulator)',
    async open() {
      const emulator: SnowflakeEmulator = await startSnowflakeEmulator({ users: { BACKFILL_SVC: { password: 's' } } });
      const db = await openSnowflake(snowflakeConfigFromEnv({
        SNOWFLAKE_ACCOUNT: 'xy12345',
        SNOWFLAKE_USER: 'BACKFILL_SVC',
        SNOWFLAKE_PASSWORD: 's',
        SNOWFLAKE_WAREHOUSE: 'BACKFILL_WH',
        SNOWFLAKE_DATABASE: 'ANALYTICS',
        SNOWFLAKE_ACCESS_URL: emulator.accessUrl,
      }));
      return {
        db,
        statements: () => emulator.log.map((e) => e.sql),
        async close() {
          await db.close();
          await emulator.close();
        },
      };
    },
    types: { decimal: (p, s) => `NUMBER(${p},${s})`, count: 'NUMBER(38,0)', timestamp: 'TIMESTAMP_NTZ(9)' },
  },
];

describe.each(ENGINES)('schema compatibility on $name', (engine) => {
  let db: Driver;
  let statements: () => string[];
  let close: () => Promise<void>;
  const targetRows = async () =>
    Number((await db.query('SELECT COUNT(*) AS n FROM finance.daily_revenue'))[0]!.n);

  beforeAll(async () => {
    ({ db, statements, close } = await engine.open());
    for (const sql of SETUP) await db.execute(sql);
  });

  afterAll(async () => {
    // Nothing here writes: the target keeps its one row.
    expect(await targetRows()).toBe(1);
    await close?.();
  });

  it("reads the transform's output columns from a LIMIT 0 query, bound to the first partition", async () => {
    const before = statements().length;
    const t = engine.types;
    expect(await transformOutputColumns(db, spec, transform())).toEqual([
      { name: 'revenue_date', type: 'DATE' },
      { name: 'merchant_id', type: 'VARCHAR' },
      { name: 'gross_revenue', type: t.decimal(18, 2) },
      { name: 'net_revenue', type: t.decimal(18, 2) },
      { name: 'order_count', type: t.count },
      { name: 'legacy_flag', type: 'BOOLEAN' },
      { name: 'recalculated_at', type: t.timestamp },
      { name: 'backfill_id', type: 'VARCHAR' },
    ]);
    const ran = statements().slice(before).filter((s) => !/^(ALTER SESSION|BEGIN|ROLLBACK)/.test(s));
    expect(ran).toHaveLength(1);
    expect(ran[0]).toMatch(/^SELECT \* FROM \(SELECT revenue_date,[^]*\n\) AS transformed LIMIT 0$/);
    expect(zeroRowTransform(db, spec, transform()).params).toEqual(['2025-01-01', '2025-01-02']);
  });

  it('refuses a transform the warehouse cannot compile, as a problem of the transform', async () => {
    const sql = transform(replacing('backfill_id', 'no_such AS backfill_id'));
    const problems = await compatibilityProblems(db, spec, sql);
    expect(problems).toHaveLength(1);
    expect(problems[0]!.path).toBe('transform');
    expect(problems[0]!.message).toMatch(
      /^does not run on the warehouse, so its output cannot be checked against finance\.daily_revenue; fix it\. The/,
    );
    expect(problems[0]!.message).toMatch(/The warehouse said: .*no_such/i);
  });

  it('passes a transform that returns every column, widening gross_revenue DECIMAL(12,2) → (18,2)', async () => {
    expect(await compatibilityProblems(db, spec, transform())).toEqual([]);
  });

  it('refuses a missing column, and the view that reads it no longer binds', async () => {
    const problems = await compatibilityProblems(db, spec, transform(without('legacy_flag')));
    expect(problems.map((p) => p.path)).toEqual(['transform', 'target.table']);
    expect(problems[0]!.message).toMatch(/^column legacy_flag: in finance\.daily_revenue but not returned by the /);
    expect(problems[1]!.message).toMatch(
      /^view finance\.flagged_revenue would no longer bind once finance\.daily_revenue holds the transform's output/,
    );
    expect(problems[1]!.message).toMatch(/change the view in a migration first\. The warehouse said: .*legacy_flag/i);
  });

  it('refuses an extra column, naming it', async () => {
    const problems = await compatibilityProblems(db, spec, transform((c) => [...c, 'CAST(1.5 AS DOUBLE) AS fx_rate']));
    expect(problems).toEqual([{
      path: 'transform',
      message: "column fx_rate: returned by the transform but not in finance.daily_revenue; drop it from the " +
        "transform's SELECT or add it to finance.daily_revenue in a migration first",
    }]);
  });

  it('refuses a renamed column as a rename; the views using the old name are reported too', async () => {
    const sql = transform(replacing('net_revenue', `${NET} DECIMAL(18, 2)) AS net_rev`));
    const problems = await compatibilityProblems(db, spec, sql);
    expect(problems.filter((p) => p.path === 'transform').map((p) => p.message)).toEqual([
      'column net_revenue: renamed net_revenue → net_rev by the transform (same type, same position); alias it ' +
        'back (AS net_revenue) in the transform or rename the column of finance.daily_revenue in a migration first',
    ]);
    expect(problems.filter((p) => p.path === 'target.table').map((p) => p.message.split(' would')[0])).toEqual([
      'view finance.recent_revenue', 'view finance.revenue_by_month',
    ]);
  });

  it('refuses a narrowed column, naming both types', async () => {
    const sql = transform(replacing('net_revenue', `${NET} DECIMAL(10, 2)) AS net_revenue`));
    const d = engine.types.decimal;
    expect(await compatibilityProblems(db, spec, sql)).toEqual([{
      path: 'transform',
      message: `column net_revenue: ${d(18, 2)} in finance.daily_revenue, ${d(10, 2)} from the transform ` +
        `(narrowed); cast it back (CAST(… AS ${d(18, 2)})) in the transform or change the target in a migration first`,
    }]);
  });

  it('refuses a column that changes type, and names a target that does not exist', async () => {
    const problems = await compatibilityProblems(db, spec, transform(replacing('order_count',
      'CAST(COUNT(*) AS VARCHAR) AS order_count')));
    expect(problems).toHaveLength(1);
    expect(problems[0]!.message).toMatch(/^column order_count: .* VARCHAR from the transform \(another type, not a /);
    const missing = { ...spec, target: { ...spec.target, table: 'finance.no_such_table' } };
    expect(await compatibilityProblems(db, missing, transform())).toEqual([{
      path: 'target.table',
      message: "finance.no_such_table does not exist; create it in a migration first (the transform's output is " +
        'checked against it)',
    }]);
  });

  it('finds the views reading the target, not those reading finance.daily_revenue_v2', async () => {
    const views = await dependentViews(db, 'finance.daily_revenue');
    expect(views.map((v) => v.name)).toEqual([
      'finance.flagged_revenue', 'finance.recent_revenue', 'finance.revenue_by_month',
    ]);
    expect(views.find((v) => v.name === 'finance.flagged_revenue')!.sql).toMatch(/legacy_flag/i);
    expect((await dependentViews(db, 'finance.daily_revenue_v2')).map((v) => v.name)).toEqual(['finance.v2_flags']);
    expect(await dependentViews(db, 'staging.revenue_events')).toEqual([]);
  });

  it('checks one view against a replacement query', async () => {
    const [flagged] = (await dependentViews(db, 'finance.daily_revenue')).filter((v) => /flagged/.test(v.name));
    expect(await viewBindProblems(db, flagged!, 'finance.daily_revenue', 'SELECT TRUE AS legacy_flag, \'M\' AS ' +
      'merchant_id')).toBeNull();
    expect(await viewBindProblems(db, flagged!, 'finance.daily_revenue', 'SELECT 1 AS merchant_id'))
      .toMatch(/^view finance\.flagged_revenue would no longer bind .*legacy_flag/i);
  });

  it('signs inputs, and names an added column and a redefined view', async () => {
    const inputs = ['staging.revenue_events', 'finance.recent_revenue', 'staging.no_such_table'];
    const before = await inputSignature(db, inputs);
    const d = engine.types.decimal;
    expect(before['staging.revenue_events']).toBe(
      `table: revenue_date DATE; merchant_id VARCHAR; gross_amount ${d(18, 2)}; tax_amount ${d(18, 2)}; ` +
        'legacy BOOLEAN',
    );
    expect(before['finance.recent_revenue']).toMatch(
      new RegExp(`^view [0-9a-f]{16}: revenue_date DATE; net_revenue ${d(18, 2).replace(/[()]/g, '\\$&')}$`),
    );
    expect(before['staging.no_such_table']).toBe('missing');
    expect(await inputSignature(db, inputs)).toEqual(before);

    await db.execute('ALTER TABLE staging.revenue_events ADD COLUMN fx DOUBLE');
    const added = await inputSignature(db, inputs);
    expect(signatureChanges(before, added)).toEqual(['staging.revenue_events: column fx added']);

    await db.execute(`CREATE OR REPLACE VIEW finance.recent_revenue AS
      SELECT revenue_date, net_revenue FROM finance.daily_revenue WHERE revenue_date >= '2025-06-01'`);
    expect(signatureChanges(added, await inputSignature(db, inputs))).toEqual([
      'finance.recent_revenue: view redefined',
    ]);
  });
});
