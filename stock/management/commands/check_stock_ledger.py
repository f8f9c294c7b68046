from django.core.management.base import BaseCommand, CommandError

from stock.selectors import ledger_mismatches


class Command(BaseCommand):
    help = "Verify on_hand = sum of movements for every product, location and lot; exit non-zero on any mismatch."

    def handle(self, *args, **options):
        mismatches = ledger_mismatches()
        for m in mismatches:
            self.stderr.write(
                f"product {m.product_id} location {m.location_id} lot {m.lot_id}: "
                f"on_hand {m.on_hand} but movements sum to {m.ledger_sum}"
            )
        if mismatches:
            raise CommandError(f"{len(mismatches)} stock level(s) disagree with the ledger.")
        self.stdout.write(self.style.SUCCESS("Stock ledger OK: every on-hand equals the sum of its movements."))
