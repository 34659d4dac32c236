"""The bridge's framing (sans-I/O): hello lines, frames in any split, refusals with clear messages."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from setkey_tui import __version__
from setkey_tui.kernel.remote.framing import (
    HEADER,
    MAX_PAYLOAD,
    PROTOCOL,
    Frame,
    FrameDecoder,
    FramingError,
    Hello,
    Kind,
    VersionMismatch,
    check_peer,
    control,
    frame,
    hello,
    parse_hello,
)

frames = st.lists(
    st.tuples(st.integers(0, 2**32 - 1), st.sampled_from(list(Kind)), st.binary(max_size=3000)),
    max_size=20,
)


def _decode_in_pieces(data: bytes, cuts: list[int]) -> list[Hello | Frame]:
    dec = FrameDecoder()
    out: list[Hello | Frame] = []
    last = 0
    for cut in sorted({c % (len(data) + 1) for c in cuts}) + [len(data)]:
        out += dec.feed(data[last:cut])
        last = cut
    assert dec.pending == 0
    return out


@settings(max_examples=200, deadline=None)
@given(frames, st.lists(st.integers(0, 10**6), max_size=30))
def test_frames_survive_any_split(items: list[tuple[int, Kind, bytes]], cuts: list[int]) -> None:
    data = hello() + b"".join(frame(c, k, p) for c, k, p in items)
    got = _decode_in_pieces(data, cuts)
    assert got[0] == Hello(PROTOCOL, __version__)
    assert got[1:] == [Frame(c, k, p) for c, k, p in items]


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32 - 1), st.dictionaries(st.text(max_size=10), st.integers() | st.text(max_size=20)))
def test_control_frames_carry_json_objects(channel: int, obj: dict[str, object]) -> None:
    dec = FrameDecoder()
    (h, f) = dec.feed(hello() + control(channel, Kind.REPLY, obj))
    assert isinstance(f, Frame) and f.channel == channel and f.json() == obj


def test_a_partial_frame_waits_for_the_rest() -> None:
    dec = FrameDecoder()
    data = hello() + frame(7, Kind.MSG, b"x" * 100)
    assert dec.feed(data[:-1]) == [Hello(PROTOCOL, __version__)]
    assert dec.pending == HEADER.size + 99
    assert dec.feed(data[-1:]) == [Frame(7, Kind.MSG, b"x" * 100)]


@pytest.mark.parametrize("garbage", [b"Welcome to gw1!\n", b"\x00\x00\x00\x10abc", b"setkey-tui-bridge x y\n",
                                     b"Last login: Mon"])
def test_anything_else_than_a_hello_is_refused_with_what_it_said(garbage: bytes) -> None:
    with pytest.raises(FramingError, match="not a setkey-tui bridge") as info:
        FrameDecoder().feed(garbage)
    assert "\n" not in str(info.value)


def test_a_hello_line_without_end_is_refused_once_too_long() -> None:
    dec = FrameDecoder()
    assert dec.feed(b"setkey-tui-bridge 1 ") == []
    with pytest.raises(FramingError):
        dec.feed(b"9" * 300)


def test_oversized_and_unknown_frames_are_refused() -> None:
    with pytest.raises(FramingError, match="too big"):
        FrameDecoder().feed(hello() + HEADER.pack(MAX_PAYLOAD + 1, 1, Kind.MSG))
    with pytest.raises(FramingError, match="unknown frame kind 99"):
        FrameDecoder().feed(hello() + HEADER.pack(0, 1, 99))
    with pytest.raises(FramingError, match="too big"):
        frame(1, Kind.MSG, b"\0" * (MAX_PAYLOAD + 1))


def test_a_control_frame_that_is_not_a_json_object_is_refused() -> None:
    with pytest.raises(FramingError, match="not JSON"):
        Frame(1, Kind.REPLY, b"\xff").json()
    with pytest.raises(FramingError, match="not a JSON object"):
        Frame(1, Kind.REPLY, b"[1]").json()


def test_a_peer_of_another_protocol_is_refused_naming_both_versions() -> None:
    peer = parse_hello(b"setkey-tui-bridge 7 9.9.9\n")
    check_peer(Hello(PROTOCOL, "0.0.1"))  # another release of the same protocol is fine
    with pytest.raises(VersionMismatch) as info:
        check_peer(peer, peer_name="the remote", version="0.1.0")
    text = str(info.value)
    assert "9.9.9" in text and "protocol 7" in text and "0.1.0" in text and f"protocol {PROTOCOL}" in text


def test_the_fake_protocol_variable_changes_what_we_announce(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SETKEY_TUI_FAKE_BRIDGE_PROTOCOL", "42")
    assert parse_hello(hello()).protocol == 42
    with pytest.raises(VersionMismatch):
        check_peer(Hello(PROTOCOL, __version__))
