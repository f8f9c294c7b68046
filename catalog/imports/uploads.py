"""Uploaded catalog files between preview and confirmation.

The file is kept in the default storage (a worker on another host reads it
there); its state (status, progress, the preview summary) lives in the cache
for a day. Small files are previewed and applied inside the request; files
above CATALOG_IMPORT_INLINE_MAX_BYTES go to the "default" RQ queue and the
admin page shows a progress bar.
"""

import codecs
import uuid
from contextlib import contextmanager
from pathlib import PurePath

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils.translation import gettext as _
from redis.exceptions import RedisError

from catalog.imports.reading import OLE_MAGIC, ZIP_MAGIC, UnreadableFile, decode
from catalog.imports.report import error_file, plan_message, plan_summary
from catalog.imports.services import ImportRefused, catalog_import_apply, catalog_import_preview
from supermarket.jobs import JobsUnavailable, enqueue

STATE_SECONDS = 24 * 3600
RUNNING = ("queued", "previewing", "applying")
# Share of the progress bar each phase fills: (start %, span %).
PHASES = {"read": (0, 5), "validate": (5, 35), "compare": (40, 15), "create": (55, 40), "update": (55, 40)}


def _key(upload_id: str) -> str:
    return f"catalog-import:{upload_id}"


@contextmanager
def _state_store():
    # The states live in Redis with the job queue: without it there is no import to start or to follow.
    try:
        yield
    except RedisError as exc:
        raise JobsUnavailable() from exc


def upload_state(upload_id: str) -> dict | None:
    with _state_store():
        return cache.get(_key(upload_id))


def _save(state: dict) -> None:
    with _state_store():
        cache.set(_key(state["id"]), state, STATE_SECONDS)


def upload_kind(head: bytes) -> str | None:
    """ "xlsx" or "csv" from a file's first bytes, None for anything else (binaries, old .xls, HTML pages)."""
    if head.startswith(ZIP_MAGIC):
        return "xlsx"
    if head.startswith(OLE_MAGIC):
        return None
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "csv"
    if b"\x00" in head or head.lstrip().lower().startswith((b"<!doctype", b"<html", b"<script", b"<?xml", b"<svg")):
        return None
    # The 8 KB cut may split a character of up to 4 bytes (GB18030, UTF-8): the text reads without its last 0-3.
    return "csv" if any(_decodes(head[: len(head) - cut]) for cut in range(4)) else None


def _decodes(data: bytes) -> bool:
    try:
        decode(data)
    except UnreadableFile:
        return False
    return True


def upload_create(*, data: bytes, filename: str, default_supplier: str, user_id: int | None) -> dict:
    """Store an uploaded file; its preview runs next (inline or as a job)."""
    upload_id = uuid.uuid4().hex
    name = PurePath(filename).name or "catalog"
    # Stored under a name of our own making, with the extension its content shows: the uploader's name is only
    # displayed, so it can neither choose a path nor pass off a script or page as a catalog.
    kind = upload_kind(data[:8192])
    if kind is None:
        raise UnreadableFile(
            _("This is not a CSV text file nor an .xlsx workbook (judged by its content, not its name).")
        )
    path = default_storage.save(f"catalog-imports/{upload_id}/upload.{kind}", ContentFile(data))
    state = {
        "id": upload_id,
        "filename": name,
        "path": path,
        "size": len(data),
        "supplier": default_supplier,
        "user_id": user_id,
        "status": "queued",
        "percent": 0,
        "summary": None,
        "message": "",
    }
    try:
        _save(state)
    except JobsUnavailable:
        default_storage.delete(path)  # nothing is kept of an upload that cannot go on
        raise
    return state


def runs_in_background(state: dict) -> bool:
    return state["size"] > settings.CATALOG_IMPORT_INLINE_MAX_BYTES


def _progress(state: dict):
    def report(phase: str, done: int, total: int) -> None:
        start, span = PHASES.get(phase, (0, 0))
        state["percent"] = int(start + span * done / total) if total else start
        _save(state)

    return report


def upload_start_preview(state: dict) -> None:
    """Preview now, or (a large file) in the background after the request commits."""
    from catalog import jobs

    if runs_in_background(state):
        enqueue(jobs.catalog_import_preview_job, state["id"], queue="default")
    else:
        upload_preview(state["id"])


def _apply_key(upload_id: str) -> str:
    return f"catalog-import-apply:{upload_id}"


def upload_confirmed(upload_id: str) -> bool:
    with _state_store():
        return cache.get(_apply_key(upload_id)) is not None


def upload_start_apply(state: dict, *, user_id: int | None) -> bool:
    """Apply a previewed upload, once: False (and nothing started) when it was already confirmed.

    A double click or a second tab sends the confirmation twice at the same moment; both
    requests read the state as "previewed". Only the one whose cache.add() (SET NX in Redis)
    claims the upload goes on, so the other can neither apply the file a second time nor
    overwrite the first one's result with "the catalog changed since the preview".
    """
    from catalog import jobs

    with _state_store():
        if not cache.add(_apply_key(state["id"]), True, STATE_SECONDS):
            return False
    state.update(status="queued", percent=0)
    _save(state)
    if runs_in_background(state):
        enqueue(jobs.catalog_import_apply_job, state["id"], user_id, queue="default")
    else:
        upload_apply(state["id"], user_id=user_id)
    return True


@contextmanager
def _running(upload_id: str, status: str):
    state = upload_state(upload_id)
    state.update(status=status, percent=0)
    _save(state)
    try:
        yield state
    except Exception:
        state.update(status="failed", message=_("The import stopped on an internal error; nothing was written."))
        _save(state)
        raise
    state["percent"] = 100
    _save(state)


def upload_preview(upload_id: str) -> dict:
    """Dry run of a stored upload: saves the summary and the error file in its state."""
    with _running(upload_id, "previewing") as state:
        _preview(state)
    return state


def _preview(state: dict) -> None:
    data = default_storage.open(state["path"]).read()
    try:
        plan = catalog_import_preview(
            data=data, filename=state["filename"], default_supplier=state["supplier"], progress=_progress(state)
        )
    except UnreadableFile as exc:
        state.update(status="refused", message=str(exc))
    else:
        if plan.errors:
            default_storage.save(_errors_path(state), ContentFile(error_file(plan).encode("utf-8")))
        state.update(status="previewed", summary=plan_summary(plan), message=plan_message(plan))


def upload_apply(upload_id: str, *, user_id: int | None) -> dict:
    """Apply the stored upload exactly as previewed (the plan's fingerprint must still match)."""
    with _running(upload_id, "applying") as state:
        _apply(state, user_id)
    return state


def _apply(state: dict, user_id: int | None) -> None:
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    data = default_storage.open(state["path"]).read()
    try:
        plan = catalog_import_apply(
            data=data,
            filename=state["filename"],
            user=user,
            default_supplier=state["supplier"],
            expected_fingerprint=state["summary"]["fingerprint"],
            progress=_progress(state),
        )
    except (ImportRefused, UnreadableFile) as exc:
        state.update(status="refused", message=str(exc))
    else:
        message = _("Imported: %(result)s") % {"result": plan_message(plan)}
        state.update(status="applied", summary=plan_summary(plan), message=message)
        default_storage.delete(state["path"])  # applied once; the state keeps the summary


def _errors_path(state: dict) -> str:
    return f"catalog-imports/{state['id']}/errors.csv"


def upload_error_file(state: dict) -> bytes | None:
    path = _errors_path(state)
    if not default_storage.exists(path):
        return None
    with default_storage.open(path) as handle:
        return handle.read()
