"""Stats rollups: per day and per month, sums of the tasks created then, kept exact by
database triggers on ``video_tasks`` and ``deleted_tasks`` (what a deleted task leaves:
its spend stays counted).

Triggers rather than Python hooks because tasks change through several write paths (the
ORM, compare-and-set ``UPDATE``s, cascades, bulk SQL): a trigger runs inside whichever
transaction changes the row, so a rollup can never disagree with the tasks it sums.
Each task is counted in a few grains, so every stats question reads a few thousand rows:

- ``task``:  user × provider × model × status × time bucket (one user's stats)
- ``all``:   provider × model × status × time bucket, everyone (the admin's default view)
- ``user``:  one row per user (spend per user)
- ``token``: user × API token × provider × model (spend per token; API tasks only)
- ``day``:   status only, everyone (the admin's per-day chart)

Each but ``day`` also has a monthly twin (``taskM``…, ``day`` = the month's first day):
a range reads whole months from those and only its ragged ends from the daily rows.
``seconds`` counts only completed tasks (seconds generated); ``cost`` counts whatever
the provider charged, whatever the status; ``bucket`` is the generation-time bucket
(``domain.timings``) for completed tasks, -1 otherwise. Keys use 0 and '' for "none" or
"all" so the primary key can be the upsert target. Rows left at zero are harmless.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Date, Index, Integer, Numeric, String, event, text
from sqlalchemy.orm import Mapped, mapped_column

from ..domain import timings
from ..extensions import db

KEY = ("grain", "user_id", "day", "provider_id", "model", "status", "bucket", "api_token_id")
# The columns whose change moves a task from one rollup row to another.
TRACKED = (
    "status",
    "cost",
    "seconds",
    "completed_at",
    "created_at",
    "user_id",
    "provider_id",
    "model",
    "api_token_id",
)


class StatsRollup(db.Model):
    __tablename__ = "stats_rollups"

    __table_args__ = (Index("ix_stats_rollups_grain_day", "grain", "day"),)

    grain: Mapped[str] = mapped_column(String(6), primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    provider_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model: Mapped[str] = mapped_column(String(100), primary_key=True)
    status: Mapped[str] = mapped_column(String(12), primary_key=True)
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True)
    api_token_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tasks: Mapped[int] = mapped_column(Integer, default=0)
    seconds: Mapped[int] = mapped_column(BigInteger, default=0)
    cost: Mapped[float] = mapped_column(Numeric(14, 4), default=0)


# ---- the SQL the triggers and the rebuild share ------------------------------------------

_DAY = {"postgresql": "CAST({r}.created_at AS date)", "sqlite": "date({r}.created_at)"}
_MONTH = {
    "postgresql": "CAST(date_trunc('month', {r}.created_at) AS date)",
    "sqlite": "date({r}.created_at, 'start of month')",
}
_DURATION = {
    "postgresql": "CAST(extract(epoch from ({r}.completed_at - {r}.created_at)) AS float8)",
    "sqlite": "((julianday({r}.completed_at) - julianday({r}.created_at)) * 86400.0)",
}
_BUCKET = (
    "CASE WHEN {r}.status = 'COMPLETED' AND {r}.completed_at IS NOT NULL "
    "THEN reelay_time_bucket({duration}) ELSE -1 END"
)
_SECONDS = "CASE WHEN {r}.status = 'COMPLETED' THEN coalesce({r}.seconds, 0) ELSE 0 END"
_PROVIDER = "coalesce({r}.provider_id, 0)"

# grain -> the key expressions (user, provider, model, status, bucket, token), and which
# tasks it counts.
_BASES = {
    "task": ("{r}.user_id", _PROVIDER, "{r}.model", "{r}.status", "{bucket}", "0", "1=1"),
    "all": ("0", _PROVIDER, "{r}.model", "{r}.status", "{bucket}", "0", "1=1"),
    "user": ("{r}.user_id", "0", "''", "''", "-1", "0", "1=1"),
    "token": (
        "{r}.user_id",
        _PROVIDER,
        "{r}.model",
        "''",
        "-1",
        "{r}.api_token_id",
        "{r}.api_token_id IS NOT NULL",
    ),
    "day": ("0", "0", "''", "{r}.status", "-1", "0", "1=1"),
}
MONTHLY = "M"  # the suffix of a monthly twin
# grain -> (its base, whether it is monthly)
_GRAINS = {
    **{base: (base, False) for base in _BASES},
    **{base + MONTHLY: (base, True) for base in _BASES if base != "day"},
}
GRAINS = tuple(_GRAINS)
_COLUMNS = (
    "grain, user_id, day, provider_id, model, status, bucket, api_token_id, tasks, seconds, cost"
)
_UPSERT_TAIL = (
    f" ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET"
    " tasks = stats_rollups.tasks + excluded.tasks,"
    " seconds = stats_rollups.seconds + excluded.seconds,"
    " cost = stats_rollups.cost + excluded.cost"
)


def _exprs(dialect: str, r: str, monthly: bool = False) -> dict:
    duration = _DURATION[dialect].format(r=r)
    return {
        "r": r,
        "day": (_MONTH if monthly else _DAY)[dialect].format(r=r),
        "bucket": _BUCKET.format(r=r, duration=duration),
        "seconds": _SECONDS.format(r=r),
        "cost": f"coalesce({r}.cost, 0)",
    }


def _key(dialect: str, grain: str, r: str) -> tuple[list[str], str]:
    base, monthly = _GRAINS[grain]
    e = _exprs(dialect, r, monthly)
    user, provider, model, status, bucket, token, where = _BASES[base]
    fmt = {"r": r, "bucket": e["bucket"]}
    cols = [f"'{grain}'", user, e["day"], provider, model, status, bucket, token]
    return [c.format(**fmt) for c in cols], where.format(r=r)


def _upsert(dialect: str, grain: str, row: str, sign: int, only_if: str | None = None) -> str:
    """One trigger statement: add (sign=1) or take away (sign=-1) one task row."""
    e = _exprs(dialect, row)
    key, where = _key(dialect, grain, row)
    if only_if:
        where = f"({where}) AND ({only_if})"
    values = ", ".join([*key, str(sign), f"{sign} * ({e['seconds']})", f"{sign} * ({e['cost']})"])
    return f"INSERT INTO stats_rollups ({_COLUMNS}) SELECT {values} WHERE {where}{_UPSERT_TAIL}"


# The rows the rollups count: the tasks, and what deleted tasks left behind (their
# spend stays spent). The rebuild reads both under the tasks' own name.
COUNTED_TABLES = ("video_tasks", "deleted_tasks")
_COUNTED = (
    "("
    + " UNION ALL ".join(f"SELECT {', '.join(TRACKED)} FROM {t}" for t in COUNTED_TABLES)
    + ") AS video_tasks"
)


def rebuild_sql(dialect: str, grain: str, with_deleted: bool = False) -> str:
    """Recompute one grain for the tasks created in [:start, :end) (whole months, so the
    monthly grains come out whole); ``with_deleted``: and what deleted tasks left (the
    2026-12-03 migration ran before deleted tasks were kept, on the tasks alone)."""
    e = _exprs(dialect, "video_tasks")
    key, where = _key(dialect, grain, "video_tasks")
    rows = _COUNTED if with_deleted else "video_tasks"
    return (
        f"INSERT INTO stats_rollups ({_COLUMNS}) SELECT {', '.join(key)}, count(*), "
        f"sum({e['seconds']}), sum({e['cost']}) FROM {rows} "
        f"WHERE {where} AND video_tasks.created_at >= :start AND video_tasks.created_at < :end "
        f"GROUP BY {', '.join(str(i) for i in range(1, len(key) + 1))}"
    )


def _differ(dialect: str, pairs) -> str:
    """SQL that is true when any (old, new) expression pair differs (NULLs compared)."""
    op = "IS DISTINCT FROM" if dialect == "postgresql" else "IS NOT"
    return " OR ".join(f"{old} {op} {new}" for old, new in pairs)


def _changed(dialect: str) -> str:
    return _differ(dialect, ((f"OLD.{c}", f"NEW.{c}") for c in TRACKED))


def _moved(dialect: str) -> str:
    """Whether an update changes a task's row in the grains without a status (a task
    going from queued to running leaves its spend where it was: no write there)."""
    pairs = [(f"OLD.{c}", f"NEW.{c}") for c in TRACKED if c != "status"]
    pairs.append(("(OLD.status = 'COMPLETED')", "(NEW.status = 'COMPLETED')"))
    return _differ(dialect, pairs)


def _body(dialect: str, row: str, sign: int, update: bool = False) -> str:
    statements = []
    for grain, (base, _monthly) in _GRAINS.items():
        keyed_by_status = _BASES[base][3] != "''"
        only_if = _moved(dialect) if update and not keyed_by_status else None
        statements.append(_upsert(dialect, grain, row, sign, only_if))
    return ";\n".join(statements) + ";"


def install_statements(dialect: str, table: str = "video_tasks") -> list[str]:
    """The functions and triggers that keep the rollups in step with one counted table
    (for the migrations and for create_all)."""
    if dialect == "postgresql":
        return [
            "CREATE OR REPLACE FUNCTION reelay_time_bucket(secs float8) RETURNS integer "
            "LANGUAGE sql IMMUTABLE AS $$ SELECT CASE WHEN secs IS NULL THEN -1 "
            f"WHEN secs < 1 THEN 0 ELSE LEAST({timings.BUCKETS - 1}, "
            f"1 + floor(ln(secs) / ln({timings.RATIO}))::integer) END $$",
            "CREATE OR REPLACE FUNCTION reelay_rollup() RETURNS trigger LANGUAGE plpgsql AS $$\n"
            f"BEGIN\nIF TG_OP = 'DELETE' THEN\n{_body(dialect, 'OLD', -1)}\n"
            f"ELSIF TG_OP = 'INSERT' THEN\n{_body(dialect, 'NEW', 1)}\n"
            f"ELSE\n{_body(dialect, 'OLD', -1, True)}\n{_body(dialect, 'NEW', 1, True)}\n"
            "END IF;\nRETURN NULL;\nEND $$",
            f"DROP TRIGGER IF EXISTS {table}_rollup_change ON {table}",
            f"CREATE TRIGGER {table}_rollup_change AFTER INSERT OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION reelay_rollup()",
            f"DROP TRIGGER IF EXISTS {table}_rollup_update ON {table}",
            f"CREATE TRIGGER {table}_rollup_update AFTER UPDATE ON {table} FOR EACH ROW "
            f"WHEN ({_changed(dialect)}) EXECUTE FUNCTION reelay_rollup()",
        ]
    # SQLite: reelay_time_bucket is a Python function every connection registers.
    return [
        f"DROP TRIGGER IF EXISTS {table}_rollup_insert",
        f"CREATE TRIGGER {table}_rollup_insert AFTER INSERT ON {table} BEGIN\n"
        f"{_body(dialect, 'NEW', 1)}\nEND",
        f"DROP TRIGGER IF EXISTS {table}_rollup_delete",
        f"CREATE TRIGGER {table}_rollup_delete AFTER DELETE ON {table} BEGIN\n"
        f"{_body(dialect, 'OLD', -1)}\nEND",
        f"DROP TRIGGER IF EXISTS {table}_rollup_update",
        f"CREATE TRIGGER {table}_rollup_update AFTER UPDATE ON {table} "
        f"WHEN {_changed(dialect)} BEGIN\n{_body(dialect, 'OLD', -1, True)}\n"
        f"{_body(dialect, 'NEW', 1, True)}\nEND",
    ]


def uninstall_statements(dialect: str, table: str = "video_tasks") -> list[str]:
    if dialect != "postgresql":
        return [
            f"DROP TRIGGER IF EXISTS {table}_rollup_{op}" for op in ("insert", "delete", "update")
        ]
    drops = [
        f"DROP TRIGGER IF EXISTS {table}_rollup_change ON {table}",
        f"DROP TRIGGER IF EXISTS {table}_rollup_update ON {table}",
    ]
    if table == "video_tasks":  # the first table counted lets go of the shared functions
        drops += [
            "DROP FUNCTION IF EXISTS reelay_rollup()",
            "DROP FUNCTION IF EXISTS reelay_time_bucket(float8)",
        ]
    return drops


@event.listens_for(db.metadata, "after_create")
def _install(target, connection, **kw) -> None:
    """create_all (tests, first run without migrations) installs the triggers too."""
    for table in COUNTED_TABLES:
        for statement in install_statements(connection.dialect.name, table):
            connection.execute(text(statement))
