/** What the warehouse says about a table: its columns, and whether it exists. */
import { parseTableName, type TableName } from './identifiers';
import type { ColumnInfo, Db, QueryOptions } from './warehouse';

export async function describeTable(db: Db, table: string | TableName, opts?: QueryOptions): Promise<ColumnInfo[]> {
  const name = typeof table === 'string' ? parseTableName(table) : table;
  const rows = await db.query(db.dialect.describeTable(name), opts);
  return rows.map((r) => ({ name: String(r.name), type: String(r.type), nullable: Boolean(r.nullable) }));
}

export async function tableExists(db: Db, table: TableName, opts?: QueryOptions): Promise<boolean> {
  return (await describeTable(db, table, opts)).length > 0;
}

/** Column names of a table, in order: read once per batch, not once per partition. */
export async function columnNames(db: Db, table: string | TableName, opts?: QueryOptions): Promise<string[]> {
  return (await describeTable(db, table, opts)).map((c) => c.name);
}
