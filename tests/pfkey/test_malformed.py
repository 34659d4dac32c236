"""Malformed input: each defect raises DecodeError naming its byte offset; fuzzed bytes raise nothing else."""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from setkey_tui.pfkey import DecodeError, ExtType, Message, MsgType, decode, split
from setkey_tui.pfkey.extensions import AddressExt, IpsecRequest, KeyExt, PolicyExt, SAExt, Sockaddr
from setkey_tui.pfkey.message import decode_all
from setkey_tui.pfkey.platform import AF_INET, DARWIN, FREEBSD, LINUX, Platform

from .recorded import recorded_messages

PLATFORMS = [LINUX, FREEBSD, DARWIN]
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HDR = struct.Struct("<BBBBHHII")  # this machine (and the recorded data) is little-endian


def header(n_bytes: int, msg_type: int = MsgType.ADD) -> bytes:
    return HDR.pack(2, msg_type, 0, 3, n_bytes // 8, 0, 1, 4242)


def ext(ext_type: int, body: bytes, units: int | None = None) -> bytes:
    """An extension with ``body`` after its 4-byte header; ``units`` overrides the length field."""
    size = 4 + len(body)
    return struct.pack("<HH", size // 8 if units is None else units, ext_type) + body


def message(*exts: bytes) -> bytes:
    body = b"".join(exts)
    return header(16 + len(body)) + body


def sockaddr_in(family: int = AF_INET, port: int = 0, addr: bytes = bytes((10, 0, 0, 1))) -> bytes:
    return struct.pack("<H", family) + port.to_bytes(2, "big") + addr + bytes(8)


def address(ext_type: int, sa: bytes) -> bytes:
    body = bytes((255, 32, 0, 0)) + sa
    body += bytes((-(len(body) + 4)) % 8)
    return ext(ext_type, body)


def fails_at(data: bytes, offset: int, reason: str, platform: Platform = LINUX) -> DecodeError:
    with pytest.raises(DecodeError) as info:
        decode(data, platform)
    assert info.value.offset == offset, str(info.value)
    assert reason in info.value.reason, info.value.reason
    assert f"at byte {offset}" in str(info.value)
    return info.value


def test_a_good_message_decodes() -> None:
    good = message(address(ExtType.ADDRESS_SRC, sockaddr_in()))
    assert decode(good, LINUX).get(ExtType.ADDRESS_SRC).sockaddr.text() == "10.0.0.1"


@pytest.mark.parametrize("n", [0, 1, 8, 15])
def test_short_header(n: int) -> None:
    fails_at(header(16)[:n], 0, "shorter than the 16-byte sadb_msg header")


@pytest.mark.parametrize("units", [0, 1])
def test_length_zero_or_one(units: int) -> None:
    data = HDR.pack(2, 3, 0, 3, units, 0, 0, 0)
    fails_at(data, 4, f"sadb_msg_len is {units}")


def test_length_overrun_and_underrun() -> None:
    fails_at(HDR.pack(2, 3, 0, 3, 3, 0, 0, 0), 4, "says 24 bytes but the message has 16")
    fails_at(HDR.pack(2, 3, 0, 3, 2, 0, 0, 0) + bytes(8), 4, "says 16 bytes but the message has 24")


def test_zero_length_extension() -> None:
    fails_at(message(ext(ExtType.SA, bytes(12), units=0)), 16, "has length 0")
    later = message(ext(ExtType.SA, bytes(12)), ext(ExtType.X_SA2, bytes(12), units=0))
    fails_at(later, 32, "has length 0")


def test_extension_longer_than_message() -> None:
    fails_at(message(ext(ExtType.SA, bytes(12), units=3)), 16, "longer than the 16 left")


def test_extension_shorter_than_its_structure() -> None:
    fails_at(message(ext(ExtType.SA, bytes(4))), 16, "SA extension is 8 bytes, needs at least 16")
    fails_at(message(ext(ExtType.LIFETIME_HARD, bytes(20))), 16, "LIFETIME_HARD extension is 24 bytes")


def test_sockaddr_of_wrong_family() -> None:
    fails_at(message(address(ExtType.ADDRESS_DST, sockaddr_in(family=99))), 24, "family 99")


def test_sockaddr_of_wrong_size() -> None:
    # An AF_INET6 family in a 16-byte sockaddr: the address extension is too short for it.
    fails_at(message(address(ExtType.ADDRESS_SRC, sockaddr_in(family=10))), 24, "needs 28 bytes")
    # The sockaddr is cut off by the extension's end.
    fails_at(
        message(ext(ExtType.ADDRESS_SRC, bytes((0, 32, 0, 0)) + struct.pack("<H", 2) + bytes(6))),
        24,
        "needs 16 bytes, only 8 left",
    )


def test_bsd_sockaddr_length_shorter_than_family_needs() -> None:
    sa = bytes((8, AF_INET)) + bytes(14)
    body = struct.pack("<HH", 3, ExtType.ADDRESS_SRC) + bytes(4) + sa
    fails_at(header(16 + len(body)) + body, 24, "sa_len 8 is shorter than 16", FREEBSD)


def test_key_bits_longer_than_the_extension() -> None:
    fails_at(
        message(ext(ExtType.KEY_AUTH, struct.pack("<HH", 128, 0) + bytes(8))),
        16,
        "key of 128 bits needs 16 bytes, the extension holds 8",
    )


def linux_request(rlen: int, tail: bytes) -> bytes:
    return struct.pack("<HHBBHII", rlen, 50, 2, 2, 0, 0, 0) + tail


def policy(*requests: bytes) -> bytes:
    return ext(ExtType.X_POLICY, struct.pack("<HBBII", 2, 2, 0, 0, 0) + b"".join(requests))


def test_ipsec_request_length_that_does_not_add_up() -> None:
    two = sockaddr_in() + sockaddr_in()
    fails_at(message(policy(linux_request(56, two + bytes(8)))), 32, "does not add up to 16 + 16 + 16")


def test_ipsec_request_shorter_than_its_header() -> None:
    fails_at(message(policy(linux_request(8, bytes(8)))), 32, "length 8 is shorter than its header (16)")


def test_ipsec_request_running_past_the_policy() -> None:
    fails_at(message(policy(linux_request(48, bytes(16)))), 32, "runs past the policy's end (32 left)")


def test_ipsec_request_with_one_bad_tunnel_address() -> None:
    bad = sockaddr_in() + sockaddr_in(family=7)
    fails_at(message(policy(linux_request(48, bad))), 64, "family 7")


def test_split_reports_offsets() -> None:
    one = Message(MsgType.FLUSH).encode(LINUX)
    with pytest.raises(DecodeError) as info:
        list(split(one + one[:10], LINUX))
    assert info.value.offset == 16
    with pytest.raises(DecodeError) as info:
        list(split(one + HDR.pack(2, 9, 0, 0, 5, 0, 0, 0), LINUX))
    assert info.value.offset == 16 and "runs past" in info.value.reason
    with pytest.raises(DecodeError) as info:
        list(split(HDR.pack(2, 9, 0, 0, 0, 0, 0, 0), LINUX))
    assert info.value.offset == 4


def test_encoder_output_is_what_these_helpers_build() -> None:
    """The hand-built bytes above are laid out as the encoder lays them out."""
    sa = Sockaddr(AF_INET, 0, bytes((10, 0, 0, 1)))
    built = Message(MsgType.ADD, 3, 1, 4242, 0, (AddressExt(ExtType.ADDRESS_SRC, sa, 255, 32),)).encode(LINUX)
    assert built == message(address(ExtType.ADDRESS_SRC, sockaddr_in()))
    req = IpsecRequest(50, 2, 2, 0, sa, sa)
    pol = Message(MsgType.ADD, 3, 1, 4242, 0, (PolicyExt(2, 2, requests=(req,)),)).encode(LINUX)
    assert pol == message(policy(linux_request(48, sockaddr_in() + sockaddr_in())))
    key = Message(MsgType.ADD, 3, 1, 4242, 0, (KeyExt(ExtType.KEY_AUTH, 64, bytes(8)), SAExt(1))).encode(
        LINUX
    )
    assert decode(key, LINUX).get(ExtType.KEY_AUTH).bits == 64


# ------------------------------------------------------------------------------------------------ fuzzing
RECORDED = [data for _, data in recorded_messages()]


def only_decode_errors(data: bytes, platform: Platform) -> None:
    """Decoding raises DecodeError or gives a message that re-encodes to the very same bytes."""
    try:
        msg = decode(data, platform)
    except DecodeError as exc:
        assert 0 <= exc.offset <= max(len(data), 4)
    else:
        assert msg.encode(platform) == data
    try:
        decode_all(data, platform)
    except DecodeError:
        pass


@pytest.mark.parametrize("platform", PLATFORMS, ids=lambda p: p.name)
def test_arbitrary_bytes(platform: Platform) -> None:
    @FUZZ
    @given(st.binary(max_size=200))
    def check(data: bytes) -> None:
        only_decode_errors(data, platform)

    check()


@pytest.mark.parametrize("platform", PLATFORMS, ids=lambda p: p.name)
def test_arbitrary_bodies_behind_a_consistent_header(platform: Platform) -> None:
    @FUZZ
    @given(
        st.integers(0, 24).flatmap(lambda k: st.binary(min_size=8 * k, max_size=8 * k)), st.integers(0, 30)
    )
    def check(body: bytes, msg_type: int) -> None:
        data = HDR.pack(2, msg_type, 0, 3, 2 + len(body) // 8, 0, 0, 0) + body
        only_decode_errors(data, platform)

    check()


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A recorded message with a few bytes changed, cut or inserted, its length field fixed up or not."""
    data = bytearray(draw(st.sampled_from(RECORDED)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["set", "set", "set", "cut", "insert"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "set" and data:
            data[pos] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[pos : pos + draw(st.integers(1, 16))]
        else:
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
    if len(data) >= 16 and draw(st.booleans()):
        data[4:6] = (len(data) // 8).to_bytes(2, "little")
        del data[len(data) - len(data) % 8 :]
    return bytes(data)


@pytest.mark.parametrize("platform", PLATFORMS, ids=lambda p: p.name)
def test_mutated_recorded_messages(platform: Platform) -> None:
    @FUZZ
    @given(mutated())
    def check(data: bytes) -> None:
        only_decode_errors(data, platform)

    check()


@st.composite
def random_extensions(draw: st.DrawFn, platform: Platform) -> bytes:
    """A consistent header and extension framing around random extension bodies (sockaddr families often
    plausible), so that the per-extension decoders see arbitrary content."""
    exts = b""
    for _ in range(draw(st.integers(0, 5))):
        elen = draw(st.integers(1, 8))
        body = bytearray(draw(st.binary(min_size=elen * 8 - 4, max_size=elen * 8 - 4)))
        if len(body) >= 6 and draw(st.booleans()):
            family = draw(st.sampled_from([AF_INET, platform.af_inet6]))
            if platform.bsd_sockaddr:
                body[4:6] = bytes((draw(st.sampled_from([0, 16, 28, 40])), family))
            else:
                body[4:6] = struct.pack("<H", family)
        exts += struct.pack("<HH", elen, draw(st.integers(0, 30))) + bytes(body)
    return HDR.pack(2, draw(st.integers(0, 30)), 0, 3, 2 + len(exts) // 8, 0, 0, 0) + exts


@pytest.mark.parametrize("platform", PLATFORMS, ids=lambda p: p.name)
def test_random_extension_bodies(platform: Platform) -> None:
    @FUZZ
    @given(random_extensions(platform))
    def check(data: bytes) -> None:
        only_decode_errors(data, platform)

    check()
