"""No Docker engine runs here, so the compose file is kept honest by reading it against the Procfile and settings."""

import re
import shlex
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def procfile() -> dict[str, list[str]]:
    entries = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip():
            name, command = line.split(":", 1)
            entries[name] = shlex.split(command)
    return entries


def settings_variables() -> set[str]:
    source = (ROOT / "supermarket" / "settings.py").read_text()
    return set(re.findall(r'env(?:bool|int|list)?\(\s*"([A-Z_]+)"', source)) | set(
        re.findall(r'os\.getenv\(\s*"([A-Z_]+)"', source)
    )


def test_every_procfile_process_is_a_compose_service_with_the_same_command(compose, procfile):
    assert set(procfile) == {"web", "worker", "release", "scheduler"}
    for name, command in procfile.items():
        assert compose["services"][name]["command"] == command, name


def test_compose_has_the_production_services_with_health_checks(compose):
    services = compose["services"]
    assert services["db"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    for name in ("db", "redis", "web", "prometheus", "grafana"):
        assert "healthcheck" in services[name], name
    for name, volume in (
        ("db", "pgdata"),
        ("redis", "redisdata"),
        ("prometheus", "promdata"),
        ("grafana", "grafanadata"),
    ):
        assert any(v.startswith(volume + ":") for v in services[name]["volumes"]), name
        assert volume in compose["volumes"]


def test_web_port_matches_the_gunicorn_bind(compose):
    web = compose["services"]["web"]
    port = web["environment"]["PORT"]
    assert f"127.0.0.1:{port}:{port}" in web["ports"]  # this host's proxy only: nobody goes around it
    assert "PORT" in (ROOT / "supermarket" / "gunicorn.conf.py").read_text()
    assert "readyz" in " ".join(web["healthcheck"]["test"])


def test_app_services_read_the_env_file_and_point_at_compose_db_and_redis(compose):
    for name in ("web", "worker", "release", "scheduler"):
        service = compose["services"][name]
        assert service["env_file"] == ".env"
        assert "@db:5432/" in service["environment"]["DATABASE_URL"]
        assert service["environment"]["REDIS_URL"].startswith("redis://redis:6379")


def test_web_and_background_processes_share_the_media_directory(compose):
    """Catalog uploads and report exports are written by one process and read by another."""
    mounts = {name: set(compose["services"][name].get("volumes", [])) for name in ("web", "worker", "scheduler")}
    assert all("media:/app/var/media" in volumes for volumes in mounts.values()), mounts
    assert "media" in compose["volumes"]
    assert "mkdir -p /app/var/media" in (ROOT / "Dockerfile").read_text()  # so the volume is the app user's


def test_exactly_one_scheduler_runs(compose):
    assert compose["services"]["scheduler"]["deploy"]["replicas"] == 1


def test_every_variable_compose_or_settings_use_is_listed_in_env_example(compose):
    listed = {
        line.split("=", 1)[0]
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    used = settings_variables()
    for name in ("web", "worker", "release"):
        used |= set(compose["services"][name]["environment"])
    missing = used - listed
    assert not missing, f"variables missing from .env.example: {sorted(missing)}"


def test_prometheus_scrapes_web_and_loads_the_alert_rules(compose):
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    assert config["scrape_configs"][0]["static_configs"][0]["targets"] == ["web:8000"]
    rules = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
    names = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    assert {"JobQueueBackingUp", "HighErrorRate", "NoSalesInOpeningHours"} <= names
