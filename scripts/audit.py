"""Known vulnerabilities in the pinned dependencies, looked up in PyPI's JSON API and the npm registry.

    python scripts/audit.py [--requirements FILE]... [--dev-requirements FILE]... [--vendored-root DIR]
                            [--installed]

Every pin (``name==version``) is looked up on its own, so a package's answer never hides another's:

1. PyPI's release JSON, ``/pypi/<name>/<version>/json``: the advisories of exactly the pinned release
   (the data pip-audit's "pypi" service reads).
2. When that answers 404 (as it does from the build machine), PyPI's project JSON, ``/pypi/<name>/json``,
   whose ``vulnerabilities`` list is the one of the *latest* release only. A pin equal to the latest
   release is audited against it in full. An older pin is not: advisories fixed between it and the latest
   release are absent from that list, so the pin is reported NOT AUDITED (and any advisory still open in
   the latest release with no fix at or below the pin, in the pin's own release series, is reported
   against it as well).
3. Vendored npm packages (htmx in static/vendor) through the registry's bulk advisory endpoint,
   ``POST /-/npm/v1/security/advisories/bulk`` (the one ``npm audit`` uses).

Exit 1 on any known vulnerability, and when a source answered for some packages but not others (a
package that could not be looked up is not a clean package). A source that answered for none of its
packages (no network, or an endpoint refused from here), and a pin older than its latest release where
only the project JSON answers, are reported loudly as NOT performed; that alone exits 0 unless
AUDIT_REQUIRED=1 (an upstream release must not fail every build by itself; a known advisory always does). AUDIT_PYPI_URL and AUDIT_NPM_URL replace the two base URLs.
"""

import argparse
import importlib.metadata
import json
import os
import re
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parent.parent
PYPI_URL = os.environ.get("AUDIT_PYPI_URL", "https://pypi.org").rstrip("/")
NPM_URL = os.environ.get("AUDIT_NPM_URL", "https://registry.npmjs.org").rstrip("/")
TIMEOUT = 20
ATTEMPTS = 2  # one retry on a dropped connection or a 5xx: 90 lookups over a flaky link
USER_AGENT = "supermarket-dependency-audit (scripts/audit.py)"

# Files copied from npm packages into static/: (npm name, file, pattern capturing its version).
VENDORED = [("htmx.org", "static/vendor/htmx/htmx.min.js", r'version:\s*"([^"]+)"')]


@dataclass
class Pin:
    ecosystem: str  # "PyPI" or "npm": the source that answers for it
    name: str
    version: str
    origin: str  # file:line the pin was read from
    problem: str = ""  # why it cannot be looked up at all (not pinned exactly, version unreadable)


@dataclass
class Advisory:
    id: str
    aliases: list[str]
    fixed_in: list[str]
    text: str


@dataclass
class Outcome:
    pin: Pin
    advisories: list[Advisory] = field(default_factory=list)
    not_audited: str = ""  # non-empty: this pin was not (fully) audited, and why
    behind: bool = False  # not audited only because a newer release exists (a warning unless AUDIT_REQUIRED=1)
    looked_up: bool = False  # the source answered for this package
    basis: str = ""


class LookupFailed(Exception):
    pass


class NotFound(LookupFailed):
    pass


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_requirements(path: Path, skip: set[Path]) -> list[Pin]:
    """The pins of a requirements file; `-r` includes are followed unless audited as their own section."""
    pins = []
    logical: list[tuple[int, str]] = []
    pending = ""
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = re.sub(r"(^|\s)#.*", "", raw).strip()
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = (pending + line).strip(), ""
        if line:
            logical.append((number, line))
    for number, line in logical:
        origin = f"{path.name}:{number}"
        include = re.fullmatch(r"(?:-r|--requirement)[=\s]*(\S+)", line)
        if include:
            target = (path.parent / include.group(1)).resolve()
            if target not in skip:
                pins += read_requirements(target, skip | {target})
            continue
        if line.startswith("-e") or line.startswith("--editable"):
            pins.append(Pin("PyPI", line, "", origin, problem="editable install, no released version"))
            continue
        if line.startswith("-"):
            continue  # index and hash options
        line = re.sub(r"\s--hash[= ]\S+", "", line)
        try:
            requirement = Requirement(line)
        except InvalidRequirement as error:
            pins.append(Pin("PyPI", line, "", origin, problem=f"unreadable requirement ({error})"))
            continue
        specs = list(requirement.specifier)
        if requirement.url or len(specs) != 1 or specs[0].operator not in ("==", "===") or "*" in specs[0].version:
            pins.append(Pin("PyPI", requirement.name, str(requirement.specifier), origin, problem="not pinned with =="))
            continue
        pins.append(Pin("PyPI", requirement.name, specs[0].version, origin))
    return pins


def vendored_pins(root: Path) -> list[Pin]:
    pins = []
    for name, relative, pattern in VENDORED:
        path = root / relative
        found = re.search(pattern, path.read_text(errors="replace")) if path.exists() else None
        if found:
            pins.append(Pin("npm", name, found.group(1), relative))
        else:
            pins.append(Pin("npm", name, "", relative, problem="vendored file or its version string not found"))
    return pins


def installed_unpinned(pinned: set[str]) -> list[Pin]:
    """Distributions in this interpreter's environment that no requirements file pins (pip itself)."""
    found = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name and normalized(name) not in pinned:
            found[normalized(name)] = Pin("PyPI", name, dist.version, "installed in " + sys.prefix)
    return sorted(found.values(), key=lambda pin: pin.name.lower())


def http_json(url: str, body: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    if data is not None:
        headers["Content-Type"] = "application/json"
    for attempt in range(1, ATTEMPTS + 1):
        request = urllib.request.Request(url, data=data, headers=headers, method="POST" if data else "GET")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                payload = response.read()
        except urllib.error.HTTPError as error:
            if error.code == 404:
                raise NotFound(f"{url} answered 404") from error
            if error.code < 500 or attempt == ATTEMPTS:
                raise LookupFailed(f"{url} answered HTTP {error.code}") from error
            continue
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            if attempt == ATTEMPTS:
                reason = getattr(error, "reason", error)
                raise LookupFailed(f"{url} unreachable ({reason})") from error
            continue
        try:
            return json.loads(payload)
        except ValueError as error:
            raise LookupFailed(f"{url} did not answer JSON") from error
    raise AssertionError("unreachable")


def pypi_advisories(entries) -> list[Advisory]:
    """PyPI's vulnerability entries, withdrawn ones dropped and aliases of one another merged."""
    if not isinstance(entries, list):
        raise LookupFailed("PyPI answered without a vulnerabilities list")
    advisories, seen = [], set()
    for entry in entries:
        if entry.get("withdrawn"):
            continue
        ids = {entry["id"], *(entry.get("aliases") or [])}
        if ids & seen:
            continue
        seen |= ids
        text = entry.get("summary") or (entry.get("details") or "").strip().split("\n")[0]
        advisories.append(
            Advisory(entry["id"], sorted(entry.get("aliases") or []), entry.get("fixed_in") or [], text[:160])
        )
    return advisories


def fixed_at_or_below(pinned: Version, fixed_in: list[str]) -> bool:
    """A fix released in the pin's own series (major.minor) at or below it; a fix on an older series is a
    backport that says nothing about a newer series."""
    for fixed in fixed_in:
        try:
            version = Version(fixed)
        except InvalidVersion:
            continue
        if version.release[:2] == pinned.release[:2] and version <= pinned:
            return True
    return False


def audit_pypi(pin: Pin) -> Outcome:
    outcome = Outcome(pin)
    name = normalized(pin.name)
    try:
        release = http_json(f"{PYPI_URL}/pypi/{name}/{pin.version}/json")
        outcome.advisories = pypi_advisories(release.get("vulnerabilities"))
        outcome.looked_up, outcome.basis = True, "release"
        return outcome
    except NotFound:
        pass  # the build machine's case: fall back on the project JSON
    except LookupFailed as error:
        outcome.not_audited = str(error)
        return outcome
    try:
        project = http_json(f"{PYPI_URL}/pypi/{name}/json")
        latest = Version(project["info"]["version"])
        releases = {Version(v) for v in project.get("releases", {}) if _is_version(v)}
        advisories = pypi_advisories(project.get("vulnerabilities"))
    except NotFound:
        outcome.not_audited = f"no project {pin.name!r} on PyPI"
        return outcome
    except (LookupFailed, KeyError, TypeError, InvalidVersion) as error:
        outcome.not_audited = str(error) or f"unexpected project JSON ({error!r})"
        return outcome
    outcome.looked_up = True
    try:
        pinned = Version(pin.version)
    except InvalidVersion:
        outcome.not_audited = f"version {pin.version!r} is not a PEP 440 version"
        return outcome
    if pinned not in releases:
        outcome.not_audited = f"version {pin.version} is not published on PyPI"
    elif pinned == latest:
        outcome.advisories, outcome.basis = advisories, "latest release"
    elif pinned > latest:
        outcome.not_audited = f"pinned above the latest release {latest}: no advisory data for it"
    else:
        outcome.advisories = [a for a in advisories if not fixed_at_or_below(pinned, a.fixed_in)]
        outcome.behind = True
        outcome.not_audited = (
            f"older than the latest release {latest}; PyPI's project data lists only the latest release's "
            "advisories, so any fixed since this pin are unknown here (pin the latest release)"
        )
    return outcome


def _is_version(text: str) -> bool:
    try:
        Version(text)
    except InvalidVersion:
        return False
    return True


def audit_npm(pins: list[Pin]) -> list[Outcome]:
    outcomes = [Outcome(pin) for pin in pins]
    if not pins:
        return outcomes
    query: dict[str, list[str]] = {}
    for pin in pins:
        query.setdefault(pin.name, []).append(pin.version)
    try:
        answer = http_json(f"{NPM_URL}/-/npm/v1/security/advisories/bulk", body=query)
        if not isinstance(answer, dict):
            raise LookupFailed("the npm advisory endpoint answered something other than an object")
    except LookupFailed as error:
        for outcome in outcomes:
            outcome.not_audited = str(error)
        return outcomes
    for outcome in outcomes:
        outcome.looked_up, outcome.basis = True, "npm bulk advisories"
        # One version asked per name, so every advisory returned for the name is one affecting it.
        for entry in answer.get(outcome.pin.name) or []:
            ids = [str(entry.get("id"))] + ([entry["url"]] if entry.get("url") else [])
            outcome.advisories.append(
                Advisory(ids[0], ids[1:], [], f"{entry.get('severity', '')}: {entry.get('title', '')}")
            )
    return outcomes


def audit(pins: list[Pin]) -> list[Outcome]:
    lookable = [pin for pin in pins if not pin.problem]
    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(audit_pypi, [pin for pin in lookable if pin.ecosystem == "PyPI"]))
    outcomes += audit_npm([pin for pin in lookable if pin.ecosystem == "npm"])
    outcomes += [Outcome(pin, not_audited=pin.problem) for pin in pins if pin.problem]
    return outcomes


def report(sections: list[tuple[str, list[Pin]]], outcomes: list[Outcome]) -> int:
    by_pin = {id(outcome.pin): outcome for outcome in outcomes}
    vulnerable = [o for o in outcomes if o.advisories]
    for title, pins in sections:
        done = [by_pin[id(pin)] for pin in pins]
        clean = sum(1 for o in done if not o.advisories and not o.not_audited)
        print(f"{title}: {len(pins)} packages, {clean} audited with no known vulnerability")
        for outcome in done:
            pin = outcome.pin
            for advisory in outcome.advisories:
                aliases = f" ({', '.join(advisory.aliases)})" if advisory.aliases else ""
                fixed = f"; fixed in {', '.join(advisory.fixed_in)}" if advisory.fixed_in else "; no fix released"
                print(f"  VULNERABLE {pin.name} {pin.version}: {advisory.id}{aliases}{fixed} - {advisory.text}")
            if outcome.not_audited:
                print(f"  NOT AUDITED {pin.name} {pin.version or ''} [{pin.origin}]: {outcome.not_audited}")
    # A pin that cannot be looked up at all is a defect of the files, whatever the network does.
    unlookable = [o for o in outcomes if o.pin.problem]
    failing = [f"{len(unlookable)} requirement(s) not pinned to a release"] if unlookable else []
    not_performed = []
    for ecosystem in sorted({o.pin.ecosystem for o in outcomes if not o.pin.problem}):
        mine = [o for o in outcomes if o.pin.ecosystem == ecosystem and not o.pin.problem]
        answered = [o for o in mine if o.looked_up]
        incomplete = [o for o in mine if o.not_audited and not o.behind]
        behind = [o for o in mine if o.behind]
        if not answered:
            not_performed.append(f"{ecosystem} ({len(mine)} packages: {mine[0].not_audited})")
        elif incomplete:
            failing.append(f"{ecosystem}: {len(incomplete)} of {len(mine)} packages not audited")
        if behind:
            # A new upstream release must not turn every build red by itself; a known advisory still does.
            (failing if os.environ.get("AUDIT_REQUIRED") == "1" else not_performed).append(
                f"{ecosystem}: {len(behind)} pin(s) older than their latest release, not fully audited"
            )
        bases = sorted({o.basis for o in answered if o.basis})
        print(
            f"{ecosystem}: {len(answered)} of {len(mine)} packages looked up"
            + (f" ({', '.join(bases)} data)" if bases else "")
        )
    for line in not_performed:
        print(f"*** audit NOT performed for {line} ***")
    if vulnerable:
        print(f"FAILED: known vulnerabilities in {len(vulnerable)} package(s).")
        return 1
    if failing:
        print("FAILED: " + "; ".join(failing) + ".")
        return 1
    if not_performed:
        required = os.environ.get("AUDIT_REQUIRED") == "1"
        performed = sorted({o.pin.ecosystem for o in outcomes if o.looked_up})
        verdict = "audit NOT performed"
        if performed:
            verdict = f"{', '.join(performed)}: no known vulnerabilities; the rest: audit NOT performed"
        print(verdict + (" and AUDIT_REQUIRED=1: failing." if required else "."))
        return 1 if required else 0
    print("No known vulnerabilities.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requirements", action="append", type=Path, help="runtime pins (requirements.txt)")
    parser.add_argument("--dev-requirements", action="append", type=Path, help="tooling pins (requirements-dev.txt)")
    parser.add_argument("--vendored-root", type=Path, help=f"look for {', '.join(v[1] for v in VENDORED)} here")
    parser.add_argument("--installed", action="store_true", help="also audit this environment's unpinned packages")
    args = parser.parse_args(argv)
    runtime_files = args.requirements or []
    dev_files = args.dev_requirements or []
    if not (runtime_files or dev_files or args.vendored_root):
        runtime_files, dev_files, args.vendored_root = (
            [ROOT / "requirements.txt"],
            [ROOT / "requirements-dev.txt"],
            ROOT,
        )
    sections: list[tuple[str, list[Pin]]] = []
    skip: set[Path] = {path.resolve() for path in runtime_files + dev_files}
    seen: set[tuple[str, str]] = set()
    for label, files in (("runtime", runtime_files), ("development", dev_files)):
        for path in files:
            pins = []
            for pin in read_requirements(path, skip):
                key = (normalized(pin.name), pin.version)
                if key not in seen:
                    seen.add(key)
                    pins.append(pin)
            sections.append((f"{label} ({path.name})", pins))
    if args.installed:
        sections.append(("installed, not pinned", installed_unpinned({name for name, _ in seen})))
    if args.vendored_root:
        sections.append(("vendored (static/vendor)", vendored_pins(args.vendored_root)))
    pins = [pin for _, section in sections for pin in section]
    return report(sections, audit(pins))


if __name__ == "__main__":
    sys.exit(main())
