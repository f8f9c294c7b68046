from collections import defaultdict
from datetime import date, timedelta
from statistics import mean, median

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from catalog.models import Product
from reports import forecasting
from reports.models import SalesDaily
from reports.selectors import forecast_backtest
from stock.models import Location


class Command(BaseCommand):
    help = "Hold out the last 28 days, forecast them week by week, print MASE per product and overall."

    def add_arguments(self, parser):
        parser.add_argument("--location", help="location code (default: the sales floor)")
        parser.add_argument("--end", type=date.fromisoformat, help="last held-out day (default: yesterday's sales)")
        parser.add_argument("--holdout", type=int, default=28)
        parser.add_argument("--products", type=int, help="only the first N active products")
        parser.add_argument("--summary", action="store_true", help="print only the overall figures")

    def handle(self, *args, location=None, end=None, holdout=28, products=None, summary=False, **options):
        place = Location.objects.filter(code=location).first() if location else Location.default()
        if place is None:
            raise CommandError(f"No location with code {location!r}.")
        last = SalesDaily.objects.filter(location=place).order_by("-day").values_list("day", flat=True).first()
        if last is None:
            raise CommandError("No sales at this location to backtest; run seed_demo first.")
        end = end or min(last, timezone.localdate() - timedelta(days=1))
        if holdout < 7:
            raise CommandError("Hold out at least 7 days.")
        chosen = list(Product.objects.filter(active=True).order_by("pk")[:products])
        with forecasting.blas_single_thread():
            rows = forecast_backtest(location=place, end=end, products=chosen, holdout=holdout)
        if not rows:
            raise CommandError("No product has enough history to backtest.")
        if not summary:
            self.stdout.write(f"{'barcode':<15}{'method':<16}{'MASE':>8}{'naive':>8}  product")
            for row in rows:
                self.stdout.write(
                    f"{row.barcode:<15}{row.method:<16}{row.mase:>8.3f}{row.naive_mase:>8.3f}  {row.product}"
                )
        self.stdout.write(
            f"\nholdout {holdout} days to {end} at {place.code}; MASE scaled by the in-sample "
            "weekly naive error; 'naive' is the weekly seasonal naive forecast on the same days"
        )
        by_method = defaultdict(list)
        for row in rows:
            by_method[row.method].append(row)
        self.stdout.write(
            f"{'method':<16}{'products':>9}{'mean MASE':>11}{'naive':>8}{'median':>8}{'naive':>8}{'better':>8}"
        )
        for method, group in [*sorted(by_method.items()), ("overall", rows)]:
            model, naive = [r.mase for r in group], [r.naive_mase for r in group]
            better = sum(r.mase < r.naive_mase for r in group) / len(group)
            self.stdout.write(
                f"{method:<16}{len(group):>9}{mean(model):>11.3f}{mean(naive):>8.3f}{median(model):>8.3f}"
                f"{median(naive):>8.3f}{better:>8.0%}"
            )
