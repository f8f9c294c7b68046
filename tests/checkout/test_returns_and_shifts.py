import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone

from checkout.models import Refund, Return, Shift
from checkout.pricing import CheckoutError, LineInput, PaymentInput
from checkout.selectors import shift_report
from checkout.services import NotApproved, sale_complete, sale_return, shift_close, shift_open
from reports.models import SalesDaily
from stock.models import Lot, StockLevel, StockMovement
from stock.selectors import ledger_mismatches
from stock.services import Move, stock_move_batch
from supermarket.roles import CASHIER, user_set_role
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def give_back(sale, line, quantity, *, register, cashier, approved_by):
    """Return `quantity` of one sale line for cash."""
    return sale_return(
        sale=sale,
        quantities={line.pk: Decimal(quantity)},
        refund_method="cash",
        register=register,
        user=cashier,
        approved_by=approved_by,
    )


def test_partial_then_full_return_never_more_than_sold(register, shift, cashier, manager, stocked, floor, sell):
    milk, bread = stocked(2, on_hand=Decimal(10), selling_price=Decimal("3.33"))
    sale = sell(register, [(milk, 3), (bread, 1)])
    milk_line = sale.lines.get(product=milk)

    first = give_back(sale, milk_line, 1, register=register, cashier=cashier, approved_by=manager)
    assert first.total == Decimal("3.33")
    with pytest.raises(CheckoutError, match="only 2 left to return, 3 asked"):
        give_back(sale, milk_line, 3, register=register, cashier=cashier, approved_by=manager)
    rest = give_back(sale, milk_line, 2, register=register, cashier=cashier, approved_by=manager)
    # A line returned in full refunds exactly what it cost, however the parts were rounded.
    assert first.total + rest.total == milk_line.amount
    assert StockLevel.objects.get(product=milk, location=floor).on_hand == 10
    assert StockMovement.objects.filter(kind="return", product=milk).count() == 2
    assert SalesDaily.objects.get(product=milk).quantity == 0
    assert SalesDaily.objects.get(product=milk).amount == 0
    assert ledger_mismatches() == []


def test_return_needs_a_manager(register, shift, cashier, stocked, floor, sell):
    (milk,) = stocked(1, on_hand=Decimal(10))
    sale = sell(register, [(milk, 1)])
    with pytest.raises(NotApproved):
        give_back(sale, sale.lines.get(), 1, register=register, cashier=cashier, approved_by=cashier)
    assert not Return.objects.exists()
    assert StockLevel.objects.get(product=milk, location=floor).on_hand == 9


def test_return_page_with_manager_credentials(client, register, shift, cashier, manager, stocked, floor, sell):
    (milk,) = stocked(1, on_hand=Decimal(10))
    sale = sell(register, [(milk, 2)])
    client.force_login(cashier)
    client.post("/checkout/register/", {"register": register.pk})
    page = client.get("/checkout/returns/", {"number": sale.number})
    assert b'name="manager_username"' in page.content
    line = sale.lines.get()
    token = str(uuid.uuid4())
    refused = client.post(
        "/checkout/returns/",
        {
            "number": sale.number,
            "token": token,
            f"qty-{line.pk}": "1",
            "refund_method": "cash",
            "manager_username": "manager1",
            "manager_password": "nope",
        },
    )
    assert refused.status_code == 422
    assert b"Wrong manager name or password" in refused.content
    done = client.post(
        "/checkout/returns/",
        {
            "number": sale.number,
            "token": token,
            f"qty-{line.pk}": "1",
            "refund_method": "cash",
            "manager_username": "manager1",
            "manager_password": "manager-pass-1",
        },
    )
    assert done.status_code == 200
    assert Return.objects.get().approved_by == manager
    assert StockLevel.objects.get(product=milk, location=floor).on_hand == 9
    assert client.get("/checkout/returns/", {"number": "T01-19990101-000001"}).status_code == 404


def test_z_report_by_method_with_expected_cash_and_difference(register, shift, cashier, manager, stocked):
    (item,) = stocked(1, on_hand=Decimal(100), selling_price=Decimal("10.00"))

    def sale(payments):
        return sale_complete(
            client_token=uuid.uuid4(),
            register=register,
            lines=[LineInput(item, Decimal(3))],
            payments=payments,
            user=cashier,
        ).sale

    cash_sale = sale([PaymentInput("cash", Decimal("50.00"))])  # 20.00 change
    sale([PaymentInput("card", Decimal("30.00"))])
    sale([PaymentInput("wechat", Decimal("10.00"), "WX1"), PaymentInput("cash", Decimal("20.00"))])
    give_back(cash_sale, cash_sale.lines.get(), 1, register=register, cashier=cashier, approved_by=manager)
    report = shift_report(shift)
    by_method = {m.method: (m.count, m.amount) for m in report.sales_by_method}
    assert report.sale_count == 3
    assert report.sales_total == Decimal("90.00")
    assert by_method == {
        "cash": (2, Decimal("70.00")),
        "card": (1, Decimal("30.00")),
        "wechat": (1, Decimal("10.00")),
        "alipay": (0, Decimal(0)),
    }
    assert report.change_given == Decimal("20.00")
    assert report.refunds_total == Decimal("10.00")
    # float 200 + cash taken 70 - change 20 - cash refunded 10
    assert report.expected_cash == Decimal("240.00")

    closed = shift_close(shift=shift, counted_cash=Decimal("238.50"), user=cashier)
    assert closed.expected_cash == Decimal("240.00")
    assert shift_report(closed).difference == Decimal("-1.50")
    with pytest.raises(CheckoutError, match="already closed"):
        shift_close(shift=closed, counted_cash=Decimal("1"), user=cashier)


def test_one_open_shift_per_register(register, shift, cashier):
    with pytest.raises(CheckoutError, match="already has an open shift"):
        shift_open(register=register, opening_float=Decimal(0), user=cashier)
    assert Shift.objects.filter(register=register).count() == 1


def test_close_shift_page_shows_the_z_report(client, register, shift, cashier, stocked, sell):
    (item,) = stocked(1)
    sell(register, [(item, 2)])
    client.force_login(cashier)
    client.post("/checkout/register/", {"register": register.pk})
    response = client.post("/checkout/shift/close/", {"shift": shift.pk, "counted_cash": "209.00"})
    assert response.url == f"/checkout/shifts/{shift.pk}/"
    report = client.get(response.url)
    assert b'id="expected-cash">\xc2\xa5209.00<' in report.content
    assert b'id="cash-difference">\xc2\xa50.00<' in report.content
    assert Refund.objects.count() == 0


def test_a_close_sent_again_shows_the_z_report_and_never_closes_the_next_shift(client, register, shift, cashier):
    client.force_login(cashier)
    client.post("/checkout/register/", {"register": register.pk})
    page = client.get("/checkout/shift/close/").content.decode()
    assert f'name="shift" value="{shift.pk}"' in page
    close = {"shift": shift.pk, "counted_cash": "250.00"}
    first = client.post("/checkout/shift/close/", close)
    again = client.post("/checkout/shift/close/", close)  # the button pressed twice
    assert first.url == again.url == f"/checkout/shifts/{shift.pk}/"
    shift.refresh_from_db()
    assert shift.counted_cash == Decimal("250.00")

    following = shift_open(register=register, opening_float=Decimal("100.00"), user=cashier)
    stale = client.post("/checkout/shift/close/", close)  # the old page, sent from the back button
    assert stale.url == f"/checkout/shifts/{shift.pk}/"
    following.refresh_from_db()
    assert following.closed_at is None and following.counted_cash is None

    outdated = client.post("/checkout/shift/close/", {"counted_cash": "100.00"})  # a page from before the field
    assert outdated.status_code == 422 and "This page is out of date: open it again." in outdated.content.decode()
    refused = client.post("/checkout/shift/close/", {"shift": following.pk, "counted_cash": "-1"})
    assert refused.status_code == 422
    following.refresh_from_db()
    assert following.closed_at is None


@pytest.mark.parametrize("typed", ["6901234567892", "69012345", "20000.01"])  # EAN-13 and EAN-8 barcodes, a fen over
def test_a_cash_float_past_the_limit_is_refused_naming_the_field_and_the_limit(client, register, cashier, typed):
    client.force_login(cashier)
    client.post("/checkout/register/", {"register": register.pk})
    response = client.post("/checkout/shift/open/", {"opening_float": typed})
    assert response.status_code == 422
    errors = response.context["form"].errors
    assert errors == {"opening_float": ["The cash float cannot be more than ¥20,000: check the amount."]}
    assert not Shift.objects.exists()
    with pytest.raises(CheckoutError, match="more than ¥20,000") as refused:
        shift_open(register=register, opening_float=Decimal(typed), user=cashier)
    assert refused.value.field == "opening_float"
    assert client.post("/checkout/shift/open/", {"opening_float": "20000"}).url == "/checkout/"


@pytest.mark.parametrize("typed", ["6901234567892", "1000000.01"])
def test_counted_cash_past_the_limit_is_refused_and_the_shift_stays_open(client, register, shift, cashier, typed):
    client.force_login(cashier)
    client.post("/checkout/register/", {"register": register.pk})
    response = client.post("/checkout/shift/close/", {"shift": shift.pk, "counted_cash": typed})
    assert response.status_code == 422
    errors = response.context["form"].errors
    assert errors == {"counted_cash": ["Counted cash cannot be more than ¥1,000,000: check the amount."]}
    with pytest.raises(CheckoutError, match="more than ¥1,000,000") as refused:
        shift_close(shift=shift, counted_cash=Decimal(typed), user=cashier)
    assert refused.value.field == "counted_cash"
    shift.refresh_from_db()
    assert shift.closed_at is None
    closed = client.post("/checkout/shift/close/", {"shift": shift.pk, "counted_cash": "1000000"})
    assert closed.url == f"/checkout/shifts/{shift.pk}/"


def test_opening_a_shift_twice_goes_to_the_till(client, register, cashier):
    client.force_login(cashier)
    client.post("/checkout/register/", {"register": register.pk})
    first = client.post("/checkout/shift/open/", {"opening_float": "200"})
    again = client.post("/checkout/shift/open/", {"opening_float": "200"})
    assert first.url == again.url == "/checkout/"
    assert Shift.objects.filter(register=register).count() == 1


def test_the_cashier_who_closes_a_shift_another_opened_prints_its_z_report(client, register, cashier):
    morning, other = (get_user_model().objects.create_user(name) for name in ("morning", "other"))
    for user in (morning, other):
        user_set_role(user=user, role=CASHIER)
    shift = shift_open(register=register, opening_float=Decimal("200.00"), user=morning)
    client.force_login(cashier)
    client.post("/checkout/register/", {"register": register.pk})
    response = client.post("/checkout/shift/close/", {"shift": shift.pk, "counted_cash": "200.00"})
    assert response.url == f"/checkout/shifts/{shift.pk}/"
    assert client.get(response.url).status_code == 200
    client.force_login(morning)
    assert client.get(response.url).status_code == 200
    client.force_login(other)  # neither opened nor closed it
    assert client.get(response.url).status_code == 403


@pytest.fixture
def yogurt(floor):
    """A lot-tracked product with two lots on the floor: 3 expiring in 2 days, 4 in 9 days."""
    product = ProductFactory(lot_tracked=True, selling_price=Decimal("4.50"))
    today = timezone.localdate()
    soon = Lot.objects.create(product=product, code="SOON", expiry_date=today + timedelta(days=2))
    later = Lot.objects.create(product=product, code="LATER", expiry_date=today + timedelta(days=9))
    stock_move_batch(
        moves=[Move(product, floor, Decimal(3), soon), Move(product, floor, Decimal(4), later)], kind="receipt"
    )
    return product, soon, later


def lot_levels(product) -> dict[str, Decimal]:
    return dict(StockLevel.objects.filter(product=product).values_list("lot__code", "on_hand"))


def test_return_of_lot_tracked_goods_goes_back_to_the_lots_the_sale_took_them_from(
    register, shift, cashier, manager, yogurt, floor, sell
):
    product, soon, later = yogurt
    sale = sell(register, [(product, 5)])  # FEFO: 3 from SOON, then 2 from LATER
    assert lot_levels(product) == {"SOON": 0, "LATER": 2, None: 0}
    line = sale.lines.get()

    give_back(sale, line, 1, register=register, cashier=cashier, approved_by=manager)
    # What the sale took last goes back first: the lot expiring last.
    assert lot_levels(product) == {"SOON": 0, "LATER": 3, None: 0}
    give_back(sale, line, 2, register=register, cashier=cashier, approved_by=manager)
    # Never more to a lot than the sale took from it (2 from LATER): the rest goes to SOON.
    assert lot_levels(product) == {"SOON": 1, "LATER": 4, None: 0}
    give_back(sale, line, 2, register=register, cashier=cashier, approved_by=manager)
    assert lot_levels(product) == {"SOON": 3, "LATER": 4, None: 0}

    returned = StockMovement.objects.filter(kind="return", product=product).order_by("pk")
    assert [(m.lot.code, m.quantity) for m in returned] == [("LATER", 1), ("LATER", 1), ("SOON", 1), ("SOON", 2)]
    assert ledger_mismatches() == []
    call_command("check_stock_ledger")


def test_return_over_two_lines_of_one_lot_tracked_product_shares_the_lots(
    register, shift, cashier, manager, yogurt, floor, sell
):
    product, soon, later = yogurt
    sale = sell(register, [(product, 2), (product, 2)])  # one batch: 3 from SOON, 1 from LATER
    first, second = sale.lines.order_by("position")
    sale_return(
        sale=sale,
        quantities={first.pk: Decimal(2), second.pk: Decimal(1)},
        refund_method="cash",
        register=register,
        user=cashier,
        approved_by=manager,
    )
    assert lot_levels(product) == {"SOON": 2, "LATER": 4, None: 0}
    give_back(sale, second, 1, register=register, cashier=cashier, approved_by=manager)
    assert lot_levels(product) == {"SOON": 3, "LATER": 4, None: 0}
    assert ledger_mismatches() == []


def test_return_of_goods_sold_past_the_lots_puts_the_no_lot_part_back_first(
    register, shift, cashier, manager, yogurt, floor, sell, settings
):
    settings.STOCK_ALLOW_NEGATIVE_SALES = True
    product, soon, later = yogurt
    sale = sell(register, [(product, 9)])  # 3 SOON, 4 LATER, 2 beyond the lots
    assert lot_levels(product) == {"SOON": 0, "LATER": 0, None: -2}
    give_back(sale, sale.lines.get(), 3, register=register, cashier=cashier, approved_by=manager)
    assert lot_levels(product) == {"SOON": 0, "LATER": 1, None: 0}
    assert ledger_mismatches() == []


def test_a_return_sent_twice_refunds_once(client, cashier, manager, register, shift, stocked, sell, floor):
    (milk,) = stocked(1, on_hand=Decimal(10), selling_price=Decimal("4.50"))
    sale = sell(register, [(milk, 3)])
    client.force_login(cashier)
    client.post("/checkout/register/", {"register": register.pk})
    line = sale.lines.get()
    form = {
        "number": sale.number,
        "token": str(uuid.uuid4()),
        f"qty-{line.pk}": "1",
        "refund_method": "cash",
        "manager_username": "manager1",
        "manager_password": "manager-pass-1",
    }
    # A double click on the button, or the done page refreshed: the same form twice.
    answers = [client.post("/checkout/returns/", form) for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 200]
    assert [r.total for r in Return.objects.all()] == [Decimal("4.50")]
    assert StockLevel.objects.get(product=milk, location=floor).on_hand == 8

    # A new form (a fresh token) returns another one.
    client.post("/checkout/returns/", {**form, "token": str(uuid.uuid4())})
    assert Return.objects.count() == 2
    assert StockLevel.objects.get(product=milk, location=floor).on_hand == 9
