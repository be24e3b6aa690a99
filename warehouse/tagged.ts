/**
 * A driver whose statements carry default options (a QUERY_TAG naming backfill and phase, a
 * timeout) unless a call gives its own: bookkeeping code such as the control store need not thread
 * a tag through every call for each statement to be attributed.
 */
import type { Driver, QueryOptions, Session, Statement } from './warehouse';

export function withDefaults(db: Driver, defaults: QueryOptions): Driver {
  const merge = (opts?: QueryOptions): QueryOptions => ({ ...defaults, ...opts, tag: opts?.tag ?? defaults.tag });
  return {
    dialect: db.dialect,
    pricePerHour: db.pricePerHour,
    query: (stmt: Statement | string, opts?: QueryOptions) => db.query(stmt, merge(opts)),
    execute: (stmt: Statement | string, opts?: QueryOptions) => db.execute(stmt, merge(opts)),
    transaction: <T>(fn: (tx: Session) => Promise<T>, opts?: QueryOptions) => db.transaction(fn, merge(opts)),
    explain: (stmt: Statement, opts?: QueryOptions) => db.explain(stmt, merge(opts)),
    ...(db.retention ? { retention: (table, opts) => db.retention!(table, merge(opts)) } : {}),
    ...(db.resultColumns ? { resultColumns: (stmt, opts) => db.resultColumns!(stmt, merge(opts)) } : {}),
    close: () => db.close(),
  } satisfies Driver;
}
