import json
import logging

import pytest

from supermarket.logs import JSONFormatter


@pytest.mark.django_db
def test_each_request_is_one_json_line_without_query_string(client, caplog):
    caplog.set_level(logging.INFO, logger="supermarket.request")
    client.get("/healthz?token=abcdef123456", HTTP_AUTHORIZATION="Token abcdef123456")
    records = [r for r in caplog.records if r.name == "supermarket.request"]
    assert len(records) == 1
    line = JSONFormatter().format(records[0])
    entry = json.loads(line)
    assert "\n" not in line
    assert entry["path"] == "/healthz" and entry["status"] == 200 and entry["view"] == "healthz"
    assert "abcdef123456" not in line
