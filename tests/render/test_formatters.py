"""Unit tests of the pure formatters: time, hex layouts, errors, -D, -DP, -l, policy text."""

from __future__ import annotations

import errno
import socket

from setkey_tui.pfkey.constants import ExtType, MsgType, SAType
from setkey_tui.pfkey.extensions import (
    AddressExt,
    IpsecRequest,
    NatTPortExt,
    NatTTypeExt,
    SAReplayExt,
    Sockaddr,
)
from setkey_tui.pfkey.message import Message
from setkey_tui.pfkey.platform import DARWIN, FREEBSD, LINUX
from setkey_tui.render.errors import strerror, strerror_setkey
from setkey_tui.render.hexdump import hexdump, key_hex
from setkey_tui.render.names import addr_text
from setkey_tui.render.policy import PolicyTextError, dump_policy, priority_text
from setkey_tui.render.postproc import DumpOptions, postproc
from setkey_tui.render.sadump import format_sa
from setkey_tui.render.short import format_short, short_header
from setkey_tui.render.spdump import format_sp
from setkey_tui.render.timefmt import str_time, timestamp_line

from .conftest import NOW
from .helpers import esp_sa, policy, sockaddr


def test_str_time() -> None:
    assert str_time(0) == " " * 20
    assert str_time(NOW) == "Nov 14 22:13:20 2023"
    assert str_time(NOW - 13 * 86400) == "Nov  1 22:13:20 2023"
    assert str_time(1 << 62).strip() == str(1 << 62)


def test_timestamp_line() -> None:
    assert timestamp_line(NOW + 0.25, 1) == "22:13:20.250000 \n"
    assert timestamp_line(NOW + 0.0000004, 2) == "1700000000.000000 \n"
    assert timestamp_line(NOW + 0.9999999, 2) == "1700000001.000000 \n"
    assert timestamp_line(NOW, 0) == "\n"


def test_hexdump_layout() -> None:
    assert hexdump(bytes(range(16))) == "00000000: " + "".join(f"{i:02x} " for i in range(16)) + "\n"
    text = hexdump(bytes(18))
    assert text.splitlines() == ["00000000: " + "00 " * 16, "00000010: 00 00 "]
    assert hexdump(b"") == ""


def test_key_hex_wraps_every_32_bytes() -> None:
    assert key_hex(b"") == ""
    assert key_hex(bytes.fromhex("0011223344")) == " 00112233 44"
    text = key_hex(bytes(range(36)))
    first, second = text.split("\n")
    assert first.count(" ") == 8 and second == " 20212223"


def test_strerror_setkey_rules() -> None:
    assert strerror_setkey(errno.ENOENT, MsgType.DUMP) == "No SAD entries"
    assert strerror_setkey(errno.ENOENT, MsgType.X_SPDDUMP) == "No SPD entries"
    for t in (MsgType.DELETE, MsgType.GET, MsgType.X_SPDDELETE):
        assert strerror_setkey(errno.ENOENT, t) == "No entry"
    assert strerror_setkey(errno.ENOENT, MsgType.ADD) == "(null)"
    assert strerror_setkey(3, MsgType.GET) == "No such process"
    assert strerror_setkey(17, MsgType.ADD) == "File exists"
    assert strerror_setkey(22, MsgType.ADD) == "Invalid argument"
    assert strerror_setkey(38, MsgType.ADD) == "Function not implemented"
    assert strerror(250) == "Unknown error 250"
    assert strerror(78, FREEBSD) == "Function not implemented"


def test_format_sa_layout() -> None:
    text = format_sa(esp_sa(), now=NOW)
    lines = text.split("\n")
    assert lines[0] == "10.0.0.1 10.0.0.2 "
    assert lines[1] == "\tesp mode=tunnel spi=4096(0x00001000) reqid=7(0x00000007)"
    assert lines[2] == "\tE: aes-cbc  10111213 14151617 18191a1b 1c1d1e1f"
    assert lines[3].startswith("\tA: hmac-sha256  00010203 ")
    assert lines[4] == "\tseq=0x00000000 replay=0 flags=0x00000000 state=mature "
    assert lines[6] == "\tdiff: 100(s)\thard: 3600(s)\tsoft: 2880(s)"
    assert lines[-2] == "\tsadb_seq=0 pid=4242 refcnt=0" and lines[-1] == ""


def test_format_sa_withports_and_natt() -> None:
    msg = esp_sa()
    msg = msg.with_ext(NatTTypeExt(2)).with_ext(NatTPortExt(ExtType.X_NAT_T_SPORT, 4500))
    msg = msg.with_ext(NatTPortExt(ExtType.X_NAT_T_DPORT, 4501))
    first = format_sa(msg, now=NOW, withports=True).split("\n")[:2]
    assert first == ["10.0.0.1[0][4500] 10.0.0.2[0][4501] ", "\tesp-udp mode=tunnel spi=4096(0x00001000) "
                     "reqid=7(0x00000007)"]
    ah = esp_sa(satype=SAType.AH).with_ext(NatTTypeExt(2))
    assert "\tnatt+ah mode=" in format_sa(ah, now=NOW)


def test_format_sa_missing_extensions() -> None:
    msg = esp_sa()
    assert format_sa(msg.without(ExtType.ADDRESS_SRC), now=NOW) == "no ADDRESS_SRC extension.\n"
    assert format_sa(msg.without(ExtType.ADDRESS_DST), now=NOW) == "10.0.0.1 no ADDRESS_DST extension.\n"
    assert format_sa(msg.without(ExtType.SA), now=NOW) == "10.0.0.1 10.0.0.2 no SA extension.\n"
    assert format_sa(msg.without(ExtType.X_SA2), now=NOW) == "10.0.0.1 10.0.0.2 no SA2 extension.\n"


def test_format_sa_ipcomp_has_no_newline_after_c() -> None:
    msg = esp_sa(satype=SAType.IPCOMP).without(ExtType.KEY_AUTH, ExtType.KEY_ENCRYPT)
    assert "\tC: 12 \tseq=0x00000000" in format_sa(msg, now=NOW)


def test_format_sa_freebsd_variant() -> None:
    msg = esp_sa(platform=FREEBSD).with_ext(SAReplayExt(64 * 8))
    lines = format_sa(msg, now=NOW, platform=FREEBSD).split("\n")
    assert lines[0] == "10.0.0.1 10.0.0.2"
    assert "replay=64 " in lines[4]
    assert "\tE: aes-cbc " in lines[2]
    assert format_sa(msg.without(ExtType.ADDRESS_SRC), now=NOW, platform=FREEBSD) == "\nno ADDRESS_SRC extension.\n"
    assert "flags2=0x00000000 state=mature " in format_sa(esp_sa(platform=DARWIN), now=NOW, platform=DARWIN)


def test_priority_text() -> None:
    assert priority_text(0) == ""
    assert priority_text(0x80000000) == "prio def"
    assert priority_text(0x80000000 - 10) == "prio def + 10"
    assert priority_text(0x80000000 + 5) == "prio def - 5"
    assert priority_text(0x40000000 + 1) == "prio high - 1"
    assert priority_text(0xC0000001) == "prio low - 1"
    assert priority_text(0x5FFFFFFF) == "prio high - 536870911"
    assert priority_text(0x60000000) == "prio def + 536870912"


def test_dump_policy_and_errors() -> None:
    reqs = (IpsecRequest(50, 2, 2, 0, sockaddr("1.1.1.1", 500), sockaddr("2.2.2.2", 4500)),
            IpsecRequest(51, 1, 3, 42), IpsecRequest(108, 1, 1, 0x4000))
    pol = policy(requests=reqs).get(ExtType.X_POLICY)
    assert dump_policy(pol, "|") == ("out prio def ipsec|esp/tunnel/1.1.1.1-2.2.2.2/require|ah/transport//unique:42"
                                     "|ipcomp/transport//use#16384")
    assert "esp/tunnel/1.1.1.1[500]-2.2.2.2[4500]/require" in dump_policy(pol, "|", withports=True)
    assert dump_policy(pol._replace(priority=0, policy_type=0)) == "out discard"
    for bad, reason in ((pol._replace(dir=9), "Invalid direction"), (pol._replace(policy_type=7),
                        "Invalid security policy"), (pol._replace(requests=(IpsecRequest(6, 1, 2),)),
                        "Invalid ipsec protocol")):
        try:
            dump_policy(bad)
        except PolicyTextError as exc:
            assert str(exc) == reason
        else:
            raise AssertionError("no error")
    text = format_sp(policy(ptype=2, requests=(IpsecRequest(50, 7, 2),)), now=NOW)
    assert "\n\tPolicy:[Invalid ipsec mode]\n" in text


def test_format_sp_selectors() -> None:
    assert format_sp(policy(proto=6, sport=80), now=NOW).startswith("10.0.0.0/24[80] 10.0.1.0/24[any] tcp\n\t")
    assert format_sp(policy(proto=1, sport=8), now=NOW).startswith("10.0.0.0/24 10.0.1.0/24 icmp 8,0\n")
    assert format_sp(policy(proto=47, sport=1, dport=2), now=NOW).startswith(
        "10.0.0.0/24 10.0.1.0/24 gre 65538\n")
    mismatch = policy().with_ext(policy(proto=6).get(ExtType.ADDRESS_SRC))
    assert format_sp(mismatch, now=NOW) == "upper layer protocol mismatched.\n"
    assert "(per-socket policy) " in format_sp(policy()._replace(extensions=(
        policy().get(ExtType.X_POLICY)._replace(id=11), *policy().extensions[1:])), now=NOW)


def test_format_sp_freebsd_variant() -> None:
    msg = policy(platform=FREEBSD, proto=58)
    text = format_sp(msg, now=NOW, platform=FREEBSD)
    assert text.startswith("10.0.0.0/24 10.0.1.0/24 icmp6\n\tout ipsec\n")
    assert "\tspid=9 seq=0 pid=4242 scope=0 \n\trefcnt=0\n" in text
    assert format_sp(policy(platform=FREEBSD), now=NOW, platform=FREEBSD).startswith(
        "10.0.0.0/24[any] 10.0.1.0/24[any] any\n")


def test_short_format() -> None:
    assert short_header() == "time p   s spi      ltime   src -> dst\n"
    assert format_short(esp_sa(), now=NOW) == "1320 esp M 00001000 100/big 10.0.0.1 -> 10.0.0.2\n"
    old = esp_sa(now=NOW - 5000)
    assert format_short(old, now=NOW) == "1320 esp M 00001000 big/big 10.0.0.1 -> 10.0.0.2\n"
    assert format_short(esp_sa(lifetimes=False, state=2, satype=9), now=NOW) == (
        "1320 #9  D 00001000 ???/??? 10.0.0.1 -> 10.0.0.2\n")
    assert format_short(esp_sa().without(ExtType.SA, ExtType.ADDRESS_DST), now=NOW).startswith("1320 esp? ?       ")


def test_postproc_dead_filter_and_errors() -> None:
    dead = esp_sa(state=3)
    assert postproc(dead, now=NOW) == ("", False)
    assert postproc(dead, now=NOW, options=DumpOptions(all_=True))[0].startswith("10.0.0.1 10.0.0.2 ")
    err = dead._replace(errno=errno.ENOENT, extensions=())
    assert postproc(err, now=NOW, prefix="The result of line 3: ") == (
        "The result of line 3: No SAD entries.\n", True)
    assert postproc(esp_sa(msg_type=MsgType.ADD), now=NOW) == ("", False)
    assert postproc(esp_sa(), now=NOW, options=DumpOptions(short=True))[0].startswith("1320 esp M")


def test_linux_is_default_platform() -> None:
    assert format_sa(esp_sa(), now=NOW) == format_sa(esp_sa(), now=NOW, platform=LINUX)


def test_format_sp_bare_spddump_header_prints_nothing() -> None:
    bare = Message(MsgType.X_SPDDUMP, 0, 0, 4242, 0, ())
    assert format_sp(bare, now=NOW) == ""
    assert postproc(bare, now=NOW) == ("", False)
    # An SPDGET answer without extensions is still reported as setkey does.
    assert format_sp(bare._replace(type=MsgType.X_SPDGET), now=NOW).startswith("(no selector, ")


def _scoped(addr: str, scope_id: int) -> Sockaddr:
    return sockaddr(addr)._replace(scope_id=scope_id)


def test_scoped_link_local_address_names_its_interface() -> None:
    lo = socket.if_nametoindex("lo")  # 1 on Linux, in the UML guest as on the host
    assert addr_text(_scoped("fe80::1", lo)) == "fe80::1%lo"
    assert addr_text(_scoped("ff02::1", lo)) == "ff02::1%lo"
    unused = max(index for index, _name in socket.if_nameindex()) + 1000
    assert addr_text(_scoped("fe80::1", unused)) == f"fe80::1%{unused}"
    # glibc names the interface only for link-local addresses; other scoped addresses keep the number.
    assert addr_text(_scoped("2001:db8::1", lo)) == f"2001:db8::1%{lo}"
    assert addr_text(_scoped("fe80::1", 0)) == "fe80::1"
    text = format_sp(policy()._replace(extensions=(
        policy().get(ExtType.X_POLICY),
        AddressExt(ExtType.ADDRESS_SRC, _scoped("fe80::", lo), 255, 64),
        AddressExt(ExtType.ADDRESS_DST, _scoped("fe80::1", lo), 255, 128))), now=NOW)
    assert text.startswith("fe80::%lo/64[any] fe80::1%lo[any] 255\n")
