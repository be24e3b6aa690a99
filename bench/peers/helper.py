"""Python side of `npm run bench:peers` (bench/peers.ts): runs in .tools/peers-venv with duckdb 1.5.6.

  helper.py floor DB SQL_FILE START END_EXCL        one CREATE TABLE AS of the transform; prints {"ms": ...}
  helper.py fingerprint DB TABLE START END_EXCL     row count, net sum and hash in and outside the range
  helper.py sqlmesh-prepare DB PROJECT_DIR          puts the seeded rows behind SQLMesh's prod view
"""
import json
import re
import subprocess
import sys
import time

import duckdb

FLOOR_TABLE = "finance.bench_floor"
# Data columns only: recalculated_at and backfill_id say who wrote the row and when, so they differ by tool.
COLUMNS = (
    "CAST(revenue_date AS DATE), CAST(merchant_id AS VARCHAR), CAST(gross_revenue AS DECIMAL(18, 2)), "
    "CAST(tax_amount AS DECIMAL(18, 2)), CAST(net_revenue AS DECIMAL(18, 2)), CAST(order_count AS BIGINT)"
)


def bind(sql: str, start: str, end_excl: str) -> str:
    return sql.replace(":partition_start", f"DATE '{start}'").replace(":partition_end", f"DATE '{end_excl}'")


def floor(db: str, sql_file: str, start: str, end_excl: str) -> dict:
    with open(sql_file) as f:
        sql = re.sub(r"--[^\n]*", "", f.read()).strip()
    con = duckdb.connect(db)
    try:
        con.execute(f"DROP TABLE IF EXISTS {FLOOR_TABLE}")
        t0 = time.perf_counter()
        con.execute(f"CREATE TABLE {FLOOR_TABLE} AS {bind(sql, start, end_excl)}")
        ms = (time.perf_counter() - t0) * 1000
    finally:
        con.close()
    return {"ms": ms}


def fingerprint(db: str, table: str, start: str, end_excl: str) -> dict:
    con = duckdb.connect(db, read_only=True)
    try:
        def fp(where: str) -> dict:
            n, keys, net, h = con.execute(
                f"SELECT count(*), count(DISTINCT (revenue_date, merchant_id)), "
                f"CAST(round(coalesce(sum(net_revenue), 0), 2) AS VARCHAR), "
                f"CAST(coalesce(sum(CAST(hash({COLUMNS}) AS HUGEINT)), 0) AS VARCHAR) FROM {table} WHERE {where}"
            ).fetchone()
            return {"rows": n, "keys": keys, "net": net, "hash": h}

        in_range = f"revenue_date >= DATE '{start}' AND revenue_date < DATE '{end_excl}'"
        objects = [
            f"{s}.{t} ({k})"
            for s, t, k in con.execute(
                "SELECT schema_name, table_name, 'table' FROM duckdb_tables() UNION ALL "
                "SELECT schema_name, view_name, 'view' FROM duckdb_views() WHERE NOT internal ORDER BY 1, 2"
            ).fetchall()
        ]
        return {"in": fp(in_range), "out": fp(f"NOT ({in_range})"), "objects": objects}
    finally:
        con.close()


def sqlmesh_prepare(db: str, project: str) -> dict:
    """Seeded table aside, an empty backfill creates the model's physical table and prod view (recording the
    intervals as done), then the seeded rows go into that physical table: prod reads exactly the seed."""
    con = duckdb.connect(db)
    con.execute("ALTER TABLE finance.daily_revenue RENAME TO daily_revenue__seed")
    con.close()
    sqlmesh = sys.executable.rsplit("/", 1)[0] + "/sqlmesh"
    subprocess.run([sqlmesh, "-p", project, "plan", "--empty-backfill", "--auto-apply", "--no-prompts"],
                   check=True, stdout=sys.stderr)
    con = duckdb.connect(db)
    try:
        found = con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() "
            "WHERE schema_name = 'sqlmesh__finance' AND table_name LIKE 'finance__daily_revenue__%'"
        ).fetchall()
        if len(found) != 1:
            raise SystemExit(f"expected one physical table for finance.daily_revenue, found {found}")
        physical = f'"{found[0][0]}"."{found[0][1]}"'
        con.execute(f"INSERT INTO {physical} SELECT * FROM finance.daily_revenue__seed ORDER BY revenue_date, merchant_id")
        con.execute("DROP TABLE finance.daily_revenue__seed")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return {"physical": physical}


def main() -> None:
    cmd, *args = sys.argv[1:]
    if cmd == "floor":
        out = floor(*args)
    elif cmd == "fingerprint":
        out = fingerprint(*args)
    elif cmd == "sqlmesh-prepare":
        out = sqlmesh_prepare(*args)
    else:
        raise SystemExit(f"unknown command {cmd}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
