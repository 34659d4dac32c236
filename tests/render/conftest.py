"""Shared fixtures: the recorded clock (1700000000, TZ=UTC) and a way to run the CLI in-process."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from setkey_tui.cli import main

DATA = Path(__file__).resolve().parent.parent / "data"
NOW = 1700000000


def load_cases(name: str) -> list[dict]:
    """The cases of one tests/data JSON Lines file."""
    with open(DATA / name, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


@pytest.fixture(autouse=True)
def recorded_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """TZ=UTC and SETKEY_TUI_NOW=1700000000 for every test, as in the recordings."""
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.setenv("SETKEY_TUI_NOW", str(NOW))
    monkeypatch.delenv("SETKEY_TUI_KERNEL", raising=False)
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@dataclass
class CliResult:
    """Exit status and captured output of one CLI run."""

    rc: int
    out: str
    err: str


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run ``setkey_tui.cli.main(argv)`` and capture what it prints."""

    def run(*argv: str) -> CliResult:
        capsys.readouterr()
        rc = main(list(argv))
        captured = capsys.readouterr()
        return CliResult(rc, captured.out, captured.err)

    return run


@pytest.fixture
def replay_file(tmp_path: Path) -> Callable[..., Path]:
    """Write hex messages (optionally with times) as a replay file and return its path."""
    counter = [0]

    def write(messages: list[str] | list[bytes], times: list[float] | None = None) -> Path:
        counter[0] += 1
        path = tmp_path / f"replay{counter[0]}.hex"
        lines = []
        for i, m in enumerate(messages):
            hexed = m.hex() if isinstance(m, bytes) else m
            lines.append(f"{times[i]:.6f} {hexed}" if times else hexed)
        path.write_text("\n".join(lines) + "\n", encoding="ascii")
        return path

    return write
