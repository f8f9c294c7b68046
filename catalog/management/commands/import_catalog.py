from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from catalog.imports.cells import CellError
from catalog.imports.plan import CELL_PARSERS
from catalog.imports.reading import UnreadableFile
from catalog.imports.report import plan_message
from catalog.imports.services import ImportRefused, catalog_import_apply, catalog_import_preview

PHASES = {
    "validate": gettext_lazy("checking"),
    "compare": gettext_lazy("comparing with the catalog"),
    "create": gettext_lazy("creating"),
    "update": gettext_lazy("updating"),
}


def problem_args(problem) -> dict:
    return {"row": problem.row, "column": problem.column, "message": problem.message}


class Command(BaseCommand):
    help = "Import a supplier catalog (CSV or XLSX): all rows or none. Exits non-zero listing every bad row."

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)
        parser.add_argument("--supplier", default="", help="Supplier for rows that name none.")
        parser.add_argument("--dry-run", action="store_true", help="Validate and show the changes; write nothing.")
        parser.add_argument("--user", default="", help="Username recorded in product history.")

    def handle(self, *args, path: Path, supplier: str, dry_run: bool, user: str, verbosity: int, **options):
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(_("Cannot read %(path)s: %(reason)s") % {"path": path, "reason": exc.strerror}) from None
        try:
            # Checked here as a file's supplier cells are: the dry run would pass it, the real run fail to store it.
            supplier = CELL_PARSERS["supplier"](supplier)
        except CellError as exc:
            raise CommandError(f"--supplier: {exc}") from None
        history_user = None
        if user:
            try:
                history_user = get_user_model().objects.get_by_natural_key(user)
            except get_user_model().DoesNotExist:
                raise CommandError(_("No user %(name)s.") % {"name": user}) from None
        progress = self._progress if verbosity > 0 else lambda *a: None
        try:
            if dry_run:
                plan = catalog_import_preview(
                    data=data, filename=path.name, default_supplier=supplier, progress=progress
                )
            else:
                plan = catalog_import_apply(
                    data=data, filename=path.name, user=history_user, default_supplier=supplier, progress=progress
                )
        except UnreadableFile as exc:
            raise CommandError(str(exc)) from None
        except ImportRefused as exc:
            self._print_plan(exc.plan, verbosity)
            raise CommandError(str(exc)) from None
        self._print_plan(plan, verbosity)
        if plan.errors:
            raise CommandError(plan_message(plan))
        if dry_run:
            self.stdout.write(_("Dry run: nothing was written."))

    def _progress(self, phase: str, done: int, total: int) -> None:
        if total:
            label = PHASES.get(phase, phase)
            self.stderr.write(_("%(phase)s: %(done)d/%(total)d rows") % {"phase": label, "done": done, "total": total})

    def _print_plan(self, plan, verbosity: int) -> None:
        for problem in plan.errors:
            self.stdout.write(_("Error in row %(row)d, column %(column)s: %(message)s") % problem_args(problem))
        for problem in plan.warnings:
            self.stdout.write(_("Warning in row %(row)d, column %(column)s: %(message)s") % problem_args(problem))
        if plan.ignored_columns:
            self.stdout.write(_("Ignored columns: %(columns)s") % {"columns": ", ".join(plan.ignored_columns)})
        for path in plan.new_categories:
            self.stdout.write(_("New category: %(name)s") % {"name": " / ".join(path)})
        for name in plan.new_suppliers:
            self.stdout.write(_("New supplier: %(name)s") % {"name": name})
        if verbosity > 1:
            for row in plan.created + plan.updated:
                for name, (old, new) in row.changes.items():
                    self.stdout.write(f"row {row.number} {row.barcode} {name}: {old!r} -> {new!r}")
        self.stdout.write(plan_message(plan))
