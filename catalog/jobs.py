"""Background jobs of the catalog: RQ entry points that load by id and call a service."""

from catalog.imports.uploads import upload_apply, upload_preview


def catalog_import_preview_job(upload_id: str) -> None:
    upload_preview(upload_id)


def catalog_import_apply_job(upload_id: str, user_id: int | None) -> None:
    upload_apply(upload_id, user_id=user_id)
