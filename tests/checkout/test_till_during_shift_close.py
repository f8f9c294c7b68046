"""Till actions that reach the database while the register's shift is being closed: each waits for the close, then
gets the till's usual answer, never a server error."""

import threading
import time
from decimal import Decimal

import pytest
from django.db import connection, transaction

from checkout.models import Cart, CartLine, Shift
from checkout.services import cart_cancel, shift_close
from tests.checkout.test_till import lines

pytestmark = pytest.mark.django_db(transaction=True)


def _wait_for_a_lock_waiter() -> None:
    """Until a connection to this test's database waits for a lock (other databases on the server may have theirs)."""
    deadline = time.monotonic() + 20
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # else read once per transaction, and this is in one
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.02)
    raise AssertionError("the till action never waited for the close")


def _in_a_thread(till, action: str, **data):
    """Post the till action from its own connection; call the result to wait for its answer."""
    answers, errors = [], []

    def post():
        try:
            answers.append(till(action, **data))
        except Exception as exc:  # surfaced by the caller: a server error must fail the test
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=post)
    thread.start()

    def answer():
        thread.join()
        assert errors == []
        return answers[0]

    return answer


def _while_the_basket_is_locked(till, register, action: str, meanwhile, **data):
    """The till's answer to the action posted while the register's open basket is locked: once the action waits for
    the lock, meanwhile(cart) runs (a shift close, a cancel in another window), then the lock is let go."""
    with transaction.atomic():
        cart = Cart.objects.select_for_update().get(register=register, status=Cart.Status.OPEN)
        answer = _in_a_thread(till, action, **data)
        _wait_for_a_lock_waiter()
        meanwhile(cart)
    return answer()


def test_a_scan_that_reaches_the_basket_the_shift_close_dropped_is_refused_and_adds_nothing(
    till, stocked, register, shift, cashier
):
    (milk,) = stocked(1)
    till("scan/", code=milk.barcode)
    till("line/void/", line=CartLine.objects.get().pk)  # the basket is empty: the close may drop it
    # The close's first step, with the scan on its way: the register's open basket locked. The scan read the basket
    # before it; its line then waits for the basket's row, which the close drops.
    response = _while_the_basket_is_locked(
        till,
        register,
        "scan/",
        lambda cart: shift_close(shift=shift, counted_cash=Decimal("200.00"), user=cashier),
        code=milk.barcode,
    )
    assert response.status_code == 422
    assert b'data-state="error"' in response.content
    assert b"The shift on register T01 was closed before this scan reached it: open a shift to sell." in (
        response.content
    )
    assert lines(response) == []
    assert not CartLine.objects.exists() and not Cart.objects.exists()
    assert Shift.objects.get().closed_at is not None
    # The next scan finds no open shift and sends the till to open one.
    assert till("scan/", code=milk.barcode).headers["HX-Redirect"] == "/checkout/"


def test_a_scan_that_reaches_a_basket_another_window_cancelled_is_refused_and_adds_nothing(
    till, stocked, register, shift
):
    milk, bread = stocked(2)
    till("scan/", code=milk.barcode)
    # The cancel button in another window.
    response = _while_the_basket_is_locked(
        till, register, "scan/", lambda cart: cart_cancel(cart=cart), code=bread.barcode
    )
    assert response.status_code == 422
    assert b"The sale on screen ended in another window before this scan reached it: scan the item again." in (
        response.content
    )
    assert not CartLine.objects.exists()
    assert lines(till("scan/", code=bread.barcode)) == [(bread.name, "1")]  # a new sale, in the open shift


def test_a_held_sale_recalled_while_the_shift_closes_does_not_deadlock_the_two(till, stocked, register, shift, cashier):
    (milk,) = stocked(1)
    till("scan/", code=milk.barcode)
    till("hold/")
    held = Cart.objects.get(status=Cart.Status.HELD)
    till("scan/", code=milk.barcode)
    till("line/void/", line=CartLine.objects.get(cart__status=Cart.Status.OPEN).pk)
    # The recall locks the register's row, then the open basket, which the close locked first: the close must not
    # then wait for the register's row (a deadlock, which the database broke by failing one of them).
    response = _while_the_basket_is_locked(
        till,
        register,
        "recall/",
        lambda cart: shift_close(shift=shift, counted_cash=Decimal("200.00"), user=cashier),
        cart=held.pk,
    )
    assert response.status_code == 200, response.content
    assert Shift.objects.get().closed_at is not None
    # The held sale stays with the register, open, for the next shift.
    assert list(Cart.objects.values_list("pk", "status")) == [(held.pk, Cart.Status.OPEN)]
