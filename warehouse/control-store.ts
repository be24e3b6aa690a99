/**
 * The control schema (backfill_control): plans, per-batch checkpoints with provenance, an
 * append-only audit log, releases, and one lease per target table. Created idempotently; written
 * with portable SQL (VARCHAR/BIGINT/DOUBLE/TIMESTAMP) through the dialect, values always bound.
 */
import { readProvenance, type Checkpoint } from '../contracts/checkpoint';
import { BackfillError, BackfillFailure } from '../contracts/errors';
import type { GraphRecord } from '../contracts/release';
import type { ReleaseRecord } from '../contracts/status';
import type { Plan } from '../domain/plan';
import type { TableName } from './identifiers';
import type { Driver, QueryOptions, Row, Session, SqlValue, Statement } from './warehouse';
import { columnNames } from './catalog';

export const CONTROL_SCHEMA = 'backfill_control';

const TABLES = {
  plans: `backfill_id VARCHAR NOT NULL PRIMARY KEY, recorded_at TIMESTAMP NOT NULL, code_version VARCHAR,
    partitions BIGINT NOT NULL, batches BIGINT NOT NULL, est_rows BIGINT, est_bytes DOUBLE, est_seconds DOUBLE,
    spec_json VARCHAR NOT NULL, plan_json VARCHAR NOT NULL`,
  plan_batches: `backfill_id VARCHAR NOT NULL, batch_index BIGINT NOT NULL, first_partition VARCHAR NOT NULL,
    last_partition VARCHAR NOT NULL, partitions BIGINT NOT NULL, est_rows BIGINT, est_bytes DOUBLE, est_seconds DOUBLE,
    PRIMARY KEY (backfill_id, batch_index)`,
  checkpoints: `backfill_id VARCHAR NOT NULL, batch_index BIGINT NOT NULL, first_partition VARCHAR NOT NULL,
    last_partition VARCHAR NOT NULL, partitions BIGINT NOT NULL, rows_written BIGINT, code_version VARCHAR,
    verdict VARCHAR NOT NULL, provenance_json VARCHAR NOT NULL, started_at TIMESTAMP, finished_at TIMESTAMP NOT NULL,
    PRIMARY KEY (backfill_id, batch_index)`,
  audit_log: `backfill_id VARCHAR NOT NULL, logged_at TIMESTAMP NOT NULL, actor VARCHAR NOT NULL,
    action VARCHAR NOT NULL, detail_json VARCHAR NOT NULL`,
  releases: `release_id VARCHAR NOT NULL PRIMARY KEY, dataset VARCHAR NOT NULL, backfill_id VARCHAR NOT NULL,
    published_at TIMESTAMP NOT NULL, source_range VARCHAR NOT NULL, code_version VARCHAR, approved_by VARCHAR NOT NULL,
    restore_point VARCHAR, rollback_expires_at TIMESTAMP, publish_mode VARCHAR NOT NULL, status VARCHAR NOT NULL,
    approval_json VARCHAR`,
  leases: `target_table VARCHAR NOT NULL PRIMARY KEY, backfill_id VARCHAR NOT NULL, workflow_id VARCHAR,
    acquired_at TIMESTAMP NOT NULL`,
  owned_tables: `canonical_name VARCHAR NOT NULL, backfill_id VARCHAR NOT NULL, table_name VARCHAR NOT NULL,
    role VARCHAR NOT NULL, target_table VARCHAR NOT NULL, status VARCHAR NOT NULL, record_json VARCHAR,
    claimed_at TIMESTAMP NOT NULL, created_at TIMESTAMP, dropped_at TIMESTAMP,
    PRIMARY KEY (canonical_name, backfill_id)`,
  // A release graph and its lineage (contracts/release.ts GraphRecord as JSON), kept after cleanup.
  release_graphs: `release_id VARCHAR NOT NULL PRIMARY KEY, status VARCHAR NOT NULL, graph_hash VARCHAR NOT NULL,
    started_at TIMESTAMP NOT NULL, record_json VARCHAR NOT NULL`,
} as const;

export type ControlTable = keyof typeof TABLES;

export interface AuditEntry {
  backfillId: string;
  at: string;
  actor: string;
  action: string;
  detail: Record<string, unknown>;
}

/** One checkpointed batch: the provenance stamp of what was written and how it was judged. */
export type { Checkpoint } from '../contracts/checkpoint';

/**
 * What a backfill derives from its target: the tables it creates, (view mode) the view it points,
 * and the scratch table of `backfill preview` (warehouse/preview.ts).
 */
export type OwnedRole = 'shadow' | 'snapshot' | 'view' | 'preview';

/**
 * A table this product created for a backfill. `claimed` is recorded before the CREATE (the name
 * was free then), `created` after it with what identifies the table later; `dropped` after cleanup;
 * `handed_over` when a later backfill of the same target took over a view.
 */
export interface OwnedTable {
  /** database.schema.table in lower case: one spelling per table (warehouse/ownership.ts). */
  canonicalName: string;
  backfillId: string;
  /** The name as the spec wrote it. */
  tableName: string;
  role: OwnedRole;
  /** Canonical name of the backfill's target. */
  targetTable: string;
  status: 'claimed' | 'created' | 'dropped' | 'handed_over';
  /** What identifies the table as the one created: its columns, and a restore point's fingerprint. */
  record: Record<string, unknown> | null;
  claimedAt: string;
  createdAt: string | null;
  droppedAt: string | null;
}

/** Claims that still hold a name. */
export const ACTIVE_CLAIM: ReadonlyArray<OwnedTable['status']> = ['claimed', 'created'];

export interface Lease {
  targetTable: string;
  backfillId: string;
  workflowId: string | null;
  acquiredAt: string;
}

/**
 * `text` as the ISO instant 'YYYY-MM-DDTHH:MM:SS.sssZ'. Accepts what callers pass (ISO with Z or an
 * offset) and what the warehouse returns for a TIMESTAMP cast to text ('YYYY-MM-DD HH:MM:SS[.ffffff]',
 * UTC). Values are normalised before binding because DuckDB's CAST(? AS TIMESTAMP) drops an offset
 * instead of applying it, and after reading so a record read back equals the one written.
 */
export function isoTimestamp(text: string, where = 'timestamp'): string {
  const m = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2})?)(\.\d+)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i.exec(
    text.trim(),
  );
  const t = m ? new Date(`${m[1]}T${m[2] ?? '00:00'}${(m[3] ?? '').slice(0, 4)}${m[4] ?? 'Z'}`) : null;
  if (!t || Number.isNaN(t.getTime())) {
    throw new BackfillFailure(
      BackfillError.InvalidRequest,
      `${where}: "${text}" is not an ISO timestamp; write e.g. 2026-06-01T10:00:00Z.`,
      { where },
    );
  }
  return t.toISOString();
}

const RELEASE_COLUMNS =
  'release_id, dataset, backfill_id, published_at, source_range, code_version, approved_by, restore_point, ' +
    'rollback_expires_at, publish_mode, status, approval_json';

/**
 * Columns added after a control table was first created: ensure() adds them to older control
 * schemas (ADD COLUMN IF NOT EXISTS, on both engines), so an upgrade needs no migration step.
 */
const ADDED_COLUMNS: ReadonlyArray<[ControlTable, string, string]> = [
  // The approval's digest, key id and signature (JSON), since decisions carry them.
  ['releases', 'approval_json', 'VARCHAR'],
];

function releaseFromRow(r: Row): ReleaseRecord {
  const range = JSON.parse(String(r.source_range)) as ReleaseRecord['sourceRange'];
  return {
    releaseId: String(r.release_id),
    dataset: String(r.dataset),
    backfillId: String(r.backfill_id),
    publishedAt: isoTimestamp(String(r.published_at_text), 'releases.published_at'),
    sourceRange: { start: range.start, end: range.end, grain: range.grain },
    codeVersion: r.code_version === null ? null : String(r.code_version),
    approvedBy: String(r.approved_by),
    // Releases approved before decisions carried digests have none (and older control schemas no column).
    ...(r.approval_json === null || r.approval_json === undefined
      ? {}
      : { approval: JSON.parse(String(r.approval_json)) as ReleaseRecord['approval'] }),
    restorePoint: String(r.restore_point),
    rollbackExpiresAt: isoTimestamp(String(r.rollback_expires_at_text), 'releases.rollback_expires_at'),
    publishMode: String(r.publish_mode) as ReleaseRecord['publishMode'],
    status: String(r.status) as ReleaseRecord['status'],
  };
}

export class ControlStore {
  constructor(private readonly db: Driver) {}

  table(name: ControlTable): TableName {
    return { schema: CONTROL_SCHEMA, name };
  }

  private ref(name: ControlTable): string {
    return this.db.dialect.table(this.table(name));
  }

  /** `sql` with ? markers rendered as the dialect's numbered placeholders. */
  private stmt(sql: string, params: SqlValue[]): Statement {
    let i = 0;
    return { sql: sql.replace(/\?/g, () => this.db.dialect.placeholder(++i)), params };
  }

  async ensure(opts?: QueryOptions): Promise<void> {
    await this.db.execute(this.db.dialect.createSchema(CONTROL_SCHEMA), opts);
    for (const [name, columns] of Object.entries(TABLES)) {
      await this.db.execute(
        `CREATE TABLE IF NOT EXISTS ${this.ref(name as ControlTable)} (${columns.replace(/\s+/g, ' ')})`,
        opts,
      );
    }
    // Read first, so a schema that has the column sees no DDL (and a publish no write beyond its own).
    for (const [table, column, type] of ADDED_COLUMNS) {
      const columns = (await columnNames(this.db, this.table(table), opts)).map((c) => c.toLowerCase());
      if (!columns.includes(column)) {
        await this.db.execute(`ALTER TABLE ${this.ref(table)} ADD COLUMN IF NOT EXISTS ${column} ${type}`, opts);
      }
    }
  }

  /** Replaces the recorded plan of a backfill (re-planning the same spec is idempotent). */
  async recordPlan(
    plan: Plan,
    spec: { transform?: { code_version: string } },
    at: string,
    opts?: QueryOptions,
  ): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.execute(this.stmt(`DELETE FROM ${this.ref('plan_batches')} WHERE backfill_id = ?`, [plan.backfillId]));
      await tx.execute(this.stmt(`DELETE FROM ${this.ref('plans')} WHERE backfill_id = ?`, [plan.backfillId]));
      const { batches, ...summary } = plan;
      await tx.execute(
        this.stmt(
          `INSERT INTO ${this.ref('plans')} VALUES (?, CAST(? AS TIMESTAMP), ?, ?, ?, ?, ?, ?, ?, ?)`,
          [plan.backfillId, at, spec.transform?.code_version ?? null, plan.totals.partitions, plan.totals.batches,
            plan.totals.rows, plan.totals.bytes, plan.totals.seconds, JSON.stringify(spec), JSON.stringify(summary)],
        ),
      );
      // Batches go in chunks of multi-row VALUES so a 10-year hourly plan is a few statements.
      for (let i = 0; i < batches.length; i += 500) {
        const chunk = batches.slice(i, i + 500);
        await tx.execute(
          this.stmt(
            `INSERT INTO ${this.ref('plan_batches')} VALUES ${chunk.map(() => '(?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
            chunk.flatMap((b) => [plan.backfillId, b.index, b.first, b.last, b.partitions, b.rows, b.bytes, b.seconds]),
          ),
        );
      }
    }, opts);
  }

  async recordedPlan(
    backfillId: string,
    opts?: QueryOptions,
  ): Promise<{ summary: Record<string, unknown>; batches: Row[] } | null> {
    const [row] = await this.db.query(
      this.stmt(`SELECT plan_json FROM ${this.ref('plans')} WHERE backfill_id = ?`, [backfillId]),
      opts,
    );
    if (!row) return null;
    const batches = await this.db.query(
      this.stmt(`SELECT * FROM ${this.ref('plan_batches')} WHERE backfill_id = ? ORDER BY batch_index`, [backfillId]),
      opts,
    );
    return { summary: JSON.parse(String(row.plan_json)) as Record<string, unknown>, batches };
  }

  /**
   * Records a batch's checkpoint in one statement: a MERGE on (backfill_id, batch_index), so
   * re-recording the same batch (an activity retry, or an operator accepting a failed verdict)
   * replaces it, one row per batch, and the per-batch control write is one round trip and one commit.
   */
  async recordCheckpoint(c: Checkpoint, opts?: QueryOptions): Promise<void> {
    const columns = [
      'backfill_id', 'batch_index', 'first_partition', 'last_partition', 'partitions', 'rows_written', 'code_version',
      'verdict', 'provenance_json', 'started_at', 'finished_at',
    ];
    const timestamps = new Set(['started_at', 'finished_at']);
    const values = columns.map((col) => (timestamps.has(col) ? `CAST(? AS TIMESTAMP) AS ${col}` : `? AS ${col}`));
    const keys = ['backfill_id', 'batch_index'];
    const updates = columns.filter((col) => !keys.includes(col)).map((col) => `${col} = s.${col}`);
    await this.db.execute(
      this.stmt(
        `MERGE INTO ${this.ref('checkpoints')} AS t USING (SELECT ${values.join(', ')}) AS s ` +
          `ON ${keys.map((k) => `t.${k} = s.${k}`).join(' AND ')} ` +
          `WHEN MATCHED THEN UPDATE SET ${updates.join(', ')} ` +
          `WHEN NOT MATCHED THEN INSERT (${columns.join(', ')}) ` +
          `VALUES (${columns.map((col) => `s.${col}`).join(', ')})`,
        [
          c.backfillId, c.batchIndex, c.firstPartition, c.lastPartition, c.partitions, c.rowsWritten, c.codeVersion,
          c.verdict, JSON.stringify(c.provenance), c.startedAt, c.finishedAt,
        ],
      ),
      opts,
    );
  }

  async checkpoints(backfillId: string, opts?: QueryOptions): Promise<Checkpoint[]> {
    const rows = await this.db.query(
      this.stmt(
        `SELECT backfill_id, batch_index, first_partition, last_partition, partitions, rows_written, code_version, ` +
          `verdict, provenance_json, CAST(started_at AS VARCHAR) AS started_at, CAST(finished_at AS VARCHAR) ` +
          `AS finished_at FROM ${this.ref('checkpoints')} WHERE backfill_id = ? ORDER BY batch_index`,
        [backfillId],
      ),
      opts,
    );
    return rows.map((r) => ({
      backfillId: String(r.backfill_id),
      batchIndex: Number(r.batch_index),
      firstPartition: String(r.first_partition),
      lastPartition: String(r.last_partition),
      partitions: Number(r.partitions),
      rowsWritten: Number(r.rows_written),
      codeVersion: r.code_version === null ? null : String(r.code_version),
      verdict: String(r.verdict) as Checkpoint['verdict'],
      provenance: readProvenance(String(r.provenance_json)),
      startedAt: r.started_at === null ? null : isoTimestamp(String(r.started_at), 'checkpoints.started_at'),
      finishedAt: isoTimestamp(String(r.finished_at), 'checkpoints.finished_at'),
    }));
  }

  /** Append-only: entries are never updated or deleted. */
  async audit(entry: AuditEntry, db: Session = this.db, opts?: QueryOptions): Promise<void> {
    await db.execute(
      this.stmt(`INSERT INTO ${this.ref('audit_log')} VALUES (?, CAST(? AS TIMESTAMP), ?, ?, ?)`, [
        entry.backfillId, entry.at, entry.actor, entry.action, JSON.stringify(entry.detail),
      ]),
      opts,
    );
  }

  /**
   * Appends `entry` unless an entry with the same action and detail exists: activities put their
   * run and activity ID in the detail, so a retried activity never logs the same event twice.
   */
  async auditOnce(entry: AuditEntry, opts?: QueryOptions): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const [seen] = await tx.query(
        this.stmt(
          `SELECT 1 AS seen FROM ${this.ref('audit_log')} WHERE backfill_id = ? AND action = ? AND detail_json = ?`,
          [entry.backfillId, entry.action, JSON.stringify(entry.detail)],
        ),
      );
      if (seen) return false;
      await this.audit(entry, tx);
      return true;
    }, opts);
  }

  async auditTrail(backfillId: string, opts?: QueryOptions): Promise<AuditEntry[]> {
    const rows = await this.db.query(
      this.stmt(`SELECT backfill_id, CAST(logged_at AS VARCHAR) AS logged_at, actor, action, ` +
        `detail_json FROM ${this.ref('audit_log')} WHERE backfill_id = ? ORDER BY logged_at`, [backfillId]),
      opts,
    );
    return rows.map((r) => ({
      backfillId: String(r.backfill_id),
      at: isoTimestamp(String(r.logged_at), 'audit_log.logged_at'),
      actor: String(r.actor),
      action: String(r.action),
      detail: JSON.parse(String(r.detail_json)) as Record<string, unknown>,
    }));
  }

  /**
   * Takes the target's lease for `backfillId`; re-taking one's own lease is a no-op. Refuses with
   * TargetLeased when another backfill holds it, so two backfills never write one table.
   */
  async acquireLease(
    targetTable: string,
    backfillId: string,
    workflowId: string | null,
    at: string,
    opts?: QueryOptions,
  ): Promise<Lease> {
    const attempt = () =>
      this.db.transaction(async (tx) => {
        const holder = await this.leaseOf(targetTable, tx);
        if (holder) return holder;
        await tx.execute(
          this.stmt(`INSERT INTO ${this.ref('leases')} VALUES (?, ?, ?, CAST(? AS TIMESTAMP))`, [
            targetTable, backfillId, workflowId, at,
          ]),
        );
        return { targetTable, backfillId, workflowId, acquiredAt: at };
      }, opts);
    let lease: Lease;
    try {
      lease = await attempt();
    } catch {
      // A concurrent acquire won the insert; whoever holds it now is the answer.
      lease = (await this.leaseOf(targetTable)) ?? (await attempt());
    }
    // Where primary keys are not enforced (Snowflake), two concurrent acquires can both insert.
    // A lease holds only if it is the target's only row; on a tie both back off (nobody writes).
    if (lease.backfillId === backfillId) {
      const rows = await this.db.query(
        this.stmt(`SELECT backfill_id FROM ${this.ref('leases')} WHERE target_table = ?`, [targetTable]),
        opts,
      );
      const other = rows.map((r) => String(r.backfill_id)).find((b) => b !== backfillId);
      if (other !== undefined) {
        await this.db.execute(
          this.stmt(`DELETE FROM ${this.ref('leases')} WHERE target_table = ? AND backfill_id = ?`, [
            targetTable,
            backfillId,
          ]),
          opts,
        );
        lease = { ...lease, backfillId: other };
      }
    }
    if (lease.backfillId !== backfillId) {
      throw new BackfillFailure(
        BackfillError.TargetLeased,
        `${targetTable} is leased by backfill ${lease.backfillId} (since ${lease.acquiredAt}); ` +
          `two backfills may not write one table. Wait for it to finish, or abort it and release its lease.`,
        { holder: lease.backfillId, targetTable },
      );
    }
    return lease;
  }

  async leaseOf(targetTable: string, db: Session = this.db): Promise<Lease | null> {
    const [row] = await db.query(
      this.stmt(`SELECT target_table, backfill_id, workflow_id, CAST(acquired_at AS VARCHAR) AS acquired_at FROM ` +
        `${this.ref('leases')} WHERE target_table = ?`, [targetTable]),
    );
    return row
      ? {
          targetTable: String(row.target_table),
          backfillId: String(row.backfill_id),
          workflowId: row.workflow_id === null ? null : String(row.workflow_id),
          acquiredAt: isoTimestamp(String(row.acquired_at), 'leases.acquired_at'),
        }
      : null;
  }

  private ownedFromRow(r: Row): OwnedTable {
    const at = (v: SqlValue | undefined, where: string) =>
      v === null || v === undefined ? null : isoTimestamp(String(v), where);
    return {
      canonicalName: String(r.canonical_name),
      backfillId: String(r.backfill_id),
      tableName: String(r.table_name),
      role: String(r.role) as OwnedRole,
      targetTable: String(r.target_table),
      status: String(r.status) as OwnedTable['status'],
      record: r.record_json === null ? null : (JSON.parse(String(r.record_json)) as Record<string, unknown>),
      claimedAt: at(r.claimed_at, 'owned_tables.claimed_at')!,
      createdAt: at(r.created_at, 'owned_tables.created_at'),
      droppedAt: at(r.dropped_at, 'owned_tables.dropped_at'),
    };
  }

  private ownedSelect(where: string): string {
    return (
      `SELECT canonical_name, backfill_id, table_name, role, target_table, status, record_json, ` +
      `CAST(claimed_at AS VARCHAR) AS claimed_at, CAST(created_at AS VARCHAR) AS created_at, CAST(dropped_at AS ` +
      `VARCHAR) AS dropped_at FROM ${this.ref('owned_tables')} WHERE ${where} ORDER BY claimed_at, backfill_id`
    );
  }

  /** Every record of a canonical name, any backfill and status, oldest first. */
  async ownersOf(canonicalName: string, db: Session = this.db, opts?: QueryOptions): Promise<OwnedTable[]> {
    const rows = await db.query(this.stmt(this.ownedSelect('canonical_name = ?'), [canonicalName]), opts);
    return rows.map((r) => this.ownedFromRow(r));
  }

  /** The tables a backfill has claimed or created, any status. */
  async ownedBy(backfillId: string, db: Session = this.db, opts?: QueryOptions): Promise<OwnedTable[]> {
    const rows = await db.query(this.stmt(this.ownedSelect('backfill_id = ?'), [backfillId]), opts);
    return rows.map((r) => this.ownedFromRow(r));
  }

  /** Records a claim on a free name (the caller checked it is free inside `tx`). */
  async claimTable(t: OwnedTable, tx: Session): Promise<void> {
    await tx.execute(
      this.stmt(
        `INSERT INTO ${this.ref('owned_tables')} VALUES (?, ?, ?, ?, ?, ?, ?, CAST(? AS TIMESTAMP), ` +
          `CAST(? AS TIMESTAMP), CAST(? AS TIMESTAMP))`,
        [
          t.canonicalName,
          t.backfillId,
          t.tableName,
          t.role,
          t.targetTable,
          t.status,
          t.record === null ? null : JSON.stringify(t.record),
          isoTimestamp(t.claimedAt, 'claimedAt'),
          t.createdAt && isoTimestamp(t.createdAt, 'createdAt'),
          t.droppedAt && isoTimestamp(t.droppedAt, 'droppedAt'),
        ],
      ),
    );
  }

  /**
   * Claims again a name this backfill's record already holds (a preview reusing its scratch name
   * after dropping it): the row starts over as `t`, so no time of the earlier table stays on it.
   */
  async reclaimTable(t: OwnedTable, tx: Session): Promise<void> {
    await tx.execute(
      this.stmt(
        `UPDATE ${this.ref('owned_tables')} SET table_name = ?, role = ?, target_table = ?, status = ?, ` +
          `record_json = ?, claimed_at = CAST(? AS TIMESTAMP), created_at = NULL, dropped_at = NULL ` +
          `WHERE canonical_name = ? AND backfill_id = ?`,
        [
          t.tableName, t.role, t.targetTable, t.status, t.record === null ? null : JSON.stringify(t.record),
          isoTimestamp(t.claimedAt, 'claimedAt'), t.canonicalName, t.backfillId,
        ],
      ),
    );
  }

  /** Moves a backfill's record of a name to `status`, with the time and (when created) what identifies it. */
  async setOwnedStatus(
    canonicalName: string, backfillId: string, status: OwnedTable['status'], at: string,
    record: Record<string, unknown> | null = null, db: Session = this.db, opts?: QueryOptions,
  ): Promise<void> {
    const column = status === 'created' ? 'created_at' : status === 'claimed' ? 'claimed_at' : 'dropped_at';
    const setRecord = record === null ? '' : ', record_json = ?';
    await db.execute(
      this.stmt(
        `UPDATE ${this.ref('owned_tables')} SET status = ?, ${column} = CAST(? AS TIMESTAMP)${setRecord} WHERE ` +
          `canonical_name = ? AND backfill_id = ?`,
        [
          status,
          isoTimestamp(at, 'at'),
          ...(record === null ? [] : [JSON.stringify(record)]),
          canonicalName,
          backfillId,
        ],
      ),
      opts,
    );
  }

  /** Whether `backfillId` holds a lease on any target (it is running, or its rollback window is open). */
  async holdsLease(backfillId: string, opts?: QueryOptions): Promise<boolean> {
    const [row] = await this.db.query(
      this.stmt(`SELECT count(*) AS n FROM ${this.ref('leases')} WHERE backfill_id = ?`, [backfillId]),
      opts,
    );
    return Number(row?.n ?? 0) > 0;
  }

  /** Releases the lease if `backfillId` holds it; idempotent. */
  async releaseLease(targetTable: string, backfillId: string, opts?: QueryOptions): Promise<void> {
    await this.db.execute(
      this.stmt(`DELETE FROM ${this.ref('leases')} WHERE target_table = ? AND backfill_id = ?`, [
        targetTable,
        backfillId,
      ]),
      opts,
    );
  }

  /**
   * Records a release inside the transaction that publishes it, so the row exists exactly when the
   * publish committed: a retried publish finds it and writes nothing.
   */
  async recordRelease(r: ReleaseRecord, tx: Session): Promise<void> {
    await tx.execute(
      this.stmt(
        `INSERT INTO ${this.ref('releases')} (${RELEASE_COLUMNS}) VALUES (?, ?, ?, CAST(? AS TIMESTAMP), ?, ?, ?, ?, ` +
          `CAST(? AS TIMESTAMP), ?, ?, ?)`,
        [
          r.releaseId,
          r.dataset,
          r.backfillId,
          isoTimestamp(r.publishedAt, 'publishedAt'),
          JSON.stringify({ start: r.sourceRange.start, end: r.sourceRange.end, grain: r.sourceRange.grain }),
          r.codeVersion,
          r.approvedBy,
          r.restorePoint,
          isoTimestamp(r.rollbackExpiresAt, 'rollbackExpiresAt'),
          r.publishMode,
          r.status,
          r.approval ? JSON.stringify(r.approval) : null,
        ],
      ),
    );
  }

  /**
   * Every column (`*`), so a control schema from before a column was added (read by `plan` or
   * `report`, which never alter it) still reads; timestamps as text beside them.
   */
  private releaseSelect(where: string): string {
    return (
      `SELECT *, CAST(published_at AS VARCHAR) AS published_at_text, ` +
      `CAST(rollback_expires_at AS VARCHAR) AS rollback_expires_at_text FROM ${this.ref('releases')} WHERE ${where}`
    );
  }

  async release(releaseId: string, db: Session = this.db, opts?: QueryOptions): Promise<ReleaseRecord | null> {
    const [row] = await db.query(this.stmt(this.releaseSelect('release_id = ?'), [releaseId]), opts);
    return row ? releaseFromRow(row) : null;
  }

  /** The latest release of a backfill, or null when it never published. */
  async releaseOf(backfillId: string, opts?: QueryOptions): Promise<ReleaseRecord | null> {
    const [row] = await this.db.query(
      this.stmt(`${this.releaseSelect('backfill_id = ?')} ORDER BY published_at DESC, release_id DESC LIMIT 1`, [
        backfillId,
      ]),
      opts,
    );
    return row ? releaseFromRow(row) : null;
  }

  /** Sets a release's status inside the caller's transaction; refuses an unknown release. */
  async setReleaseStatus(releaseId: string, status: ReleaseRecord['status'], tx: Session): Promise<void> {
    const changed = await tx.execute(
      this.stmt(`UPDATE ${this.ref('releases')} SET status = ? WHERE release_id = ?`, [status, releaseId]),
    );
    if (changed === 0) {
      throw new BackfillFailure(
        BackfillError.NotAllowed,
        `release ${releaseId} is not recorded in ${CONTROL_SCHEMA}.releases; nothing to mark ${status}.`,
        { releaseId },
      );
    }
  }

  /** A release graph's record, or null when none was started under this id. */
  async graph(releaseId: string, db: Session = this.db, opts?: QueryOptions): Promise<GraphRecord | null> {
    const [row] = await db.query(
      this.stmt(`SELECT record_json FROM ${this.ref('release_graphs')} WHERE release_id = ?`, [releaseId]),
      opts,
    );
    return row ? (JSON.parse(String(row.record_json)) as GraphRecord) : null;
  }

  async recordGraph(r: GraphRecord, tx: Session): Promise<void> {
    await tx.execute(
      this.stmt(
        `INSERT INTO ${this.ref('release_graphs')} (release_id, status, graph_hash, started_at, record_json) ` +
          `VALUES (?, ?, ?, CAST(? AS TIMESTAMP), ?)`,
        [r.releaseId, r.status, r.graphHash, isoTimestamp(r.startedAt, 'startedAt'), JSON.stringify(r)],
      ),
    );
  }

  async updateGraph(r: GraphRecord, tx: Session): Promise<void> {
    await tx.execute(
      this.stmt(`UPDATE ${this.ref('release_graphs')} SET status = ?, record_json = ? WHERE release_id = ?`, [
        r.status,
        JSON.stringify(r),
        r.releaseId,
      ]),
    );
  }
}
