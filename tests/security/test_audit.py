"""scripts/audit.py against a local HTTP server serving canned PyPI and npm answers (real requests)."""

import json
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "audit.py"
BULK = "/-/npm/v1/security/advisories/bulk"


def vuln(vuln_id: str, *, aliases=(), fixed_in=(), withdrawn=None, details="Something bad.") -> dict:
    return {
        "id": vuln_id,
        "aliases": list(aliases),
        "fixed_in": list(fixed_in),
        "details": details,
        "summary": None,
        "link": f"https://osv.dev/vulnerability/{vuln_id}",
        "source": "osv",
        "withdrawn": withdrawn,
    }


def project(version: str, releases: list[str], vulnerabilities: list[dict]) -> dict:
    """PyPI's project JSON: info of the latest release, its vulnerabilities only, every release's files."""
    return {"info": {"version": version}, "releases": {r: [] for r in releases}, "vulnerabilities": vulnerabilities}


class Registry(BaseHTTPRequestHandler):
    def _answer(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.seen.append((method, self.path, json.loads(body) if body else None))
        status, payload = self.server.routes.get((method, self.path), (404, {"message": "Not Found"}))
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def registry():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Registry)
    server.routes, server.seen = {}, []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_audit(base: str, *args: str, required: bool = False) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "AUDIT_PYPI_URL": base, "AUDIT_NPM_URL": base}
    if required:
        env["AUDIT_REQUIRED"] = "1"
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=120, cwd=ROOT
    )


def base_url(server) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def requirements(tmp_path):
    def write(*lines: str, name: str = "requirements.txt") -> str:
        path = tmp_path / name
        path.write_text("# pins\n" + "\n".join(lines) + "\n")
        return str(path)

    return write


def test_a_vulnerable_pin_fails_naming_package_version_and_advisory(registry, requirements):
    registry.routes[("GET", "/pypi/django/4.2.0/json")] = (
        200,
        {"vulnerabilities": [vuln("PYSEC-2023-61", aliases=["CVE-2023-31047"], fixed_in=["3.2.19", "4.1.9", "4.2.1"])]},
    )
    registry.routes[("GET", "/pypi/sqlparse/0.6.1/json")] = (200, {"vulnerabilities": []})

    run = run_audit(base_url(registry), "--requirements", requirements("Django==4.2.0", "sqlparse==0.6.1"))

    assert run.returncode == 1, run.stdout
    assert "VULNERABLE Django 4.2.0: PYSEC-2023-61 (CVE-2023-31047); fixed in 3.2.19, 4.1.9, 4.2.1" in run.stdout
    assert "sqlparse" not in run.stdout.split("VULNERABLE")[1]
    assert "FAILED: known vulnerabilities in 1 package(s)." in run.stdout


def test_a_fixed_pin_passes(registry, requirements):
    registry.routes[("GET", "/pypi/django/4.2.1/json")] = (200, {"vulnerabilities": []})

    run = run_audit(base_url(registry), "--requirements", requirements("Django==4.2.1"))

    assert run.returncode == 0, run.stdout
    assert "runtime (requirements.txt): 1 packages, 1 audited with no known vulnerability" in run.stdout
    assert run.stdout.strip().endswith("No known vulnerabilities.")


def test_without_release_json_the_latest_release_is_audited_from_the_project_json(registry, requirements):
    """The build machine's case: /pypi/<name>/<version>/json answers 404, /pypi/<name>/json answers."""
    registry.routes[("GET", "/pypi/ecdsa/json")] = (
        200,
        project(
            "0.19.2",
            ["0.19.1", "0.19.2"],
            [
                vuln("PYSEC-2026-1325", aliases=["CVE-2024-23342", "GHSA-wj6h-64fc-37mp"]),
                vuln("GHSA-wj6h-64fc-37mp", aliases=["CVE-2024-23342", "PYSEC-2026-1325"]),
                vuln("PYSEC-2020-1", withdrawn="2021-01-01T00:00:00Z"),
            ],
        ),
    )
    registry.routes[("GET", "/pypi/wrapt/json")] = (200, project("2.5.2", ["2.5.2"], []))

    run = run_audit(base_url(registry), "--requirements", requirements("ecdsa==0.19.2", "wrapt==2.5.2"))

    assert run.returncode == 1, run.stdout
    assert ("GET", "/pypi/ecdsa/0.19.2/json", None) in registry.seen  # the exact release is asked first
    # One line for the advisory and its alias, none for the withdrawn one.
    assert run.stdout.count("VULNERABLE ecdsa 0.19.2:") == 1
    assert "PYSEC-2026-1325 (CVE-2024-23342, GHSA-wj6h-64fc-37mp); no fix released" in run.stdout
    assert "PYSEC-2020-1" not in run.stdout
    assert "PyPI: 2 of 2 packages looked up (latest release data)" in run.stdout


def test_a_pin_older_than_the_latest_release_is_not_audited_from_the_project_json(registry, requirements):
    registry.routes[("GET", "/pypi/django/json")] = (
        200,
        project(
            "5.2.1",
            ["4.2.10", "4.2.20", "5.2.1"],
            [
                vuln("PYSEC-OPEN", details="Still open in the latest release."),
                vuln("PYSEC-BACKPORTED", fixed_in=["4.2.20"]),
            ],
        ),
    )
    registry.routes[("GET", "/pypi/sqlparse/json")] = (200, project("0.6.1", ["0.6.1"], []))

    run = run_audit(base_url(registry), "--requirements", requirements("Django==4.2.20", "sqlparse==0.6.1"))

    assert run.returncode == 1, run.stdout
    assert "VULNERABLE Django 4.2.20: PYSEC-OPEN; no fix released - Still open in the latest release." in run.stdout
    assert "PYSEC-BACKPORTED" not in run.stdout  # fixed at this pin, in its own series
    assert "NOT AUDITED Django 4.2.20 [requirements.txt:2]: older than the latest release 5.2.1" in run.stdout


def test_an_older_pin_with_no_open_advisory_is_reported_not_audited_and_fails_only_when_required(
    registry, requirements
):
    registry.routes[("GET", "/pypi/django/json")] = (
        200,
        project("5.2.1", ["4.2.10", "5.2.1"], [vuln("PYSEC-BACKPORTED", fixed_in=["4.2.10"])]),
    )

    run = run_audit(base_url(registry), "--requirements", requirements("Django==4.2.10"))

    assert run.returncode == 0, run.stdout
    assert "VULNERABLE" not in run.stdout
    assert "NOT AUDITED Django 4.2.10" in run.stdout
    assert "*** audit NOT performed for PyPI: 1 pin(s) older than their latest release" in run.stdout

    required = run_audit(base_url(registry), "--requirements", requirements("Django==4.2.10"), required=True)
    assert required.returncode == 1, required.stdout
    assert "FAILED: PyPI: 1 pin(s) older than their latest release, not fully audited." in required.stdout


def test_a_package_pypi_does_not_know_fails_the_audit_when_others_were_looked_up(registry, requirements):
    registry.routes[("GET", "/pypi/django/5.2.1/json")] = (200, {"vulnerabilities": []})

    run = run_audit(base_url(registry), "--requirements", requirements("Django==5.2.1", "djangoo==1.0"))

    assert run.returncode == 1, run.stdout
    assert "NOT AUDITED djangoo 1.0 [requirements.txt:3]: no project 'djangoo' on PyPI" in run.stdout
    assert "FAILED: PyPI: 1 of 2 packages not audited." in run.stdout


def test_a_requirement_not_pinned_exactly_fails_even_without_network(closed_port, requirements):
    run = run_audit(f"http://127.0.0.1:{closed_port}", "--requirements", requirements("Django>=5.2", "wrapt==2.5.2"))

    assert run.returncode == 1, run.stdout
    assert "NOT AUDITED Django >=5.2 [requirements.txt:2]: not pinned with ==" in run.stdout


def test_an_unreachable_service_is_reported_as_not_performed(closed_port):
    """The project's own requirement files and vendored htmx, with nothing answering."""
    run = run_audit(f"http://127.0.0.1:{closed_port}")

    assert run.returncode == 0, run.stdout
    assert "*** audit NOT performed for PyPI (" in run.stdout
    assert "*** audit NOT performed for npm (1 packages:" in run.stdout
    assert "unreachable" in run.stdout
    assert run.stdout.strip().endswith("audit NOT performed.")
    assert "not pinned" not in run.stdout  # every project requirement is an exact pin
    assert "vendored (static/vendor): 1 packages" in run.stdout


def test_an_unreachable_service_fails_when_the_audit_is_required(closed_port, requirements):
    run = run_audit(f"http://127.0.0.1:{closed_port}", "--requirements", requirements("wrapt==2.5.2"), required=True)

    assert run.returncode == 1, run.stdout
    assert "audit NOT performed and AUDIT_REQUIRED=1: failing." in run.stdout


def test_development_pins_are_audited_in_their_own_section_without_repeating_runtime(registry, requirements):
    runtime = requirements("wrapt==2.5.2")
    dev = requirements("-r requirements.txt", "pytest==7.0.0", "wrapt==2.5.2", name="requirements-dev.txt")
    registry.routes[("GET", "/pypi/wrapt/2.5.2/json")] = (200, {"vulnerabilities": []})
    registry.routes[("GET", "/pypi/pytest/7.0.0/json")] = (200, {"vulnerabilities": [vuln("PYSEC-2025-1")]})

    run = run_audit(base_url(registry), "--requirements", runtime, "--dev-requirements", dev)

    assert run.returncode == 1, run.stdout
    assert "runtime (requirements.txt): 1 packages, 1 audited" in run.stdout
    assert "development (requirements-dev.txt): 1 packages, 0 audited" in run.stdout
    assert "VULNERABLE pytest 7.0.0: PYSEC-2025-1" in run.stdout
    assert sum(1 for method, path, _ in registry.seen if path == "/pypi/wrapt/2.5.2/json") == 1


@pytest.fixture
def vendored(tmp_path) -> str:
    htmx = tmp_path / "static" / "vendor" / "htmx" / "htmx.min.js"
    htmx.parent.mkdir(parents=True)
    htmx.write_text('var htmx=function(){return{config:{},version:"1.9.2"}}();')
    return str(tmp_path)


def test_vendored_htmx_with_an_npm_advisory_fails(registry, vendored):
    registry.routes[("POST", BULK)] = (
        200,
        {
            "htmx.org": [
                {
                    "id": 1090042,
                    "url": "https://github.com/advisories/GHSA-xxxx-yyyy-zzzz",
                    "title": "Cross-site scripting",
                    "severity": "moderate",
                    "vulnerable_versions": "<1.9.3",
                }
            ]
        },
    )

    run = run_audit(base_url(registry), "--vendored-root", vendored)

    assert run.returncode == 1, run.stdout
    assert ("POST", BULK, {"htmx.org": ["1.9.2"]}) in registry.seen
    assert "VULNERABLE htmx.org 1.9.2: 1090042 (https://github.com/advisories/GHSA-xxxx-yyyy-zzzz)" in run.stdout


def test_vendored_htmx_without_advisories_passes(registry, vendored):
    registry.routes[("POST", BULK)] = (200, {})

    run = run_audit(base_url(registry), "--vendored-root", vendored)

    assert run.returncode == 0, run.stdout
    assert "npm: 1 of 1 packages looked up (npm bulk advisories data)" in run.stdout


def test_a_refused_npm_endpoint_is_not_performed_while_pypi_is_audited(registry, vendored, requirements):
    """From the build machine the bulk endpoint answers 405 (only GET passes); PyPI still counts."""
    registry.routes[("POST", BULK)] = (405, {})
    registry.routes[("GET", "/pypi/wrapt/2.5.2/json")] = (200, {"vulnerabilities": []})

    run = run_audit(base_url(registry), "--requirements", requirements("wrapt==2.5.2"), "--vendored-root", vendored)

    assert run.returncode == 0, run.stdout
    assert "*** audit NOT performed for npm (1 packages:" in run.stdout
    assert "answered HTTP 405" in run.stdout
    assert "PyPI: no known vulnerabilities; the rest: audit NOT performed." in run.stdout
    assert (
        run_audit(
            base_url(registry),
            "--requirements",
            requirements("wrapt==2.5.2"),
            "--vendored-root",
            vendored,
            required=True,
        ).returncode
        == 1
    )


def test_a_backported_fix_on_an_older_series_does_not_clear_a_newer_pin(registry, requirements):
    registry.routes[("GET", "/pypi/django/json")] = (
        200,
        project("5.2.1", ["4.2.20", "5.0.1", "5.2.1"], [vuln("PYSEC-BACKPORTED", fixed_in=["4.2.20"])]),
    )

    run = run_audit(base_url(registry), "--requirements", requirements("Django==5.0.1"))

    assert run.returncode == 1, run.stdout
    assert "VULNERABLE Django 5.0.1: PYSEC-BACKPORTED; fixed in 4.2.20" in run.stdout
