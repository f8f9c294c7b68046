"""Settings as DEPLOY.md runs them: behind a reverse proxy, over HTTPS, from a .env copied from .env.example."""

import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.contrib.auth import get_user_model
from django.templatetags.static import static
from django.test import Client, RequestFactory, override_settings
from django.urls import reverse

from supermarket.clientip import client_ip
from supermarket.roles import CASHIER, user_set_role

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "till-pass-1"


def env_example_names() -> list[str]:
    lines = (ROOT / ".env.example").read_text().splitlines()
    return [line.split("=", 1)[0] for line in lines if line and not line.startswith("#")]


def run_python(code: str, **env) -> subprocess.CompletedProcess:
    """A fresh interpreter with none of .env.example's variables set, then env."""
    clean = {k: v for k, v in os.environ.items() if k not in env_example_names()}
    clean.update(env, DJANGO_SETTINGS_MODULE="supermarket.settings")
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True)


SETTINGS_PROBE = (
    "import json; from django.conf import settings; settings._setup(); "
    "print(json.dumps({k: repr(getattr(settings, k)) for k in dir(settings) if k.isupper()}))"
)


def loaded_settings(**env) -> dict[str, str]:
    result = run_python(SETTINGS_PROBE, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def request(remote: str, forwarded: str | None = None):
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    return RequestFactory().get("/", REMOTE_ADDR=remote, **extra)


# The client's address --------------------------------------------------------------------------------------------


@override_settings(TRUSTED_PROXIES=[])
def test_without_trusted_proxies_the_client_is_remote_addr_whatever_the_header_says():
    assert client_ip(request("127.0.0.1", "203.0.113.9")) == "127.0.0.1"
    assert client_ip(request("198.51.100.4")) == "198.51.100.4"


@override_settings(TRUSTED_PROXIES=["127.0.0.1", "10.0.0.0/8"])
def test_behind_trusted_proxies_the_client_is_the_rightmost_forwarded_address_not_a_proxy():
    # The client wrote 1.1.1.1 itself; the outer proxy (10.0.0.5) appended the address it saw, 203.0.113.9.
    assert client_ip(request("127.0.0.1", "1.1.1.1, 203.0.113.9, 10.0.0.5")) == "203.0.113.9"
    assert client_ip(request("127.0.0.1", "203.0.113.9")) == "203.0.113.9"
    # The proxy's own host calling directly (Prometheus on the same machine) sends no header.
    assert client_ip(request("127.0.0.1")) == "127.0.0.1"
    assert client_ip(request("127.0.0.1", "10.1.2.3, 10.0.0.5")) == "10.1.2.3"


@override_settings(TRUSTED_PROXIES=["10.0.0.0/8"])
def test_a_client_that_is_no_trusted_proxy_cannot_choose_its_address_by_header():
    assert client_ip(request("203.0.113.9", "127.0.0.1")) == "203.0.113.9"


@override_settings(TRUSTED_PROXIES=["127.0.0.1"])
def test_a_forwarded_entry_that_is_no_address_gives_no_address():
    assert client_ip(request("127.0.0.1", "127.0.0.1, not-an-address")) == ""


def test_a_trusted_proxy_that_is_no_address_or_network_fails_loudly():
    result = run_python(SETTINGS_PROBE, TRUSTED_PROXIES="10.0.0.0/8,proxy.internal")
    assert result.returncode != 0
    assert "TRUSTED_PROXIES must list addresses or networks" in result.stderr


@pytest.mark.django_db
@override_settings(TRUSTED_PROXIES=["127.0.0.1"])
def test_behind_a_proxy_wrong_passwords_at_one_till_do_not_lock_the_name_at_another():
    user = get_user_model().objects.create_user("cashier", password=PASSWORD)
    user_set_role(user=user, role=CASHIER)
    till_1 = Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="192.168.1.21")
    till_2 = Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="192.168.1.22")
    login = reverse("checkout:login")
    wrong = {"username": "cashier", "password": "wrong"}
    statuses = [till_1.post(login, wrong).status_code for _ in range(settings.AXES_FAILURE_LIMIT)]
    assert statuses[-1] == 429
    assert till_2.post(login, {"username": "cashier", "password": PASSWORD}).status_code == 302
    assert till_1.post(login, {"username": "cashier", "password": PASSWORD}).status_code == 429


@pytest.mark.django_db
def test_metrics_through_a_proxy_on_the_same_host_judge_the_client_not_the_proxy(client, settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    settings.METRICS_ALLOWED_NETWORKS = ["127.0.0.1/32", "10.0.0.0/8"]
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="10.0.0.8").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200


# Empty variables -----------------------------------------------------------------------------------------------


def test_every_variable_of_env_example_left_empty_is_the_same_as_unset():
    empty = loaded_settings(**dict.fromkeys(env_example_names(), ""))
    unset = loaded_settings()
    assert {k: v for k, v in empty.items() if unset.get(k) != v} == {}
    assert unset["MEDIA_ROOT"] == repr(ROOT / "var" / "media")
    assert str(ROOT / "db.sqlite3") in unset["DATABASES"]


def test_gunicorn_with_empty_variables_starts_with_its_defaults(tmp_path):
    probe = (
        "import json, os, runpy; conf = runpy.run_path('supermarket/gunicorn.conf.py'); conf['on_starting'](None); "
        "path = os.environ['PROMETHEUS_MULTIPROC_DIR']; "
        "print(json.dumps({'bind': conf['bind'], 'max_requests': conf['max_requests'], 'threads': conf['threads'], "
        "'path': path, 'isdir': os.path.isdir(path)}))"
    )
    names = ("PROMETHEUS_MULTIPROC_DIR", "PORT", "WEB_CONCURRENCY", "GUNICORN_THREADS", "GUNICORN_MAX_REQUESTS")
    result = run_python(probe, TMPDIR=str(tmp_path), **dict.fromkeys(names, ""))
    assert result.returncode == 0, result.stderr
    conf = json.loads(result.stdout)
    shutil.rmtree(conf["path"], ignore_errors=True)
    assert conf["bind"] == "0.0.0.0:8000"
    assert conf["max_requests"] == 20000 and conf["threads"] == 1
    assert conf["isdir"] and os.path.isabs(conf["path"]) and conf["path"].startswith(str(tmp_path))


def test_gunicorn_takes_the_https_scheme_only_from_the_trusted_proxies_and_django_from_nobody():
    probe = (
        "import json, runpy; print(json.dumps(runpy.run_path('supermarket/gunicorn.conf.py')['forwarded_allow_ips']))"
    )
    named = run_python(probe, TRUSTED_PROXIES="172.30.0.1,10.0.0.0/8")
    assert named.returncode == 0, named.stderr
    assert json.loads(named.stdout) == "172.30.0.1,10.0.0.0/8"
    unset = run_python(probe, TRUSTED_PROXIES="")
    assert json.loads(unset.stdout) == "127.0.0.1,::1"
    # Django's own header setting would take X-Forwarded-Proto from any client that can reach gunicorn.
    assert settings.SECURE_PROXY_SSL_HEADER is None


# HTTPS redirect and hosts ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_probes_and_scrapes_are_not_redirected_to_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    for path in ("/healthz", "/readyz", "/metrics"):
        assert client.get(path).status_code == 200, path
    page = client.get(reverse("checkout:login"))
    assert page.status_code == 301 and page.url.startswith("https://")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_web_allows_the_hosts_its_healthcheck_and_prometheus_use(compose):
    web = compose["services"]["web"]
    # DEPLOY.md's .env sets the public name only; compose interpolates it into the web service's value.
    hosts = re.sub(r"\$\{ALLOWED_HOSTS(:?-[^}]*)?\}", "shop.example.com", web["environment"]["ALLOWED_HOSTS"])
    allowed = hosts.split(",")
    assert "shop.example.com" in allowed
    healthcheck = re.search(r"https?://([^/:']+)", " ".join(web["healthcheck"]["test"])).group(1)
    assert healthcheck in allowed
    prometheus = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    for target in prometheus["scrape_configs"][0]["static_configs"][0]["targets"]:
        assert target.split(":")[0] in allowed, target


def test_compose_publishes_prometheus_and_grafana_on_localhost_only_and_grafana_has_no_default_password(compose):
    for name in ("prometheus", "grafana"):
        for port in compose["services"][name]["ports"]:
            assert str(port).startswith("127.0.0.1:"), (name, port)
    password = compose["services"]["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"]
    assert re.fullmatch(r"\$\{GRAFANA_ADMIN_PASSWORD:\?[^}]+\}", password), password


def test_compose_trusts_only_its_gateway_the_way_the_hosts_proxy_comes_in(compose):
    # Any other address on a Docker network could write X-Forwarded-For itself and pick its own client address.
    web = compose["services"]["web"]
    (network,) = compose["networks"]["default"]["ipam"]["config"]
    trusted = re.fullmatch(r"\$\{TRUSTED_PROXIES:-([^}]*)\}", web["environment"]["TRUSTED_PROXIES"]).group(1)
    assert trusted == network["gateway"]
    assert ipaddress.ip_address(trusted) in ipaddress.ip_network(network["subnet"])
    assert all(str(port).startswith("127.0.0.1:") for port in web["ports"])


def test_the_docker_build_context_leaves_out_env_files_and_local_state():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".env", ".env.*", ".venv", "db.sqlite3", "staticfiles", "var"} <= ignored


# Static files ------------------------------------------------------------------------------------------------------


def test_tests_use_plain_static_names_even_after_collectstatic_left_a_manifest(tmp_path):
    (tmp_path / "staticfiles.json").write_text(
        json.dumps({"version": "1.1", "hash": "0", "paths": {"checkout/till.css": "checkout/till.0123456789ab.css"}})
    )
    with override_settings(STATIC_ROOT=tmp_path):
        assert static("checkout/till.css") == "/static/checkout/till.css"


def test_production_keeps_the_hashed_manifest_storage():
    assert "supermarket.storage.StaticStorage" in loaded_settings()["STORAGES"]
