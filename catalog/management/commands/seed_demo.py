from django.core.management.base import BaseCommand

from catalog.demo import seed_demo
from catalog.models import Product


class Command(BaseCommand):
    help = "Create a demo supermarket: products, suppliers, stock and daily sales history."

    def add_arguments(self, parser):
        parser.add_argument("--products", type=int, default=2000)
        parser.add_argument("--days", type=int, default=180)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--if-empty", action="store_true", help="Do nothing if the catalog has products already.")

    def handle(self, *args, products, days, seed, if_empty, **options):
        if Product.objects.exists():
            if if_empty:
                self.stdout.write("Catalog already has products; demo data left as it is.")
                return
            self.stderr.write("The catalog is not empty; seed_demo expects an empty database.")
            raise SystemExit(1)
        result = seed_demo(products=products, days=days, seed=seed)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo store: {result.products} products in {result.categories} categories, "
                f"{result.suppliers} suppliers, {result.sales_rows} daily sales rows over {days} days."
            )
        )
        for username, password in result.passwords.items():
            self.stdout.write(f"  user {username:8} password {password}")
