"""Run the real-kernel test suite (pytest marker `kernel`) inside one user-mode-linux boot.

Usage: python tests/kernel/uml/run_suite.py [--timeout SECONDS] [--keep] [PYTEST ARGS...]

Prints the inner pytest output as it arrives, then the boot and suite times, and exits with the inner pytest
status.  The run fails when the inner suite skipped a test or ran none (the guest has PF_KEY, so nothing may
skip there).  Without user-mode-linux it tries `apt-get install` (root on Debian/Ubuntu); if that is not
possible it prints a loud SKIPPED line and exits 0, or 1 when the CI environment variable is set.
"""

from __future__ import annotations

import argparse
import os
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from uml_boot import UmlError, find_uml, run_in_uml, try_install  # noqa: E402

PROJECT = Path(__file__).resolve().parents[3]
JUNIT = "junit.xml"


def inner_command(project: Path, pytest_args: list[str]) -> str:
    """The bash command the guest runs: the marked suite with the project's virtualenv."""
    extra = " ".join(_quote(a) for a in pytest_args)
    return (
        f"cd {_quote(str(project))} && export PYTHONDONTWRITEBYTECODE=1 SETKEY_TUI_REAL_KERNEL=1 && "
        f"exec {_quote(str(project / '.venv/bin/python'))} -m pytest -m kernel tests/kernel -q "
        f'-p no:cacheprovider -rfEs --junitxml="$SETKEY_TUI_UML_RESULTS/{JUNIT}" {extra}'
    )


def _quote(word: str) -> str:
    return "'" + word.replace("'", "'\\''") + "'"


def junit_counts(xml_bytes: bytes) -> tuple[int, int, int, int]:
    """(tests, failures, errors, skipped) over every test case of a JUnit XML report (xfails are not skips)."""
    root = ET.fromstring(xml_bytes)
    tests = failures = errors = skipped = 0
    for case in root.iter("testcase"):
        tests += 1
        failures += case.find("failure") is not None
        errors += case.find("error") is not None
        skip = case.find("skipped")
        skipped += skip is not None and skip.get("type") != "pytest.xfail"
    return tests, failures, errors, skipped


def skip_or_fail(reason: str) -> int:
    """No real kernel available: a loud skip, or a failure under CI."""
    line = f"SKIPPED: real-kernel suite ({reason})"
    bar = "*" * len(line)
    print(f"{bar}\n{line}\n{bar}", flush=True)
    if os.environ.get("CI"):
        print("CI is set: a skipped real-kernel suite is a failure.", file=sys.stderr)
        return 1
    return 0


def _echo(chunk: bytes) -> None:
    sys.stdout.buffer.write(chunk)
    sys.stdout.buffer.flush()


def main(argv: list[str] | None = None) -> int:
    """Boot, run the marked suite inside, report; the exit status is the inner pytest's (or 1)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=600.0, help="kill the guest after this many seconds")
    parser.add_argument("--keep", action="store_true", help="keep the shared results folder (for debugging)")
    args, pytest_args = parser.parse_known_args(argv)
    uml = find_uml()
    if uml is None:
        note = try_install()
        uml = find_uml()
        if uml is None:
            return skip_or_fail(f"user-mode-linux is not installed and could not be: {note}")
    python = PROJECT / ".venv/bin/python"
    if not python.exists():
        print(f"error: {python} is missing: create the project's virtualenv first", file=sys.stderr)
        return 1
    print(f"real-kernel suite: booting {uml} (timeout {args.timeout:.0f} s)", flush=True)
    try:
        run = run_in_uml(
            inner_command(PROJECT, pytest_args),
            uml=uml,
            timeout=args.timeout,
            echo_stdout=_echo,
            keep_results=args.keep,
            collect=(JUNIT,),
            share=(PROJECT,),
        )
    except UmlError as exc:
        print(f"\nerror: real-kernel suite: {exc}", file=sys.stderr)
        return 1
    if run.stderr.strip():
        sys.stderr.write(run.stderr)
    print(
        f"\nreal-kernel suite: boot {run.boot_seconds:.1f} s, suite {run.command_seconds:.1f} s, "
        f"total {run.total_seconds:.1f} s (inner pytest status {run.status})",
        flush=True,
    )
    if JUNIT not in run.files:
        print("error: the inner pytest wrote no report; see its output above", file=sys.stderr)
        return run.status or 1
    tests, failures, errors, skipped = junit_counts(run.files[JUNIT])
    if tests == 0:
        print("error: the inner run collected no `kernel` test", file=sys.stderr)
        return 1
    if skipped:
        print(
            f"error: {skipped} test(s) skipped inside the real kernel, where none may skip", file=sys.stderr
        )
        return run.status or 1
    return run.status


if __name__ == "__main__":
    sys.exit(main())
