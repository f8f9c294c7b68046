"""Hand-written SQL for the few statements every sale runs, where the ORM's compiling costs more than the query.

Anything here must give exactly what the ORM would: values pass through each field's own preparation
(get_db_prep_save), so decimals, times, UUIDs and foreign keys are written as the ORM writes them.
"""

from collections.abc import Sequence

from django.db import connection
from django.db.models import Model


def max_params() -> int:
    """The most parameters one statement may carry: PostgreSQL's protocol counts them in 16 bits; SQLite has its
    own limit, which Django knows."""
    return connection.features.max_query_params or 65_535


def insert_all(objs: Sequence[Model]) -> None:
    """INSERT unsaved objects of one model, as bulk_create does (no save(), no signals), and set their primary keys
    from RETURNING: one statement, or as few as the parameter limit allows (a stocktake of thousands of lines).
    Fields with a pre_save rule (auto_now_add) get it; the primary key is written when it is set already, else the
    database draws it."""
    if not objs:
        return
    meta = type(objs[0])._meta
    fields = [f for f in meta.concrete_fields if f is not meta.pk or objs[0].pk is not None]
    per_statement = max(1, max_params() // len(fields))
    for start in range(0, len(objs), per_statement):
        _insert(meta, fields, objs[start : start + per_statement])


def _insert(meta, fields, objs: Sequence[Model]) -> None:
    values, params = [], []
    for obj in objs:
        values.append("(" + ", ".join(["%s"] * len(fields)) + ")")
        params += [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {connection.ops.quote_name(meta.db_table)} ({columns}) VALUES {', '.join(values)} "
            f"RETURNING {connection.ops.quote_name(meta.pk.column)}",
            params,
        )
        ids = [row[0] for row in cursor.fetchall()]
    for obj, pk_value in zip(objs, ids, strict=True):
        obj.pk = pk_value
        obj._state.adding = False
        obj._state.db = connection.alias
