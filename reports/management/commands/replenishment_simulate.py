from datetime import date, timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from reports.models import SalesDaily
from reports.simulation import BUFFER_DAYS, SERVICE_LEVEL, simulate_store, stock_matched_service_level
from stock.models import Location


class Command(BaseCommand):
    help = "Replay the sales history against fixed min/max and forecast-driven ordering; print what each costs."

    def add_arguments(self, parser):
        parser.add_argument("--location", help="location code (default: the sales floor)")
        parser.add_argument("--days", type=int, default=84, help="days replayed at the end of the history")
        parser.add_argument("--products", type=int, default=200, help="products in the evenly spread sample")
        parser.add_argument("--end", type=date.fromisoformat, help="last day replayed (default: last day with sales)")
        parser.add_argument(
            "--service-level",
            type=float,
            default=SERVICE_LEVEL,
            help=f"forecast policy's chance of no stockout per order cycle (default {SERVICE_LEVEL})",
        )
        parser.add_argument(
            "--match-stock",
            action="store_true",
            help="instead, the highest service level holding no more stock than min/max on the days before those "
            "replayed (found there, judged on the replayed days)",
        )

    def handle(
        self,
        *args,
        location=None,
        days=84,
        products=200,
        end=None,
        service_level=SERVICE_LEVEL,
        match_stock=False,
        **options,
    ):
        place = Location.objects.filter(code=location).first() if location else Location.default()
        if place is None:
            raise CommandError(f"No location with code {location!r}.")
        end = end or SalesDaily.objects.filter(location=place).order_by("-day").values_list("day", flat=True).first()
        if end is None:
            raise CommandError("No sales at this location to replay; run seed_demo first.")
        # The last day of the demo is today, still selling: replay whole days only.
        today = timezone.localdate()  # the store's date, not the server's (UTC on most hosts)
        if end >= today:
            end = today - timedelta(days=1)
        try:
            if match_stock:
                service_level = stock_matched_service_level(location=place, end=end, days=days, products=products)
                self.stdout.write(
                    f"service level matched to min/max's stock on the {max(28, days // 2)} days before "
                    f"{end - timedelta(days=days - 1)}: {service_level:.1%}"
                )
            fixed, driven, count = simulate_store(
                location=place, end=end, days=days, products=products, service_level=service_level
            )
        except ValueError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            f"{count} products at {place.code}, {days} days to {end}; lead times from suppliers, both policies "
            f"ordering up to a level every {settings.STOCK_REVIEW_PERIOD_DAYS} days; fixed: mean x (lead time + "
            f"review) + safety stock of mean x (lead time + {BUFFER_DAYS} days); forecast: forecast + safety stock at "
            f"{service_level:.0%} service level"
        )
        self.stdout.write(
            f"{'policy':<16}{'stockout days':>15}{'lost units':>14}{'lost sales ¥':>14}{'avg stock value ¥':>19}"
        )
        for row in (fixed, driven):
            self.stdout.write(
                f"{row.policy:<16}{row.stockout_days:>15}{row.lost_units:>14}{row.lost_sales:>14}"
                f"{row.average_stock_value:>19}"
            )
        better = driven.stockout_days < fixed.stockout_days and driven.average_stock_value <= fixed.average_stock_value
        self.stdout.write(
            "forecast-driven ordering: fewer stockout days at equal or lower average stock"
            if better
            else "forecast-driven ordering did NOT beat min/max on both counts"
        )
