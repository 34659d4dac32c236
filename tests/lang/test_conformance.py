"""Every case of tests/data/inputs.jsonl: exit status, stdout, setkey's stderr lines, the messages sent."""

from __future__ import annotations

import pytest

from tests.lang.conftest import load_cases, run

CASES = load_cases("inputs.jsonl")
# Deliberate improvement (docs/compatibility.md): setkey silently truncates these SPIs; we refuse them.
SPI_TOO_BIG = {"spi-0x100000000", "spi-4294967296"}


def _mask_pid(data: bytes) -> bytes:
    return data[:12] + b"\0\0\0\0" + data[16:]


def test_the_data_is_all_there() -> None:
    assert len(CASES) == 137


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case(case: dict) -> None:
    args = case["args"]
    r = run(case["input"], stdin_mode=case["mode"] == "c", verbose="-v" in args, kernel_mode="-k" in args,
            no_action="-n" in args)
    assert r.kernel is not None
    assert r.kernel.sent[0].hex() == case["register"]
    if case["id"] in SPI_TOO_BIG:
        token = case["input"].split()[4]
        assert r.status == 1
        assert r.out == f"line 1: SPI too big. at [{token}]\nparse failed, line 1.\n"
        assert r.sent == []
        return
    assert r.status == case["exit_code"]
    assert r.out == case["stdout"]
    err_lines = r.err.splitlines()
    for line in case["stderr"].splitlines():
        assert line in err_lines
    assert [_mask_pid(m) for m in r.sent] == [_mask_pid(bytes.fromhex(h)) for h in case["messages"]]
    if not case["accepted"] and case["stdout"].startswith("line ") and case["exit_code"] == 1:
        assert "^" in r.err  # the caret picture under the offending token


def test_the_stand_in_is_a_transport() -> None:
    from setkey_tui.kernel.base import Transport
    from tests.lang.standin import StandInKernel

    assert isinstance(StandInKernel(), Transport)
