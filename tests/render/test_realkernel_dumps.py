"""The real kernel's dump replies (tests/data/realkernel.jsonl) through ``-D``/``-D -a``/``-D -p``/``-DP``.

Everything that comes from the messages must match what the real setkey printed; only the clock of the
recording run (``current:``, ``diff:``) and the requesting pids (each setkey run had its own) are normalised.
"""

from __future__ import annotations

import re

import pytest

from .conftest import load_cases

CASES = load_cases("realkernel.jsonl")
_CURRENT = re.compile(r"\tcurrent: [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}\n")


def normalise(text: str) -> str:
    """Drop the run's clock and pids."""
    text = _CURRENT.sub("\tcurrent: NOW\n", text)
    text = re.sub(r"\tdiff: \d+\(s\)", "\tdiff: N(s)", text)
    return re.sub(r"pid=\d+", "pid=P", text)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
@pytest.mark.parametrize(("key", "flags", "field"), [
    ("D", ["-D"], "dump_hex"), ("Da", ["-D", "-a"], "dump_hex"), ("Dp", ["-D", "-p"], "dump_hex"),
    ("DP", ["-DP"], "spddump_hex")])
def test_real_kernel_dump(case: dict, key: str, flags: list[str], field: str, run_cli, replay_file) -> None:
    path = replay_file(case[field])
    result = run_cli("--kernel", f"replay:{path}", "--platform", "linux", *flags)
    assert result.rc == 0
    assert normalise(result.out) == normalise(case[key]["stdout"])
