"""The simulated kernel never breaks on what a socket sends: every request setkey sends
(tests/data/inputs.jsonl) and mutated or garbage bytes get an answer or a refusal, never an exception."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from setkey_tui.kernel.sim.kernel import Refused, SimKernel
from setkey_tui.pfkey.message import decode
from setkey_tui.pfkey.platform import LINUX

DATA = Path(__file__).resolve().parents[1] / "data"


def _requests() -> list[bytes]:
    out = []
    for line in (DATA / "inputs.jsonl").read_text().splitlines():
        case = json.loads(line)
        out += [bytes.fromhex(h) for h in case.get("messages") or []]
    return out


REQUESTS = _requests()


def _answer(kernel: SimKernel, sid: int, data: bytes) -> list[bytes]:
    try:
        return [d for s, d in kernel.handle(sid, data) if s == sid]
    except Refused as exc:
        assert exc.errno > 0
        return []


def test_every_recorded_setkey_request_gets_exactly_one_well_formed_answer() -> None:
    assert len(REQUESTS) >= 100
    kernel = SimKernel(seed=5)
    sid = kernel.open_socket()
    for data in REQUESTS:
        req = decode(data, LINUX)
        got = [decode(d, LINUX) for d in _answer(kernel, sid, data)]
        assert got, f"no answer to {req.type_name}"
        assert all(m.type == req.type for m in got), req.type_name
        if req.type in (9, 19):  # flushes: the unicast answer, then the broadcast when something went
            assert len(got) in (1, 2)
        elif req.type in (10, 18):  # dumps
            assert got[-1].seq == 0
        else:
            assert len(got) == 1, req.type_name


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(REQUESTS), st.lists(st.tuples(st.integers(0, 4000), st.integers(0, 255)), max_size=6))
def test_mutated_requests_never_raise(data: bytes, flips: list[tuple[int, int]]) -> None:
    buf = bytearray(data)
    for pos, value in flips:
        if pos < len(buf):
            buf[pos] = value
    kernel = SimKernel(seed=1)
    sid = kernel.open_socket()
    for answer in _answer(kernel, sid, bytes(buf)):
        decode(answer, LINUX)  # whatever the kernel sends back is well formed


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_garbage_never_raises(data: bytes) -> None:
    kernel = SimKernel()
    sid = kernel.open_socket()
    for answer in _answer(kernel, sid, data):
        decode(answer, LINUX)
