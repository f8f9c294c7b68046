"""What a plan says to a buyer: counts, changes, problems, and the error file."""

import csv
import io

from django.utils.translation import gettext as _

from catalog.imports.plan import Plan
from catalog.resources import spreadsheet_safe

SHOWN_CHANGES = 500  # rows listed on the preview page; the counts cover all of them
SHOWN_PROBLEMS = 200


def plan_summary(plan: Plan) -> dict:
    """A JSON-safe summary for the preview page, the job's state and the command's output."""
    changes = []
    for action, rows in (("new", plan.created), ("updated", plan.updated)):
        for row in rows[: SHOWN_CHANGES - len(changes)]:
            changes.append(
                {
                    "row": row.number,
                    "barcode": row.barcode,
                    "action": action,
                    "name": row.values.get("name", ""),
                    "fields": [[_label(name), old, new] for name, (old, new) in row.changes.items()],
                }
            )
    return {
        "filename": plan.filename,
        "total": plan.total_rows,
        "new": len(plan.created),
        "updated": len(plan.updated),
        "unchanged": plan.unchanged,
        "invalid": plan.invalid_rows,
        "error_count": len(plan.errors),
        "errors": [list(problem) for problem in _problems(plan.errors[:SHOWN_PROBLEMS])],
        "warning_count": len(plan.warnings),
        "warnings": [list(problem) for problem in _problems(plan.warnings[:SHOWN_PROBLEMS])],
        "new_categories": [" / ".join(path) for path in plan.new_categories],
        "new_suppliers": plan.new_suppliers,
        "ignored_columns": plan.ignored_columns,
        "changes": changes,
        "fingerprint": plan.fingerprint,
        "message": plan_message(plan),
    }


def plan_message(plan: Plan) -> str:
    if plan.errors and not plan.invalid_rows:
        # The header row itself is wrong: no row was read, so "0 of 0 rows" would say nothing.
        return _("The file cannot be imported: %(reason)s") % {"reason": plan.errors[0].message}
    if plan.errors:
        return _("%(invalid)d of %(total)d rows are invalid; nothing will be imported until they are fixed.") % {
            "invalid": plan.invalid_rows,
            "total": plan.total_rows,
        }
    if not plan.has_changes:
        return _("Nothing to change: all %(total)d rows already match the catalog.") % {"total": plan.total_rows}
    return _("%(new)d new, %(updated)d updated, %(unchanged)d unchanged.") % {
        "new": len(plan.created),
        "updated": len(plan.updated),
        "unchanged": plan.unchanged,
    }


def _problems(problems):
    return [(p.row, p.column, p.value, p.message) for p in problems]


def _label(name: str) -> str:
    from catalog.models import Product

    if name == "pack":
        return str(_("pack barcode"))
    return str(Product._meta.get_field(name).verbose_name)


def error_file(plan: Plan) -> str:
    """Every error as CSV (row, column, value, reason), BOM first so Excel reads the Chinese."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow([_("row"), _("column"), _("value"), _("reason")])
    # The values come from the supplier's file: one could be a formula.
    writer.writerows([spreadsheet_safe(cell) for cell in problem] for problem in _problems(plan.errors))
    return out.getvalue()
