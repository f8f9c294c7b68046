from datetime import date

import pytest

from catalog.demo import seed_demo
from checkout.models import Register


@pytest.mark.django_db
def test_demo_store_has_two_tills_and_the_online_register(floor):
    seed_demo(products=40, days=7, seed=5, today=date(2026, 6, 1))
    registers = {r.code: r for r in Register.objects.all()}
    assert {"T01", "T02"} <= set(registers)
    assert not registers["T01"].online and registers["T01"].location == floor
    assert Register.online_register().online
