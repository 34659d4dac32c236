"""Unit tests of the -x/-v decoder and the monitor entry, malformed input included."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from setkey_tui.pfkey.constants import ExtType, MsgType
from setkey_tui.pfkey.extensions import (
    Alg,
    Comb,
    IdentityExt,
    IpsecRequest,
    KeyExt,
    KMAddressExt,
    ProposalExt,
    SecCtxExt,
    SPIRangeExt,
    SupportedExt,
)
from setkey_tui.pfkey.message import Message, header_only
from setkey_tui.pfkey.platform import DARWIN, FREEBSD, LINUX
from setkey_tui.render.kdebug import kdebug
from setkey_tui.render.monitor import format_monitor_entry

from .conftest import NOW
from .helpers import esp_sa, policy, sockaddr


def _lines(data: bytes, platform=LINUX) -> list[str]:
    return kdebug(data, platform).splitlines()


def test_header_and_sa() -> None:
    lines = _lines(esp_sa().encode(LINUX))
    assert lines[0] == "sadb_msg{ version=2 type=10 errno=0 satype=3"
    assert lines[2:5] == ["sadb_ext{ len=2 type=1 }", "sadb_sa{ spi=4096 replay=0 state=1",
                          "  auth=5 encrypt=12 flags=0x00000000 }"]
    assert "sadb_lifetime{ alloc=3, bytes=12345" in lines
    assert "  key= 10111213 14151617 18191a1b 1c1d1e1f }" in lines


def test_real_key_bytes_even_when_long() -> None:
    key = bytes(range(40))
    msg = Message(MsgType.ADD, 3, extensions=(KeyExt(ExtType.KEY_AUTH, 320, key),))
    text = kdebug(msg.encode(LINUX))
    assert "  key= 00010203 04050607 08090a0b 0c0d0e0f 10111213 14151617 18191a1b 1c1d1e1f\n 20212223 24252627 }" \
        in text


def test_every_other_extension() -> None:
    exts = (
        IdentityExt(ExtType.IDENTITY_SRC, 2, 7, b"host\x01.example\0\0\0\0"),
        ProposalExt(32, (Comb(3, 12, 0, 160, 160, 128, 256, 0, 1, 2, 3, 4, 5, 6, 7, 8),)),
        SupportedExt(ExtType.SUPPORTED_ENCRYPT, (Alg(12, 8, 128, 256),)),
        SPIRangeExt(0x100, 0x200),
        SecCtxExt(1, 2, b"system_u\0"),
        KMAddressExt(sockaddr("10.0.0.1"), sockaddr("2001:db8::1", 500)),
    )
    text = kdebug(Message(MsgType.ACQUIRE, 3, extensions=exts).encode(LINUX))
    assert 'sadb_ident_src{ type=2 id=7\n  str="host\\001.example" }\n' in text
    assert "sadb_comb{ auth=3 encrypt=12 flags=0x0000 reserved=0x00000000\n" in text
    assert "  soft_alloc=1 hard_alloc=2 soft_bytes=3 hard_bytes=4\n" in text
    assert "  soft_alloc=5 hard_alloc=6 soft_bytes=7 hard_bytes=8 }\n}\n" in text
    assert "sadb_sup{\n  { id=12 ivlen=8 min=128 max=256 }\n}\n" in text
    assert "sadb_ext{ len=2 type=16 }\nsadb_ext{" in text
    assert 'sadb_x_sec_ctx{ alg=2 doi=1 len=9\n  ctx="system_u" }\n' in text
    assert "sadb_x_kmaddress{ reserved=0x00000000 }\nsockaddr{ len=16 family=2 port=0\n 0a000001  }\n" in text
    assert "sockaddr{ len=28 family=10 port=500\n  flowinfo=0x00000000, scope_id=0x00000000\n" in text


def test_policy_requests() -> None:
    reqs = (IpsecRequest(50, 2, 2, 0, sockaddr("1.1.1.1"), sockaddr("2.2.2.2")), IpsecRequest(51, 1, 3, 5))
    text = kdebug(policy(requests=reqs).encode(LINUX))
    assert "sadb_x_policy{ type=2 dir=2 id=9 priority=2147483648 }\n { len=48 proto=50 mode=2 level=2 reqid=0\n" \
        "sockaddr{ len=16 family=2 port=0\n 01010101  }\n" in text
    assert " { len=16 proto=51 mode=1 level=3 reqid=5\n }\n" in text


def test_freebsd_variant() -> None:
    reqs = (IpsecRequest(50, 2, 2, 3, sockaddr("1.1.1.1", platform=FREEBSD), sockaddr("2.2.2.2", platform=FREEBSD)),)
    text = kdebug(policy(requests=reqs, platform=FREEBSD).encode(FREEBSD), FREEBSD)
    assert text.startswith("sadb_msg{ version=2 type=18(X_SPDDUMP) errno=0 satype=0\n")
    assert "type=18(POLICY) }\n" in text
    assert "sadb_x_policy{ type=2 dir=2 id=9 scope=0 priority=2147483648 }\n" in text
    assert "sockaddr{ len=16 family=2 addr=1.1.1.1 }\n" in text
    assert "reqid=3\n" in text
    darwin = kdebug(policy(platform=DARWIN).encode(DARWIN), DARWIN)
    assert "sadb_x_policy{ type=2 dir=2 id=9 }\n" in darwin


def test_malformed_messages_say_what_is_wrong() -> None:
    assert kdebug(b"\x02\x03") == "kdebug_sadb: message of 2 bytes is shorter than the 16-byte sadb_msg header.\n"
    hdr = header_only(MsgType.ADD, 3).encode(LINUX)
    zero_len = hdr[:4] + struct.pack("<H", 3) + hdr[6:] + struct.pack("<HH", 0, 1) + bytes(4)
    assert kdebug(zero_len).endswith("sadb_ext{ len=0 type=1 }\nkdebug_sadb: invalid ext_len=0 was passed.\n")
    too_long = hdr[:4] + struct.pack("<H", 3) + hdr[6:] + struct.pack("<HH", 5, 1) + bytes(4)
    assert kdebug(too_long).endswith("kdebug_sadb: ext_len exceeds end of buffer.\n")
    unknown = hdr[:4] + struct.pack("<H", 3) + hdr[6:] + struct.pack("<HH", 1, 77) + bytes(4)
    assert kdebug(unknown).endswith("kdebug_sadb: invalid ext_type 77 was passed.\n")
    short_sa = hdr[:4] + struct.pack("<H", 3) + hdr[6:] + struct.pack("<HH", 1, 1) + bytes(4)
    assert "extension type 1 is 8 bytes, shorter than its 16-byte structure" in kdebug(short_sa)
    lying_len = hdr[:4] + struct.pack("<H", 9) + hdr[6:]
    assert "sadb_msg_len=9 (72 bytes) but 16 bytes were received" in kdebug(lying_len)
    bad_key = hdr[:4] + struct.pack("<H", 3) + hdr[6:] + struct.pack("<HHHH", 1, 8, 512, 0)
    assert "kdebug_sadb_key: key length mismatch, bit:64 len:0.\n" in kdebug(bad_key)


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=0, max_size=200))
def test_never_raises(data: bytes) -> None:
    for platform in (LINUX, FREEBSD):
        assert isinstance(kdebug(data, platform), str)
        assert isinstance(format_monitor_entry(data, when=NOW, tflag=1, hexdump=True, platform=platform), str)


def test_monitor_promisc_handling() -> None:
    bare = header_only(MsgType.X_PROMISC, 1, pid=4700).encode(LINUX)
    assert format_monitor_entry(bare, when=NOW, tflag=2, hexdump=True) == (
        "1700000000.000000 \n00000000: 02 0b 00 01 02 00 00 00 00 00 00 00 5c 12 00 00 \n")
    inner = header_only(MsgType.X_PROMISC, 1, pid=4700).encode(FREEBSD)
    wrapped = header_only(MsgType.X_PROMISC, 0).encode(FREEBSD)[:4] + struct.pack("<H", 4) + bytes(10) + inner
    text = format_monitor_entry(wrapped, when=NOW, tflag=1, hexdump=False, platform=FREEBSD)
    assert text == ("22:13:20.000000 \nsadb_msg{ version=2 type=11(X_PROMISC) errno=0 satype=1\n"
                    "  len=2 reserved=0 seq=0 pid=4700\n\n")
    assert format_monitor_entry(b"\x02", when=NOW, tflag=1, hexdump=False).endswith(
        "shorter than the 16-byte sadb_msg header.\n\n")
