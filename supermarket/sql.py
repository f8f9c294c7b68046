"""Hand-written SQL for the few statements every sale runs, where the ORM's compiling costs more than the query.

Anything here must give exactly what the ORM would: values pass through each field's own preparation
(get_db_prep_save), so decimals, times, UUIDs and foreign keys are written as the ORM writes them.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Model

Statement = tuple[str, list]  # SQL with %s placeholders, and its parameters


@dataclass(frozen=True)
class Rows:
    """Unsaved objects of one model with each one's row of values prepared for the database (`rows_prepare`)."""

    objs: Sequence[Model]
    into: tuple[str, str]  # `INSERT INTO table (columns)` and the primary key column
    values: list[list]


def rows_prepare(objs: Sequence[Model]) -> Rows:
    """The objects' values as insert_all writes them, worked out now: a caller holding locks it wants to release
    soon (a sale's stock rows) prepares what does not depend on them before taking them."""
    db = connections[DEFAULT_DB_ALIAS]
    meta = type(objs[0])._meta
    fields = [f for f in meta.concrete_fields if f is not meta.pk or objs[0].pk is not None]
    values = [[f.get_db_prep_save(f.pre_save(obj, True), db) for f in fields] for obj in objs]
    columns = ", ".join(db.ops.quote_name(f.column) for f in fields)
    return Rows(
        objs, (f"INSERT INTO {db.ops.quote_name(meta.db_table)} ({columns})", db.ops.quote_name(meta.pk.column)), values
    )


# psycopg keeps the conversion of a statement's %s placeholders only for statements of at most 50 parameters, and
# parses any other anew each time (0.13 ms for a 5-line sale's). A sale's one writing statement carries about 30
# parameters per line and 20 more: 2,000 keeps baskets of up to 60 lines. Its cache holds the 128 texts used last,
# so a higher bound only lets these in too.
STATEMENT_CACHE_PARAMS = 2000


def statement_cache_widen() -> None:
    """Let psycopg keep the placeholder conversion of statements up to STATEMENT_CACHE_PARAMS parameters (called
    once, by the supermarket app's ready())."""
    try:
        from psycopg import _queries
    except ImportError:  # no psycopg: SQLite only
        return
    _queries.MAX_CACHED_STATEMENT_PARAMS = max(_queries.MAX_CACHED_STATEMENT_PARAMS, STATEMENT_CACHE_PARAMS)


def max_params() -> int:
    """The most parameters one statement may carry: PostgreSQL's protocol counts them in 16 bits; SQLite has its
    own limit, which Django knows."""
    return connection.features.max_query_params or 65_535


def insert_all(*groups: Sequence[Model] | Rows, before: Sequence[Statement] = ()) -> None:
    """INSERT unsaved objects, each group of one model (or its Rows, prepared earlier), as bulk_create does (no
    save(), no signals), and set their primary keys from RETURNING. Fields with a pre_save rule (auto_now_add) get
    it; the primary key is written when it is set already, else the database draws it. `before`: statements
    returning nothing, run first.

    On PostgreSQL everything goes in one statement, each part a data-modifying WITH query, when the parameters fit
    (a stock batch: level update and ledger rows, with a sale's row, lines, payments and daily rollups). Otherwise,
    and elsewhere, one statement after the other, a group in as few as the parameter limit allows (a whole-store
    stocktake).
    Foreign keys between the groups are checked at commit (Django makes them deferrable on PostgreSQL).
    """
    # The connection itself, not the proxy: every attribute read through django.db.connection is a lookup.
    db = connections[DEFAULT_DB_ALIAS]
    prepared = [group if isinstance(group, Rows) else rows_prepare(group) for group in groups if group]
    limit = max_params()
    together = sum(len(params) for _sql, params in before) + sum(len(row) for rows in prepared for row in rows.values)
    with db.cursor() as cursor:
        if db.vendor == "postgresql" and prepared and together <= limit and len(before) + len(prepared) > 1:
            parts = [(f"b{i}", sql, params) for i, (sql, params) in enumerate(before)]
            parts += [(f"i{i}", *_insert(rows.into, rows.values)) for i, rows in enumerate(prepared)]
            selects = " UNION ALL ".join(f"SELECT {i}, * FROM i{i}" for i in range(len(prepared)))
            cursor.execute(
                "WITH " + ", ".join(f"{name} AS ({sql})" for name, sql, _params in parts) + " " + selects,
                [value for _name, _sql, params in parts for value in params],
            )
            ids = [[] for _ in prepared]
            for group, pk_value in cursor.fetchall():
                ids[group].append(pk_value)
        else:
            for sql, params in before:
                cursor.execute(sql, params)
            ids = []
            for rows in prepared:
                per_statement = max(1, limit // len(rows.values[0]))
                ids.append([])
                for start in range(0, len(rows.values), per_statement):
                    cursor.execute(*_insert(rows.into, rows.values[start : start + per_statement]))
                    ids[-1] += [row[0] for row in cursor.fetchall()]
    for rows, group_ids in zip(prepared, ids, strict=True):
        for obj, pk_value in zip(rows.objs, group_ids, strict=True):
            obj.pk = pk_value
            obj._state.adding = False
            obj._state.db = db.alias


def _insert(into: tuple[str, str], rows: list[list]) -> Statement:
    head, pk_column = into
    placeholders = "(" + ", ".join(["%s"] * len(rows[0])) + ")"
    return (
        f"{head} VALUES {', '.join([placeholders] * len(rows))} RETURNING {pk_column}",
        [value for row in rows for value in row],
    )
