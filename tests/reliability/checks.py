"""What must hold in the served database after any run, however it was disturbed."""

from decimal import Decimal

from tests.reliability.clients import Tally
from tests.reliability.live import Live


def assert_database_matches(live: Live, tally: Tally) -> None:
    assert not tally.errors, tally.errors[:10]
    twice = [token for token, n in tally.created.items() if n > 1]
    assert not twice, f"{len(twice)} tokens were answered 201 Created more than once: {twice[:5]}"

    # Every acknowledged sale exists exactly once, under the number the client was given, for the client's total.
    rows = live.sql("SELECT client_token::text, number, total FROM checkout_sale")
    stored = {token: (number, total) for token, number, total in rows}
    assert len(rows) == len(stored)
    assert set(stored) == set(tally.acked), (
        f"{len(set(tally.acked) - set(stored))} acknowledged sales missing, "
        f"{len(set(stored) - set(tally.acked))} sales nobody was told about"
    )
    wrong = [t for t, number in tally.acked.items() if stored[t] != (number, tally.totals[t])]
    assert not wrong, f"{len(wrong)} sales differ from their acknowledgement, e.g. {wrong[:3]}"

    # No sale is half-written: lines, payments and stock movements are all there, and add up.
    half_written = live.sql(
        """
        SELECT s.number, s.total, s.paid,
               (SELECT count(*) FROM checkout_saleline l WHERE l.sale_id = s.id),
               (SELECT coalesce(sum(l.amount), 0) FROM checkout_saleline l WHERE l.sale_id = s.id),
               (SELECT coalesce(sum(p.amount), 0) FROM checkout_payment p WHERE p.sale_id = s.id),
               (SELECT count(*) FROM stock_stockmovement m WHERE m.kind = 'sale' AND m.reference = s.number)
        FROM checkout_sale s
        """
    )
    broken = [row for row in half_written if row[3] == 0 or row[4] != row[1] or row[5] != row[2] or row[6] != row[3]]
    assert not broken, f"{len(broken)} half-written sales, e.g. {broken[:3]}"
    orphans = live.sql(
        "SELECT count(*) FROM stock_stockmovement m WHERE m.kind = 'sale' "
        "AND NOT EXISTS (SELECT 1 FROM checkout_sale s WHERE s.number = m.reference)"
    )[0][0]
    assert orphans == 0, f"{orphans} sale movements belong to no sale"

    ledger = live.manage("check_stock_ledger", check=False)
    assert ledger.returncode == 0, ledger.stderr[-2000:]

    # On hand = start - what the clients were told they sold, product by product.
    on_hand = dict(
        live.sql(
            "SELECT p.barcode, sum(l.on_hand) FROM stock_stocklevel l JOIN catalog_product p ON p.id = l.product_id "
            "GROUP BY p.barcode"
        )
    )
    expected = {code: live.start_on_hand - Decimal(tally.sold[code]) for code in live.prices}
    assert on_hand == expected, {c: (on_hand.get(c), expected[c]) for c in expected if on_hand.get(c) != expected[c]}
