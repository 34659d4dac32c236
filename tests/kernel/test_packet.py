"""Packet.parse: the one check of a simulated packet (command line, TUI form, served and remote kernels alike)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from setkey_tui.packet import (
    MAX_COUNT,
    Packet,
    PacketError,
    PacketVerdict,
    Verdict,
    parse_count,
)


@pytest.mark.parametrize(
    ("args", "kw", "field", "message"),
    [
        (("", "10.0.0.1"), {}, "src", "source: (empty) is not an IP address"),
        (("10.0.0.1", "nowhere"), {}, "dst", "destination: nowhere is not an IP address"),
        (("10.0.0.1", "::1"), {}, "dst", "destination: ::1 is IPv6 but the source 10.0.0.1 is IPv4: both must be "
                                         "of one version"),
        (("10.0.0.1", "10.0.0.2", 256), {}, "proto", "protocol: 256 is out of range (0-255)"),
        (("10.0.0.1", "10.0.0.2", "ospf"), {}, "proto",
         "protocol: unknown protocol 'ospf' (any, tcp, udp, icmp, icmp6, gre, sctp or 0-255)"),
        (("10.0.0.1", "10.0.0.2"), {"sport": "-1"}, "sport", "source port: -1 is out of range (0-65535)"),
        (("10.0.0.1", "10.0.0.2"), {"dport": 65536}, "dport", "destination port: 65536 is out of range (0-65535)"),
        (("10.0.0.1", "10.0.0.2"), {"dport": "http"}, "dport", "destination port: 'http' is not a number"),
        (("10.0.0.1", "10.0.0.2"), {"size": 0}, "size", "packet size: 0 is out of range (1-65535)"),
        (("10.0.0.1", "10.0.0.2"), {"size": True}, "size", "packet size: True is not a number"),
        (("10.0.0.1", "10.0.0.2"), {"size": 1.5}, "size", "packet size: 1.5 is not a number"),
        (("10.0.0.300", "fd00::1"), {"size": 0}, "src", "source: 10.0.0.300 is not an IP address"),  # source first
    ],
)
def test_a_bad_field_is_named_in_one_line(args: tuple, kw: dict, field: str, message: str) -> None:
    with pytest.raises(PacketError) as exc:
        Packet.parse(*args, **kw)
    assert (exc.value.field, str(exc.value)) == (field, message)
    assert isinstance(exc.value, ValueError) and "\n" not in str(exc.value)


def test_text_and_numbers_read_alike_with_defaults() -> None:
    from_text = Packet.parse(" 10.0.0.1 ", "10.0.0.2", "UDP", "any", "0x35", "")
    assert from_text == Packet.parse("10.0.0.1", "10.0.0.2", 17, 0, 53, 64)
    assert from_text.src == ipaddress.ip_address("10.0.0.1") and from_text.size == 64
    assert Packet.parse("fd00::1", "fd00::2").proto == 255  # any
    assert Packet.parse("10.0.0.1", "10.0.0.2", "47").proto == 47


def test_count_has_one_limit() -> None:
    assert (parse_count(""), parse_count("7"), parse_count(MAX_COUNT)) == (1, 7, MAX_COUNT)
    for bad, reason in (("0", "0 is out of range (1-1000000)"), (MAX_COUNT + 1, "1000001 is out of range (1-1000000)"),
                        ("many", "'many' is not a number")):
        with pytest.raises(PacketError) as exc:
            parse_count(bad)
        assert (exc.value.field, exc.value.reason) == ("count", reason)
    assert parse_count("10", most=10) == 10
    with pytest.raises(PacketError) as exc:
        parse_count("11", most=10)
    assert str(exc.value) == "count: 11 is out of range (1-10)"


def test_a_request_is_read_back_with_the_same_checks() -> None:
    with pytest.raises(PacketError) as exc:
        Packet.from_json({"src": "10.0.0.1", "dst": "10.0.0.2", "proto": None})
    assert str(exc.value) == "protocol: None is not a number"
    with pytest.raises(PacketError) as exc:
        Packet.from_json({"dst": "10.0.0.2"})
    assert exc.value.field == "src"


@given(st.builds(
    Packet.parse,
    st.ip_addresses(v=4).map(str), st.ip_addresses(v=4).map(str),
    st.integers(0, 255), st.integers(0, 65535), st.integers(0, 65535), st.integers(1, 65535),
))
def test_json_round_trip(packet: Packet) -> None:
    assert Packet.from_json(packet.to_json()) == packet


def test_a_verdict_from_a_reply() -> None:
    v = PacketVerdict(Verdict.PROTECTED, 9, (0x1001, 0x1002), 0)
    assert PacketVerdict.from_reply(v.to_json()) == v
    with pytest.raises(PacketError) as exc:
        PacketVerdict.from_reply({"error": "0 is out of range (1-65535)", "field": "size"})
    assert str(exc.value) == "packet size: 0 is out of range (1-65535)"
    for bad in ({"error": "unknown control op 'x'"}, {"verdict": "lost"}, {"verdict": "bypass", "sa_spis": ["1"]},
                [1, 2]):
        with pytest.raises(ValueError, match="unknown control op|not a traffic verdict"):
            PacketVerdict.from_reply(bad)
