/**
 * DuckDB results in Snowflake's JSON result format: a rowtype per column and every cell a string
 * (or null) in the encoding snowflake-sdk decodes by rowtype.type — fixed "12.34", real "1.5",
 * boolean "1"/"0", date = days since the epoch, time = seconds since midnight with a 9-digit
 * fraction, timestamp_ntz/ltz = epoch seconds with a 9-digit fraction, binary = upper-case hex,
 * variant/object/array = JSON text.
 */
import { DuckDBTypeId, type DuckDBMaterializedResult, type DuckDBType, type DuckDBValue } from '@duckdb/node-api';
import { notTranslated } from './sql-errors';

export interface RowType {
  name: string;
  database: string;
  schema: string;
  table: string;
  type: string;
  precision: number | null;
  scale: number | null;
  length: number | null;
  byteLength: number | null;
  nullable: boolean;
  collation: null;
}

export interface EncodedResult {
  rowtype: RowType[];
  rowset: Array<Array<string | null>>;
}

export const column = (name: string, type: string, extra: Partial<RowType> = {}): RowType => ({
  name,
  database: '',
  schema: '',
  table: '',
  type,
  precision: null,
  scale: null,
  length: null,
  byteLength: null,
  nullable: true,
  collation: null,
  ...extra,
});

export const textColumn = (name: string) => column(name, 'text', { length: 16777216, byteLength: 16777216 });
export const fixedColumn = (name: string, precision = 38, scale = 0, nullable = true) =>
  column(name, 'fixed', { precision, scale, nullable });

/**
 * An epoch-based value as the exact decimal number of seconds with 9 fractional digits, which is
 * what Snowflake sends ("-1.876544000" for 1969-12-31 23:59:58.123456, not "-2.123456000").
 */
function epochFraction(value: bigint, unitsPerSecond: bigint): string {
  const sign = value < 0n ? '-' : '';
  const abs = value < 0n ? -value : value;
  const nanos = (abs % unitsPerSecond) * (1_000_000_000n / unitsPerSecond);
  return `${sign}${abs / unitsPerSecond}.${nanos.toString().padStart(9, '0')}`;
}

type Encoder = { rowtype: RowType; cell: (v: DuckDBValue) => string };

function encoder(name: string, type: DuckDBType): Encoder {
  const t = type.typeId;
  switch (t) {
    case DuckDBTypeId.BOOLEAN:
      return { rowtype: column(name, 'boolean'), cell: (v) => (v ? '1' : '0') };
    case DuckDBTypeId.TINYINT:
    case DuckDBTypeId.SMALLINT:
    case DuckDBTypeId.INTEGER:
    case DuckDBTypeId.BIGINT:
    case DuckDBTypeId.HUGEINT:
    case DuckDBTypeId.UTINYINT:
    case DuckDBTypeId.USMALLINT:
    case DuckDBTypeId.UINTEGER:
    case DuckDBTypeId.UBIGINT:
    case DuckDBTypeId.UHUGEINT:
    case DuckDBTypeId.BIGNUM:
      return { rowtype: fixedColumn(name), cell: (v) => String(v) };
    case DuckDBTypeId.DECIMAL: {
      const d = type as unknown as { width: number; scale: number };
      return { rowtype: fixedColumn(name, d.width, d.scale), cell: (v) => String(v) };
    }
    case DuckDBTypeId.FLOAT:
    case DuckDBTypeId.DOUBLE:
      return { rowtype: column(name, 'real'), cell: (v) => String(v) };
    case DuckDBTypeId.VARCHAR:
    case DuckDBTypeId.UUID:
    case DuckDBTypeId.ENUM:
    case DuckDBTypeId.SQLNULL:
      return { rowtype: textColumn(name), cell: (v) => String(v) };
    case DuckDBTypeId.DATE:
      return { rowtype: column(name, 'date'), cell: (v) => String((v as { days: number }).days) };
    case DuckDBTypeId.TIME:
      return {
        rowtype: column(name, 'time', { scale: 9 }),
        cell: (v) => epochFraction((v as { micros: bigint }).micros, 1_000_000n),
      };
    case DuckDBTypeId.TIMESTAMP:
      return {
        rowtype: column(name, 'timestamp_ntz', { scale: 9 }),
        cell: (v) => epochFraction((v as { micros: bigint }).micros, 1_000_000n),
      };
    case DuckDBTypeId.TIMESTAMP_S:
      return {
        rowtype: column(name, 'timestamp_ntz', { scale: 9 }),
        cell: (v) => epochFraction((v as { seconds: bigint }).seconds, 1n),
      };
    case DuckDBTypeId.TIMESTAMP_MS:
      return {
        rowtype: column(name, 'timestamp_ntz', { scale: 9 }),
        cell: (v) => epochFraction((v as { millis: bigint }).millis, 1_000n),
      };
    case DuckDBTypeId.TIMESTAMP_NS:
      return {
        rowtype: column(name, 'timestamp_ntz', { scale: 9 }),
        cell: (v) => epochFraction((v as { nanos: bigint }).nanos, 1_000_000_000n),
      };
    case DuckDBTypeId.TIMESTAMP_TZ:
      // An instant: Snowflake's TIMESTAMP_LTZ, shown in the session TIMEZONE by the driver.
      return {
        rowtype: column(name, 'timestamp_ltz', { scale: 9 }),
        cell: (v) => epochFraction((v as { micros: bigint }).micros, 1_000_000n),
      };
    case DuckDBTypeId.BLOB:
      return {
        rowtype: column(name, 'binary', { length: 8388608, byteLength: 8388608 }),
        cell: (v) => Buffer.from((v as { bytes: Uint8Array }).bytes).toString('hex').toUpperCase(),
      };
    default:
      throw notTranslated(`a result column of DuckDB type ${type.toString()} (${name})`);
  }
}

/**
 * Encodes a result. Column names follow Snowflake: unquoted names are upper case, names given as
 * quoted aliases keep their case.
 */
export async function encodeResult(
  result: DuckDBMaterializedResult,
  quotedAliases: ReadonlySet<string>,
): Promise<EncodedResult> {
  const encoders = result
    .columnNames()
    .map((name, i) => encoder(quotedAliases.has(name) ? name : name.toUpperCase(), result.columnType(i)));
  const rows = await result.getRows();
  return {
    rowtype: encoders.map((e) => e.rowtype),
    rowset: rows.map((row) => row.map((v, i) => (v === null ? null : encoders[i]!.cell(v)))),
  };
}
