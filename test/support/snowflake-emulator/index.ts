/** A local Snowflake wire emulator for snowflake-sdk, backed by DuckDB (see CONTEXT.md). */
export {
  startSnowflakeEmulator,
  type EmulatorOptions,
  type EmulatorUser,
  type LoggedStatement,
  type LoginRecord,
  type RequestRecord,
  type SessionInfo,
  type SnowflakeEmulator,
} from './server';
export { BackingDuckDb } from './backing';
export { SnowflakeSqlError } from './sql-errors';
export { translate, strftimeFormat, type Translation, type StatementKind } from './translate';
