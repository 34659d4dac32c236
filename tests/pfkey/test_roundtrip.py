"""Round trips: every message type and every extension type on every platform profile, generated messages,
and every message recorded from the real setkey and a real Linux kernel (tests/data)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from setkey_tui.pfkey import DecodeError, EncodeError, ExtType, Message, MsgType, decode, encode, split
from setkey_tui.pfkey.extensions import (
    AddressExt,
    Alg,
    Comb,
    Extension,
    FilterExt,
    IdentityExt,
    IpsecRequest,
    KeyExt,
    KMAddressExt,
    KMPrivateExt,
    LifetimeExt,
    NatTFragExt,
    NatTPortExt,
    NatTTypeExt,
    PolicyExt,
    ProposalExt,
    RawExt,
    SA2Ext,
    SAExt,
    SAReplayExt,
    SecCtxExt,
    SensitivityExt,
    Sockaddr,
    SPIRangeExt,
    SupportedExt,
)
from setkey_tui.pfkey.fast import extension_walker
from setkey_tui.pfkey.message import decode_all, unwrap_promisc
from setkey_tui.pfkey.platform import AF_INET, DARWIN, FREEBSD, LINUX, Platform
from setkey_tui.pfkey.wire import codec_for

from .recorded import recorded_messages
from .strategies import extension_strategies, messages

PLATFORMS = [LINUX, FREEBSD, DARWIN]
BOUNDED = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def v4(p: Platform, last: int, port: int = 0) -> Sockaddr:
    return Sockaddr(AF_INET, port, bytes((10, 0, 0, last)))


def v6(p: Platform, last: int) -> Sockaddr:
    return Sockaddr(p.af_inet6, 500, bytes(15) + bytes((last,)), 7, 2)


def example(ext_type: int, p: Platform) -> Extension:
    """One hand-written, non-trivial instance of each canonical extension type."""
    t = ExtType(ext_type)
    if t == ExtType.SA:
        return SAExt(0x12345678, 32, 1, 5, 12, 0x40)
    if t in (ExtType.LIFETIME_CURRENT, ExtType.LIFETIME_HARD, ExtType.LIFETIME_SOFT):
        return LifetimeExt(t, 1, 2**40, 1_700_000_000, 3)
    if t.name.startswith("ADDRESS") or t.name.endswith(("_OA", "_OAR")) or t.name.startswith("X_NEW_ADDRESS"):
        return AddressExt(t, v6(p, 1) if t == ExtType.ADDRESS_DST else v4(p, 1, 4500), 255, 24)
    if t in (ExtType.KEY_AUTH, ExtType.KEY_ENCRYPT):
        return KeyExt(t, 160, bytes(range(20)))
    if t in (ExtType.IDENTITY_SRC, ExtType.IDENTITY_DST):
        return IdentityExt(t, 2, 9, b"gw.example\0\0\0\0\0\0")
    if t == ExtType.SENSITIVITY:
        return SensitivityExt(1, 2, 1, 3, 1, 0, bytes(range(16)))
    if t == ExtType.PROPOSAL:
        return ProposalExt(32, (Comb(3, 12, 0, 160, 160, 128, 256), Comb(2, 3, hard_addtime=86400)))
    if t in (ExtType.SUPPORTED_AUTH, ExtType.SUPPORTED_ENCRYPT):
        return SupportedExt(t, (Alg(12, 8, 128, 256), Alg(3, 8, 192, 192)))
    if t == ExtType.SPIRANGE:
        return SPIRangeExt(0x100, 0x0FFFFFFF)
    if t == ExtType.X_KMPRIVATE:
        return KMPrivateExt(0, b"racoon\0\0")
    if t == ExtType.X_POLICY:
        reqs = (
            IpsecRequest(50, 2, 3, 7, v4(p, 1), v4(p, 2)),
            IpsecRequest(51, 1, 2),
            IpsecRequest(108, 2, 1, 0, v6(p, 1), v6(p, 2)),
        )
        return PolicyExt(2, 2, 161, 0x80000000 if p.policy_priority else 0, reqs)
    if t == ExtType.X_SA2:
        return SA2Ext(2, 5, 9)
    if t == ExtType.X_NAT_T_TYPE:
        return NatTTypeExt(2)
    if t in (ExtType.X_NAT_T_SPORT, ExtType.X_NAT_T_DPORT):
        return NatTPortExt(t, 4500)
    if t == ExtType.X_SEC_CTX:
        return SecCtxExt(1, 1, b"system_u:object_r:ipsec_spd_t:s0")
    if t == ExtType.X_KMADDRESS:
        return KMAddressExt(v4(p, 1), v6(p, 2))
    if t == ExtType.X_FILTER:
        return FilterExt(bytes(16), bytes(range(16)), p.af_inet6, 0, 64)
    if t == ExtType.X_SA_REPLAY:
        return SAReplayExt(1024)
    if t == ExtType.X_NAT_T_FRAG:
        return NatTFragExt(1400)
    raise AssertionError(f"no example for {t.name}")


EXT_TYPES = [t for t in ExtType if t != ExtType.RESERVED]


def test_every_extension_type_has_a_strategy_where_it_exists() -> None:
    for p in PLATFORMS:
        assert set(extension_strategies(p)) == set(p.ext_to_wire), p.name


@pytest.mark.parametrize("platform", PLATFORMS, ids=lambda p: p.name)
@pytest.mark.parametrize("ext_type", EXT_TYPES, ids=lambda t: t.name)
def test_every_extension_type_round_trips_or_is_refused(ext_type: ExtType, platform: Platform) -> None:
    ext = example(ext_type, platform)
    other = SA2Ext(1) if ext_type == ExtType.SA else SAExt(0x1000)
    msg = Message(MsgType.ADD, 3, 1, 4242, 0, (other, ext))
    if ext_type not in platform.ext_to_wire:
        with pytest.raises(EncodeError, match=f"{ext_type.name} does not exist on {platform.name}"):
            msg.encode(platform)
        return
    wire = msg.encode(platform)
    order = "little" if platform.byteorder == "<" else "big"
    assert len(wire) % 8 == 0 and int.from_bytes(wire[4:6], order) * 8 == len(wire)
    back = decode(wire, platform)
    assert back == msg
    assert back.get(ext_type) == ext
    assert encode(back, platform) == wire


@pytest.mark.parametrize("platform", PLATFORMS, ids=lambda p: p.name)
@pytest.mark.parametrize("msg_type", list(MsgType), ids=lambda t: t.name)
def test_every_message_type_round_trips_or_is_refused(msg_type: MsgType, platform: Platform) -> None:
    msg = Message(msg_type, 3, 7, 4242, 0, (SAExt(0x1000), AddressExt(ExtType.ADDRESS_SRC, v4(platform, 1))))
    if msg_type not in platform.msg_to_wire:
        with pytest.raises(EncodeError, match=f"{msg_type.name} does not exist on {platform.name}"):
            msg.encode(platform)
        return
    wire = msg.encode(platform)
    assert wire[1] == platform.msg_to_wire[msg_type]
    back = decode(wire, platform)
    assert back == msg and back.type_name == msg_type.name
    assert back.encode(platform) == wire


def test_darwin_numbers_its_own_message_types() -> None:
    assert Message(MsgType.X_MIGRATE).encode(DARWIN)[1] == 26
    assert decode(Message(MsgType.X_SPDENABLE).encode(DARWIN), DARWIN).type == MsgType.X_SPDENABLE
    assert Message(MsgType.X_MIGRATE).encode(LINUX)[1] == 24


def test_unknown_message_type_numbers_are_kept() -> None:
    wire = bytes((2, 99, 0, 0)) + (2).to_bytes(2, "little") + bytes(10)
    msg = decode(wire, LINUX)
    assert msg.type == 99 and msg.type_name == "99"
    assert msg.encode(LINUX) == wire


def test_unknown_extension_is_kept_raw_per_platform() -> None:
    nat = Message(MsgType.ADD, 3, extensions=(NatTTypeExt(2),)).encode(LINUX)
    on_darwin = decode(nat, DARWIN)  # Darwin's 20 is SESSION_ID: unknown to this codec, kept raw
    assert on_darwin.extensions == (RawExt(20, bytes((2, 0, 0, 0))),)
    assert on_darwin.encode(DARWIN) == nat


def test_one_bad_value_is_an_encode_error() -> None:
    with pytest.raises(EncodeError):
        Message(MsgType.ADD, extensions=(SAExt(2**32),)).encode(LINUX)
    with pytest.raises(EncodeError):
        Message(MsgType.ADD, extensions=(SAExt(-1),)).encode(LINUX)
    with pytest.raises(EncodeError):
        Message(MsgType.ADD, seq=2**32).encode(LINUX)
    with pytest.raises(EncodeError):
        Message(MsgType.ADD, extensions=(AddressExt(5, Sockaddr(2, 70000, bytes(4))),)).encode(LINUX)
    with pytest.raises(EncodeError):
        Message(MsgType.ADD, extensions=(AddressExt(5, Sockaddr(2, 0, bytes(5))),)).encode(LINUX)
    with pytest.raises(EncodeError):
        Message(
            MsgType.ADD, extensions=(PolicyExt(2, 1, requests=(IpsecRequest(50, 2, 2, src=v4(LINUX, 1)),)),)
        ).encode(LINUX)
    with pytest.raises(EncodeError):
        Message(MsgType.ADD, extensions=("not an extension",)).encode(LINUX)  # type: ignore[arg-type]
    with pytest.raises(EncodeError, match="extension 999 does not exist on linux"):
        Message(MsgType.ADD, extensions=(AddressExt(999, Sockaddr(2, 0, bytes(4))),)).encode(LINUX)


@pytest.mark.parametrize("platform", PLATFORMS, ids=lambda p: p.name)
def test_generated_messages_round_trip(platform: Platform) -> None:
    @BOUNDED
    @given(messages(platform))
    def check(msg: Message) -> None:
        wire = msg.encode(platform)
        back = decode(wire, platform)
        assert back == msg
        assert back.encode(platform) == wire

    check()


@pytest.mark.parametrize("platform", PLATFORMS, ids=lambda p: p.name)
def test_generated_message_streams_split(platform: Platform) -> None:
    @settings(max_examples=100, deadline=None)
    @given(st.lists(messages(platform), min_size=1, max_size=4))
    def check(msgs: list[Message]) -> None:
        wires = [m.encode(platform) for m in msgs]
        assert list(split(b"".join(wires), platform)) == wires
        assert decode_all(b"".join(wires), platform) == msgs

    check()


RECORDED = recorded_messages()


def test_recorded_data_is_all_there() -> None:
    sources = {label.split(":")[0] for label, _ in RECORDED}
    assert sources == {"inputs", "dump", "realkernel", "monitor"}
    assert len(RECORDED) >= 976


def test_every_recorded_message_reencodes_byte_identically() -> None:
    failures = []
    for label, data in RECORDED:
        msg = decode(data, LINUX)
        if msg.encode(LINUX) != data:
            failures.append(label)
    assert not failures


def test_recorded_messages_decode_to_typed_extensions() -> None:
    raw = [
        (label, e)
        for label, data in RECORDED
        for e in decode(data, LINUX).extensions
        if isinstance(e, RawExt)
    ]
    assert not raw  # every extension a real Linux setkey/kernel produced is one the codec knows


def test_fast_path_agrees_with_the_generic_decoders() -> None:
    codec = codec_for(LINUX)
    walk = extension_walker(codec)
    for label, data in RECORDED:
        off, generic = 16, []
        while off < len(data):
            elen, etype = codec.ext_hdr.unpack_from(data, off)
            generic.append(codec.decode_ext(data, off, off + elen * 8, etype))
            off += elen * 8
        assert walk(data, 16, len(data)) == tuple(generic), label


@pytest.mark.parametrize("platform", PLATFORMS, ids=lambda p: p.name)
def test_fast_path_agrees_on_generated_messages(platform: Platform) -> None:
    codec = codec_for(platform)

    @BOUNDED
    @given(messages(platform))
    def check(msg: Message) -> None:
        wire = msg.encode(platform)
        generic = []
        off = 16
        while off < len(wire):
            elen, etype = codec.ext_hdr.unpack_from(wire, off)
            generic.append(codec.decode_ext(wire, off, off + elen * 8, etype))
            off += elen * 8
        assert decode(wire, platform).extensions == tuple(generic)

    check()


def test_decode_errors_are_value_errors_with_offsets() -> None:
    err = DecodeError(24, "bad")
    assert isinstance(err, ValueError) and err.offset == 24 and "byte 24" in str(err)


def test_bsd_promiscuous_copies_are_unwrapped() -> None:
    inner = Message(MsgType.ADD, 3, 5, 77, 0, (SAExt(0x1000), example(ExtType.ADDRESS_SRC, FREEBSD)))
    wire = inner.encode(FREEBSD)
    wrapped = Message(MsgType.X_PROMISC).encode(FREEBSD)[:4] + (2 + len(wire) // 8).to_bytes(2, "little")
    wrapped += bytes(10) + wire
    assert unwrap_promisc(wrapped, FREEBSD) == wire
    assert decode(unwrap_promisc(wrapped, FREEBSD), FREEBSD) == inner
    assert unwrap_promisc(wrapped, LINUX) == wrapped  # Linux does not wrap
    bare = Message(MsgType.X_PROMISC, 1).encode(FREEBSD)
    assert unwrap_promisc(bare, FREEBSD) == bare
    broken = wrapped[:-8]
    assert unwrap_promisc(broken, FREEBSD) == broken


def test_repeated_extensions_share_one_decoded_object() -> None:
    from setkey_tui.pfkey.fast import SHARED_MAX

    def reply(i: int) -> bytes:
        src = Sockaddr(AF_INET, 0, (0x0A000000 + i).to_bytes(4, "big"))
        exts = (
            SAExt(0x1000 + i, 32, 1, 5, 12),
            LifetimeExt(ExtType.LIFETIME_HARD, 0, 0, 3600),
            AddressExt(ExtType.ADDRESS_SRC, src, 0, 32),
            AddressExt(ExtType.ADDRESS_PROXY, Sockaddr(AF_INET, 0, bytes(4)), 255, 0),
            SA2Ext(1),
        )
        return Message(MsgType.DUMP, 3, i, 1, 0, exts).encode(LINUX)

    first, second = decode(reply(1), LINUX), decode(reply(2), LINUX)
    assert first.get(ExtType.ADDRESS_PROXY) is second.get(ExtType.ADDRESS_PROXY)
    assert first.get(ExtType.LIFETIME_HARD) is second.get(ExtType.LIFETIME_HARD)
    assert first.get(ExtType.ADDRESS_SRC) != second.get(ExtType.ADDRESS_SRC)
    # More distinct extensions than the sharing table holds: every message still decodes to its own values.
    for i in range(SHARED_MAX + 50):
        data = reply(i)
        msg = decode(data, LINUX)
        assert msg.get(ExtType.ADDRESS_SRC).sockaddr.addr == (0x0A000000 + i).to_bytes(4, "big")
        assert msg.encode(LINUX) == data


@pytest.mark.parametrize("platform", PLATFORMS, ids=lambda p: p.name)
def test_wire_numbers_map_back_to_canonical_ones(platform: Platform) -> None:
    assert {platform.ext_to_wire[c]: c for c in platform.ext_to_wire} == platform.ext_from_wire
    assert {platform.msg_to_wire[c]: c for c in platform.msg_to_wire} == platform.msg_from_wire
    assert len(platform.ext_from_wire) == len(platform.ext_to_wire)
    assert len(platform.msg_from_wire) == len(platform.msg_to_wire)
    assert platform.ext_from_wire is platform.ext_from_wire  # computed once per profile
