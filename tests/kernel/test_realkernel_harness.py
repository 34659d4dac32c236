"""The user-mode-linux harness's host-side logic (no guest is booted here; run_suite.py does that)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import run_suite
import uml_boot

UML_DIR = Path(__file__).resolve().parent / "uml"


def test_junit_counts_every_case_and_xfail_is_no_skip() -> None:
    xml = (
        b'<?xml version="1.0"?><testsuites><testsuite name="pytest" tests="6">'
        b'<testcase name="a"/><testcase name="b"><failure message="x"/></testcase>'
        b'<testcase name="c"><error message="e"/></testcase>'
        b'<testcase name="d"><skipped type="pytest.skip" message="no PF_KEY"/></testcase>'
        b'<testcase name="e"><skipped type="pytest.xfail" message="known"/></testcase>'
        b'<testcase name="f"/></testsuite></testsuites>'
    )
    assert run_suite.junit_counts(xml) == (6, 1, 1, 1)
    assert run_suite.junit_counts(b'<testsuite name="pytest" tests="0"/>') == (0, 0, 0, 0)


def test_inner_command_runs_the_marked_suite_with_the_project_venv() -> None:
    cmd = run_suite.inner_command(Path("/p/roj"), ["-k", "it's"])
    assert "'/p/roj/.venv/bin/python' -m pytest -m kernel tests/kernel" in cmd
    assert "-p no:cacheprovider" in cmd and '--junitxml="$SETKEY_TUI_UML_RESULTS/junit.xml"' in cmd
    assert cmd.endswith("'-k' 'it'\\''s'")
    bash = shutil.which("bash")
    assert bash is not None
    echoed = subprocess.run([bash, "-c", "printf '%s\\n' " + cmd.rsplit(" ", 2)[-1]], capture_output=True, text=True)
    assert echoed.stdout == "it's\n"


def test_missing_uml_is_a_loud_skip(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(run_suite, "find_uml", lambda: None)
    monkeypatch.setattr(run_suite, "try_install", lambda: "not root, cannot apt-get install user-mode-linux")
    monkeypatch.delenv("CI", raising=False)
    assert run_suite.main([]) == 0
    out = capsys.readouterr().out
    assert "SKIPPED: real-kernel suite (user-mode-linux is not installed and could not be: not root" in out


def test_missing_uml_fails_under_ci(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(run_suite, "find_uml", lambda: None)
    monkeypatch.setattr(run_suite, "try_install", lambda: "no apt-get on this system")
    monkeypatch.setenv("CI", "1")
    assert run_suite.main([]) == 1
    captured = capsys.readouterr()
    assert "SKIPPED: real-kernel suite" in captured.out and "CI is set" in captured.err


@pytest.mark.parametrize(
    ("junit", "status", "expected"),
    [
        (b'<testsuite><testcase name="a"/><testcase name="b"/></testsuite>', 0, 0),
        (b'<testsuite><testcase name="a"><failure/></testcase></testsuite>', 1, 1),
        (b'<testsuite><testcase name="a"/><testcase name="b"><skipped/></testcase></testsuite>', 0, 1),
        (b'<testsuite tests="0"/>', 5, 1),
        (None, 0, 1),
    ],
    ids=["passed", "failed", "skipped-inside", "nothing-ran", "no-report"],
)
def test_inner_result_decides_the_exit_status(
    monkeypatch: pytest.MonkeyPatch, junit: bytes | None, status: int, expected: int
) -> None:
    def fake_run(command: str, **kw: object) -> uml_boot.UmlRun:
        files = {run_suite.JUNIT: junit} if junit is not None else {}
        return uml_boot.UmlRun(status, "inner output\n", "", 2.0, 3.0, 5.5, "", files)

    monkeypatch.setattr(run_suite, "find_uml", lambda: "/usr/bin/linux.uml")
    monkeypatch.setattr(run_suite, "run_in_uml", fake_run)
    assert run_suite.main([]) == expected


def test_a_guest_failure_is_reported_not_raised(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fake_run(command: str, **kw: object) -> uml_boot.UmlRun:
        raise uml_boot.UmlError("timed out after 600 s: the user-mode-linux guest was killed")

    monkeypatch.setattr(run_suite, "find_uml", lambda: "/usr/bin/linux.uml")
    monkeypatch.setattr(run_suite, "run_in_uml", fake_run)
    assert run_suite.main([]) == 1
    assert "error: real-kernel suite: timed out after 600 s" in capsys.readouterr().err


def test_init_script_is_valid_bash() -> None:
    bash = shutil.which("bash")
    assert bash is not None
    checked = subprocess.run([bash, "-n", str(UML_DIR / "init.sh")], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
