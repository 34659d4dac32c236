"""The domain model: message → model → message, on real kernel dumps and on setkey-built messages."""

from __future__ import annotations

import ipaddress
from collections import Counter

import pytest

from setkey_tui.model import (
    Endpoint,
    IpsecRequest,
    Lifetime,
    ModelError,
    SecurityAssociation,
    SecurityPolicy,
    Selector,
    sa_key,
)
from setkey_tui.pfkey import ExtType, Message, MsgType, decode
from setkey_tui.pfkey.constants import IPPROTO_ESP, Direction, Level, Mode, PolicyType, SAType
from setkey_tui.pfkey.platform import DARWIN, FREEBSD, LINUX

from .recorded import dump_replies, realkernel_replies, setkey_requests

REAL_SA = [(label, data) for label, data in realkernel_replies("dump_hex") if decode(data, LINUX).extensions]
REAL_SP = [
    (label, data) for label, data in realkernel_replies("spddump_hex") if decode(data, LINUX).extensions
]
DUMP = [(label, decode(data, LINUX)) for label, data in dump_replies()]
DUMP_SA = [(label, m) for label, m in DUMP if m.type == MsgType.DUMP and m.extensions]
DUMP_SP = [(label, m) for label, m in DUMP if m.type == MsgType.X_SPDDUMP and ExtType.X_POLICY in m]


def test_there_is_data() -> None:
    assert len(REAL_SA) > 40 and len(REAL_SP) > 100 and len(DUMP_SA) > 200 and len(DUMP_SP) > 40


@pytest.mark.parametrize(("label", "data"), REAL_SA, ids=[x[0] for x in REAL_SA])
def test_real_kernel_sa_round_trips_byte_identically(label: str, data: bytes) -> None:
    msg = decode(data, LINUX)
    sa = SecurityAssociation.from_message(msg, LINUX)
    assert sa.to_message(msg.type, LINUX).encode(LINUX) == data


@pytest.mark.parametrize(("label", "data"), REAL_SP, ids=[x[0] for x in REAL_SP])
def test_real_kernel_sp_round_trips_byte_identically(label: str, data: bytes) -> None:
    msg = decode(data, LINUX)
    sp = SecurityPolicy.from_message(msg, LINUX)
    assert sp.to_message(msg.type, LINUX).encode(LINUX) == data


def _modelled(msg: Message) -> Counter:
    """The extensions of ``msg`` as a multiset (order-free), trailers and reserved fields as decoded."""
    return Counter(msg.extensions)


@pytest.mark.parametrize(("label", "msg"), DUMP_SA, ids=[x[0] for x in DUMP_SA])
def test_setkey_sa_messages_keep_every_extension(label: str, msg: Message) -> None:
    sa = SecurityAssociation.from_message(msg)
    back = sa.to_message(msg.type, LINUX)
    assert SecurityAssociation.from_message(back) == sa
    # Every extension setkey sent comes back (order is the kernel's); at most a zero current lifetime and a
    # default SA2 are added.
    added = _modelled(back) - _modelled(msg)
    missing = _modelled(msg) - _modelled(back)
    assert not missing, missing
    assert all(e.ext_type in (ExtType.LIFETIME_CURRENT, ExtType.X_SA2) for e in added)
    assert back[:5] == msg[:5] and back.reserved == msg.reserved


@pytest.mark.parametrize(("label", "msg"), DUMP_SP, ids=[x[0] for x in DUMP_SP])
def test_setkey_sp_messages_keep_every_extension(label: str, msg: Message) -> None:
    sp = SecurityPolicy.from_message(msg)
    back = sp.to_message(msg.type, LINUX)
    assert SecurityPolicy.from_message(back) == sp
    assert _modelled(back) == _modelled(msg)
    assert back[:5] == msg[:5] and back.reserved == msg.reserved


def test_sa_fields_from_a_real_dump() -> None:
    label, data = next((lab, d) for lab, d in REAL_SA if lab.startswith("natt-other-ports"))
    sa = SecurityAssociation.from_message(decode(data, LINUX))
    assert sa.satype == SAType.ESP and sa.spi == 0x6002
    assert sa.src == Endpoint(ipaddress.ip_address("10.0.0.1"), 32)
    assert sa.key == sa_key(SAType.ESP, bytes([10, 0, 0, 2]), 0x6002) == (SAType.ESP, 4, 0x0A000002, 0x6002)
    assert (sa.natt_type, sa.natt_sport, sa.natt_dport) == (2, 1234, 5678)
    assert sa.enc_key == bytes.fromhex("00112233445566778899aabbccddeeff") and sa.auth_key is None
    assert sa.hard == Lifetime() and sa.current.addtime > 1_700_000_000
    assert sa.mode == Mode.TRANSPORT and sa.proxy == Endpoint(ipaddress.ip_address("0.0.0.0"), 0)


def test_sp_fields_from_a_real_dump() -> None:
    label, data = next((lab, d) for lab, d in REAL_SP if lab.startswith("spd-tunnel-endpoint-ports"))
    sp = SecurityPolicy.from_message(decode(data, LINUX))
    assert sp.selector == Selector(
        Endpoint(ipaddress.ip_address("10.1.0.0"), 24), Endpoint(ipaddress.ip_address("10.2.0.0"), 24), 255
    )
    assert sp.direction == Direction.OUTBOUND and sp.action == PolicyType.IPSEC
    assert sp.requests[0].src == Endpoint.host("192.168.0.1") and sp.requests[0].level == Level.REQUIRE
    assert sp.key == (4, 0x0A010000, 24, 0, 4, 0x0A020000, 24, 0, 255, Direction.OUTBOUND)


def test_per_socket_policy_has_no_selector() -> None:
    msg = next(m for _, m in DUMP_SP if ExtType.ADDRESS_SRC not in m)
    sp = SecurityPolicy.from_message(msg)
    assert sp.selector is None
    assert sp.to_message(msg.type).extensions == msg.extensions


def test_messages_without_the_essentials_are_refused() -> None:
    with pytest.raises(ModelError, match="no SA extension"):
        SecurityAssociation.from_message(Message(MsgType.DUMP, SAType.ESP))
    with pytest.raises(ModelError, match="no X_POLICY"):
        SecurityPolicy.from_message(Message(MsgType.X_SPDDUMP))
    sa_only = decode(REAL_SA[0][1], LINUX).without(ExtType.ADDRESS_DST)
    with pytest.raises(ModelError, match="source or destination"):
        SecurityAssociation.from_message(sa_only)
    sp_half = decode(REAL_SP[0][1], LINUX).without(ExtType.ADDRESS_DST)
    with pytest.raises(ModelError, match="only one"):
        SecurityPolicy.from_message(sp_half)


@pytest.mark.parametrize("platform", [LINUX, FREEBSD, DARWIN], ids=lambda p: p.name)
def test_models_round_trip_on_every_platform(platform) -> None:
    v6 = ipaddress.ip_address("fe80::1%3")
    sa = SecurityAssociation(
        SAType.ESP,
        Endpoint.host(v6, 500),
        Endpoint(ipaddress.ip_address("fe80::2"), 64),
        0x1234,
        mode=Mode.TUNNEL,
        reqid=7,
        auth=2,
        encrypt=3,
        auth_key=b"a" * 16,
        enc_key=b"b" * 24,
        replay=32,
        hard=Lifetime(1, 2, 3, 4),
        soft=Lifetime(5, 6, 7, 8),
        msg_seq=9,
        pid=10,
        refcnt=1,
        ulproto=255,
    )
    wire = sa.to_message(MsgType.ADD, platform).encode(platform)
    again = SecurityAssociation.from_message(decode(wire, platform), platform)
    assert again == sa and again.src.address.scope_id == "3"
    sp = SecurityPolicy(
        Selector(Endpoint(ipaddress.ip_address("10.0.0.0"), 8, 80), Endpoint.host("10.1.2.3"), 6),
        Direction.OUTBOUND,
        PolicyType.IPSEC,
        0,
        (
            IpsecRequest(
                IPPROTO_ESP, Mode.TUNNEL, Level.UNIQUE, 5, Endpoint.host("1.1.1.1"), Endpoint.host("2.2.2.2")
            ),
            IpsecRequest(51, Mode.TRANSPORT, Level.USE),
        ),
        spid=17,
        current=Lifetime(0, 0, 100, 0),
        msg_seq=1,
        pid=2,
    )
    wire = sp.to_message(MsgType.X_SPDADD, platform).encode(platform)
    assert SecurityPolicy.from_message(decode(wire, platform), platform) == sp


def test_endpoint_text_and_hashing() -> None:
    assert str(Endpoint(ipaddress.ip_address("10.0.0.0"), 8, 80)) == "10.0.0.0/8[80]"
    assert str(Endpoint.host("::1")) == "::1"
    assert len({Endpoint.host("10.0.0.1"), Endpoint.host("10.0.0.1"), Endpoint.host("10.0.0.1", 1)}) == 2


REQUESTS = [(label, data) for label, data in setkey_requests() if decode(data, LINUX).extensions]
SA_REQUESTS = [(lab, d) for lab, d in REQUESTS if ExtType.SA in decode(d, LINUX)]
SP_REQUESTS = [(lab, d) for lab, d in REQUESTS if ExtType.X_POLICY in decode(d, LINUX)]


def test_there_are_setkey_requests() -> None:
    kinds = {decode(d, LINUX).type for _, d in REQUESTS}
    assert {MsgType.ADD, MsgType.DELETE, MsgType.GET, MsgType.X_SPDADD, MsgType.X_SPDUPDATE} <= kinds
    assert len(SA_REQUESTS) + len(SP_REQUESTS) == len(REQUESTS)


@pytest.mark.parametrize(("label", "data"), SA_REQUESTS, ids=[x[0] for x in SA_REQUESTS])
def test_setkey_sa_requests_are_rebuilt_byte_identically(label: str, data: bytes) -> None:
    msg = decode(data, LINUX)
    sa = SecurityAssociation.from_message(msg, LINUX)
    assert sa.to_request(msg.type, LINUX).encode(LINUX) == data


@pytest.mark.parametrize(("label", "data"), SP_REQUESTS, ids=[x[0] for x in SP_REQUESTS])
def test_setkey_sp_requests_are_rebuilt_byte_identically(label: str, data: bytes) -> None:
    msg = decode(data, LINUX)
    sp = SecurityPolicy.from_message(msg, LINUX)
    assert sp.to_request(msg.type, LINUX).encode(LINUX) == data


def test_requests_by_id_and_deletes_carry_only_what_names_the_entry() -> None:
    _, data = REAL_SP[0]
    sp = SecurityPolicy.from_message(decode(data, LINUX))
    by_id = sp.to_request(MsgType.X_SPDDELETE2, LINUX)
    assert [e.ext_type for e in by_id.extensions] == [ExtType.X_POLICY]
    assert by_id.get(ExtType.X_POLICY).id == sp.spid
    _, data = REAL_SA[0]
    sa = SecurityAssociation.from_message(decode(data, LINUX))
    delete = sa.to_request(MsgType.DELETE, LINUX)
    assert [e.ext_type for e in delete.extensions] == [
        ExtType.SA,
        ExtType.X_SA2,
        ExtType.ADDRESS_SRC,
        ExtType.ADDRESS_DST,
    ]
    add = sa.to_request(MsgType.ADD, LINUX)
    assert add.get(ExtType.KEY_AUTH).key == sa.auth_key and ExtType.LIFETIME_CURRENT not in add
