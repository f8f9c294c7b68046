"""Commands that default to "yesterday" mean the store's yesterday (TIME_ZONE), not the server's."""

import io
from datetime import UTC, date, datetime

import pytest
from django.core.management import call_command
from django.utils import timezone

from reports.models import JobRun

# 17:30 UTC on 31 March is 01:30 on 1 April in Shanghai: the store's yesterday is 31 March, the server's the 30th.
JUST_AFTER_MIDNIGHT_IN_STORE = datetime(2025, 3, 31, 17, 30, tzinfo=UTC)


@pytest.mark.django_db
def test_forecast_all_forecasts_from_the_stores_yesterday(settings, monkeypatch, floor):
    settings.JOBS_INLINE = True
    settings.TIME_ZONE = "Asia/Shanghai"
    monkeypatch.setattr(timezone, "now", lambda: JUST_AFTER_MIDNIGHT_IN_STORE)
    call_command("forecast_all", stdout=io.StringIO())
    batch = JobRun.objects.get(kind="forecast_batch")
    assert batch.arguments["history_end"] == date(2025, 3, 31).isoformat()
