"""Every case of tests/data/monitor.jsonl through ``setkey-tui -x`` fed by a replay file.

Every line must match, except the ``key=`` blocks where the recorded setkey printed the bytes 64 bytes past
the key (the known defect): there we check that the real key bytes are printed.
"""

from __future__ import annotations

import re

import pytest

from setkey_tui.pfkey.extensions import KeyExt
from setkey_tui.pfkey.message import decode
from setkey_tui.pfkey.platform import LINUX
from setkey_tui.render.hexdump import key_hex

from .conftest import load_cases

CASES = load_cases("monitor.jsonl")
KEY_BLOCK = re.compile(r"^  key=[^}]*\}$", re.M)


def _expected_key_blocks(messages: list[str]) -> list[str]:
    blocks = []
    for h in messages:
        msg = decode(bytes.fromhex(h), LINUX)
        for ext in msg.extensions:
            if isinstance(ext, KeyExt):
                blocks.append("  key=" + key_hex(ext.key[: ext.bits // 8]) + " }")
    return blocks


def test_case_count() -> None:
    assert len(CASES) == 170


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_monitor_case(case: dict, run_cli, replay_file) -> None:
    opts = case["options"]
    flags = ["-" + "x" * opts["tflag"]]
    if opts.get("hexdump"):
        flags.append("-H")
    path = replay_file(case["messages"])
    result = run_cli("--kernel", f"replay:{path}", "--platform", "linux", *flags)
    assert result.rc == 0
    assert result.err == ""
    assert KEY_BLOCK.sub("KEY", result.out) == KEY_BLOCK.sub("KEY", case["stdout"])
    assert KEY_BLOCK.findall(result.out) == _expected_key_blocks(case["messages"])


def test_defect_cases_exist() -> None:
    """The data does contain key lines that differ from the real key (so the check above matters)."""
    differing = 0
    for case in CASES:
        recorded = KEY_BLOCK.findall(case["stdout"])
        if recorded != _expected_key_blocks(case["messages"]):
            differing += 1
    assert differing > 0
