from datetime import date

from django.core.management.base import BaseCommand, CommandError

from reports.services import forecast_batch_start, history_end_latest
from stock.models import Location


class Command(BaseCommand):
    help = "Nightly forecasts of all active products, split into jobs on the 'forecasts' queue (inline without Redis)."

    def add_arguments(self, parser):
        parser.add_argument("--location", help="location code (default: the sales floor)")
        parser.add_argument("--horizon", type=int, default=7)
        parser.add_argument("--history-end", type=date.fromisoformat, help="last day of history (default: yesterday)")
        parser.add_argument("--chunk-size", type=int, default=500)

    def handle(self, *args, location=None, horizon=7, history_end=None, chunk_size=500, **options):
        place = Location.objects.filter(code=location).first() if location else Location.default()
        if place is None:
            raise CommandError(f"No location with code {location!r}.")
        if horizon < 1:
            raise CommandError("The horizon must be at least one day.")
        try:
            batch = forecast_batch_start(
                location=place,
                history_end=history_end or history_end_latest(),
                horizon=horizon,
                chunk_size=chunk_size,
            )
        except ValueError as error:
            raise CommandError(str(error)) from error
        batch.refresh_from_db()
        self.stdout.write(
            f"forecast batch #{batch.pk}: {batch.total} products in {batch.parts.count()} jobs, "
            f"{batch.get_status_display()} ({batch.done} done)"
        )
