import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import json, django; from django.conf import settings; django.setup(); "
    "print(json.dumps({'engine': settings.DATABASES['default']['ENGINE'], "
    "'cache': settings.CACHES['default']['BACKEND'], 'inline': settings.JOBS_INLINE, "
    "'debug': settings.DEBUG, 'tz': settings.TIME_ZONE}))"
)


def load_settings(**env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG")}
    clean.update(env, DJANGO_SETTINGS_MODULE="supermarket.settings")
    return subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=clean, capture_output=True, text=True)


def test_with_nothing_set_it_is_the_embedded_default():
    result = load_settings()
    assert result.returncode == 0, result.stderr
    shape = json.loads(result.stdout)
    assert shape == {
        "engine": "django.db.backends.sqlite3",
        "cache": "django.core.cache.backends.locmem.LocMemCache",
        "inline": True,
        "debug": False,
        "tz": "Asia/Shanghai",
    }


def test_database_and_redis_urls_give_the_production_shape():
    result = load_settings(
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/x", REDIS_URL="redis://127.0.0.1:6379/1", SECRET_KEY="k" * 50
    )
    assert result.returncode == 0, result.stderr
    shape = json.loads(result.stdout)
    assert shape["engine"] == "supermarket.postgresql"  # Django's PostgreSQL backend, with a cheaper health check
    assert shape["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert shape["inline"] is False


def test_production_refuses_to_start_without_secret_key():
    result = load_settings(DATABASE_URL="postgres://postgres@127.0.0.1:5432/x")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


@pytest.mark.parametrize("value", ["maybe", "2"])
def test_a_bad_boolean_fails_loudly(value):
    result = load_settings(DEBUG=value)
    assert result.returncode != 0 and "DEBUG must be a boolean" in result.stderr
