"""Every case of tests/data/dump.jsonl through the CLI (``--kernel replay:FILE``): stdout byte for byte."""

from __future__ import annotations

import errno

import pytest

from setkey_tui.pfkey.constants import MsgType
from setkey_tui.pfkey.message import header_only
from setkey_tui.pfkey.platform import LINUX

from .conftest import load_cases

CASES = load_cases("dump.jsonl")
# The recorded setkey crashed (SIGSEGV, exit -11, stdout lost) on these: not reproduced, checked below.
CRASHED = [c for c in CASES if c["exit_code"] != 0]
NORMAL = [c for c in CASES if c["exit_code"] == 0]


def _flags(options: dict) -> list[str]:
    flags = ["-D"]
    if options.get("policy"):
        flags.append("-P")
    if options.get("withports"):
        flags.append("-p")
    if options.get("all_"):
        flags.append("-a")
    return flags


def _replies(case: dict) -> list[str]:
    if case["replies"]:
        return case["replies"]
    # An empty kernel answers the dump with ENOENT, as the recording's stand-in kernel did.
    mtype = MsgType.X_SPDDUMP if case["options"].get("policy") else MsgType.DUMP
    return [header_only(mtype, errno=errno.ENOENT, pid=4242).encode(LINUX).hex()]


def test_case_count() -> None:
    assert len(CASES) == 296


@pytest.mark.parametrize("case", NORMAL, ids=[c["id"] for c in NORMAL])
def test_dump_case(case: dict, run_cli, replay_file) -> None:
    path = replay_file(_replies(case))
    result = run_cli("--kernel", f"replay:{path}", "--platform", "linux", *_flags(case["options"]))
    assert result.out == case["stdout"]
    assert result.err == case["stderr"]
    assert result.rc == case["exit_code"]


@pytest.mark.parametrize("case", CRASHED, ids=[c["id"] for c in CRASHED])
def test_recorded_crash_is_not_reproduced(case: dict, run_cli, replay_file) -> None:
    """A header-only SPDDUMP reply after a policy: setkey crashed here; we print the policy, then nothing for
    the bare header (what setkey prints for one, recorded elsewhere: issue 10 item 14)."""
    path = replay_file(_replies(case))
    result = run_cli("--kernel", f"replay:{path}", "--platform", "linux", *_flags(case["options"]))
    assert result.rc == 0
    first, second = result.out.split("refcnt=0\n")
    assert first.startswith("10.0.0.0/24[any] 10.0.1.0/24[any] 255\n\tout prio def ipsec\n\tesp/tunnel/")
    assert first.endswith("\tah/transport//use\n\tspid=0 seq=1 pid=4242\n\t")
    assert second == ""
