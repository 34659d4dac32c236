"""The replay transport: file format, errors naming the line, reply grouping, promiscuous order, times."""

from __future__ import annotations

import errno

import pytest
from hypothesis import given
from hypothesis import strategies as st

from setkey_tui.kernel.base import TransportError
from setkey_tui.kernel.replay import ReplayFormatError, ReplayTransport, format_record, parse_replay
from setkey_tui.pfkey.constants import MsgType
from setkey_tui.pfkey.message import header_only
from setkey_tui.pfkey.platform import LINUX

from .helpers import esp_sa


def _hex(msg) -> str:
    return msg.encode(LINUX).hex()


def test_parse_with_and_without_times() -> None:
    a, b = _hex(esp_sa(seq=1)), _hex(esp_sa(seq=0))
    recs = parse_replay(f"# comment\n\n1700000000.5 {a}\n{b.upper()}\n")
    assert [r.when for r in recs] == [1700000000.5, None]
    assert [r.line for r in recs] == [3, 4]
    assert recs[1].data.hex() == b


@pytest.mark.parametrize(("text", "fragment"), [
    ("zz\n", "line 1: expected hex bytes"),
    ("# c\n0203000\n", "line 2: odd number of hex digits"),
    ("\n\n02030003\n", "line 3: message of 4 bytes is shorter than the 16-byte sadb_msg header"),
    ("1.2.3 0203\n", "line 1: expected hex bytes"),
])
def test_bad_lines_name_the_line(text: str, fragment: str) -> None:
    with pytest.raises(ReplayFormatError) as info:
        parse_replay(text, name="f.hex")
    assert fragment in str(info.value)
    assert str(info.value).startswith("f.hex, line ")


def test_missing_file_is_a_transport_error(tmp_path) -> None:
    with pytest.raises(TransportError, match="cannot read replay file"):
        ReplayTransport(tmp_path / "nope", LINUX)


def test_dump_takes_up_to_seq_zero(replay_file) -> None:
    add = header_only(MsgType.ADD, 3)
    path = replay_file([_hex(add), _hex(esp_sa(seq=2)), _hex(esp_sa(seq=1)), _hex(esp_sa(seq=0)), _hex(add)])
    t = ReplayTransport(path, LINUX)
    t.send(header_only(MsgType.ADD, 3).encode(LINUX))
    assert t.recv(0) == bytes.fromhex(_hex(add))
    assert t.recv(0) is None
    t.send(header_only(MsgType.DUMP).encode(LINUX))
    got = [t.recv(0) for _ in range(4)]
    assert got[3] is None and all(got[:3])
    assert not t.exhausted
    t.send(header_only(MsgType.FLUSH).encode(LINUX))
    assert t.recv(0) is not None and t.exhausted
    assert [m[1] for m in t.sent] == [MsgType.ADD, MsgType.DUMP, MsgType.FLUSH]


def test_dump_stops_at_error_reply(replay_file) -> None:
    err = header_only(MsgType.DUMP, errno=errno.ENOENT, seq=5)
    path = replay_file([_hex(err), _hex(esp_sa(seq=0))])
    t = ReplayTransport(path, LINUX)
    t.send(header_only(MsgType.DUMP).encode(LINUX))
    assert t.recv(0)[2] == errno.ENOENT
    assert t.recv(0) is None


def test_promisc_hands_out_everything_with_times(replay_file) -> None:
    path = replay_file([_hex(esp_sa(seq=3)), _hex(esp_sa(seq=0))], times=[10.25, 11.5])
    t = ReplayTransport(path, LINUX)
    t.set_promisc(True)
    assert t.recv(None) is not None and t.last_time == 10.25
    assert t.recv(None) is not None and t.last_time == 11.5
    assert t.recv(None) is None and t.exhausted
    t.close()
    with pytest.raises(TransportError):
        t.recv(0)


def test_format_record_round_trips() -> None:
    data = esp_sa().encode(LINUX)
    line = format_record(data, 1700000000.123456)
    assert line.startswith("1700000000.123456 ")
    (rec,) = parse_replay(line)
    assert rec.data == data and rec.when == pytest.approx(1700000000.123456)


@pytest.mark.parametrize(
    ("when", "written"),
    [
        (1700000000.9999996, "1700000001.000000"),  # the nearest microsecond is the next second's first
        (1700000000.9999994, "1700000000.999999"),
        (1700000000.0000004, "1700000000.000000"),
        (1700000000.5, "1700000000.500000"),
    ],
)
def test_a_recorded_time_is_the_nearest_microsecond_as_the_monitor_prints_it(when: float, written: str) -> None:
    from setkey_tui.render.timefmt import timestamp_line

    assert format_record(b"\x02\x0b", when) == f"{written} 020b\n"
    assert timestamp_line(when, 2) == f"{written} \n"  # what -xx shows live, and again when replayed


@given(sec=st.integers(0, 2**32 - 1), usec=st.integers(0, 999_999))
def test_a_recorded_time_read_back_is_written_with_the_same_digits(sec: int, usec: int) -> None:
    line = f"{sec}.{usec:06d} {_hex(header_only(MsgType.FLUSH))}\n"
    (rec,) = parse_replay(line)
    assert rec.when is not None and format_record(rec.data, rec.when) == line


def test_an_exhausted_recording_waits_its_timeout_instead_of_spinning(replay_file) -> None:
    import threading
    import time

    from setkey_tui.kernel.replay import ReplayTransport
    from setkey_tui.pfkey.platform import LINUX

    t = ReplayTransport(replay_file([]), LINUX)
    start = time.monotonic()
    assert t.recv(0.2) is None
    assert time.monotonic() - start >= 0.19  # a listener thread polling it sleeps, it does not spin
    threading.Timer(0.1, t.close).start()
    start = time.monotonic()
    assert t.recv(5.0) is None
    assert time.monotonic() - start < 2.0  # close() wakes a waiting recv at once
