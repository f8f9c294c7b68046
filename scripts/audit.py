"""Dependency audit of requirements.txt with pip-audit.

Exit 1 when a known vulnerability is found, or when only some packages could be looked up.
When no package at all could be looked up (no vulnerability service reachable from this machine)
the audit is reported loudly as NOT performed and exits 0, unless AUDIT_REQUIRED=1.
"""

import json
import os
import subprocess
import sys
from pathlib import Path


def main() -> int:
    bin_dir = Path(sys.argv[1] if len(sys.argv) > 1 else ".venv/bin")
    service = os.environ.get("PIP_AUDIT_SERVICE", "pypi")
    run = subprocess.run(
        [
            bin_dir / "pip-audit",
            "-r",
            "requirements.txt",
            "--format",
            "json",
            "--progress-spinner",
            "off",
            "--vulnerability-service",
            service,
        ],
        capture_output=True,
        text=True,
    )
    try:
        report = json.loads(run.stdout)
    except json.JSONDecodeError:
        print(run.stdout, run.stderr, sep="\n", file=sys.stderr)
        return run.returncode or 1
    dependencies = report.get("dependencies", [])
    vulnerable = [d for d in dependencies if d.get("vulns")]
    skipped = [d for d in dependencies if d.get("skip_reason")]
    audited = len(dependencies) - len(skipped)
    for dep in vulnerable:
        ids = ", ".join(v["id"] for v in dep["vulns"])
        print(f"VULNERABLE {dep['name']} {dep['version']}: {ids}", file=sys.stderr)
    if vulnerable:
        return 1
    if dependencies and audited == 0:
        print(
            f"pip-audit: the {service} vulnerability service answered for none of the {len(dependencies)} packages "
            f"({skipped[0]['skip_reason']}): audit NOT performed.",
            file=sys.stderr,
        )
        return 1 if os.environ.get("AUDIT_REQUIRED") == "1" else 0
    if skipped:
        for dep in skipped:
            print(f"NOT AUDITED {dep['name']} {dep['version']}: {dep['skip_reason']}", file=sys.stderr)
        return 1
    print(f"pip-audit: {audited} packages audited, no known vulnerabilities.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
