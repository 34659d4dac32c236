r"""setkey's printed names: derived from the tables of :mod:`setkey_tui.pfkey.constants`, and setkey's own
spellings only where they differ from them (each difference says why).

This is the one place of setkey's spellings; everything else (the mirror, the TUI, the simulated kernel) names
numbers through ``pfkey/constants.py``'s :class:`~setkey_tui.pfkey.constants.NameTable`\ s.
"""

from __future__ import annotations

import ipaddress
import socket
from functools import lru_cache

from setkey_tui.pfkey.constants import (
    COMP_ALGS,
    DIRECTIONS,
    IPSEC_PROTOS,
    IPSEC_ULPROTO_ANY,
    LEVELS,
    MODES,
    POLICY_TYPES,
    SA_STATES,
    SA_TYPES,
    CompAlg,
    Direction,
    IpsecProto,
    Level,
    Mode,
    MsgType,
    PolicyType,
    SAState,
    SAType,
)
from setkey_tui.pfkey.extensions import Sockaddr
from setkey_tui.pfkey.platform import LINUX, Platform

# Upper-layer protocol numbers named in this module and by the language's users (IANA numbers).
IPPROTO_ICMP = 1
IPPROTO_IPIP = 4
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPPROTO_GRE = 47
IPPROTO_ICMPV6 = 58
IPPROTO_SCTP = 132
IPPROTO_MH = 135

# libipsec's str_satype[] (indexed by satype, 0..11): the RFC names, except that the numbers without an
# SADB_SATYPE name print "unknown" and the KAME-only 10 prints "policy".
SATYPE_NAMES: tuple[str, ...] = tuple(
    {1: "unknown", 4: "unknown", 10: "policy"}.get(n, SA_TYPES.name(n)) for n in range(12)
)
# libipsec's str_mode[]: no BEET (Linux's mode 3 prints as its number).
MODE_NAMES: tuple[str, ...] = tuple(MODES.name(m) for m in (Mode.ANY, Mode.TRANSPORT, Mode.TUNNEL))
STATE_NAMES: tuple[str, ...] = tuple(SA_STATES.name(s) for s in SAState)
# libipsec's str_alg_comp[]: stops at lzs.
COMP_NAMES: tuple[str, ...] = tuple(COMP_ALGS.name(c) for c in (CompAlg.NONE, CompAlg.OUI, CompAlg.DEFLATE,
                                                                CompAlg.LZS))
_DIRS = (Direction.ANY, Direction.INBOUND, Direction.OUTBOUND)
# Linux numbers a socket's own policies after the three directions: libipsec prints "in(socket)" and
# "out(socket)" for them where the constants say "max"/"invalid" (ipsec.h's IPSEC_DIR_MAX/INVALID). BSD
# libipsec knows only any/in/out.
POLICY_DIR_NAMES: dict[int, str] = {
    **{int(d): DIRECTIONS.name(d) for d in (*_DIRS, Direction.FWD)},
    Direction.MAX: "in(socket)",
    Direction.INVALID: "out(socket)",
}
POLICY_DIR_NAMES_BSD: dict[int, str] = {int(d): DIRECTIONS.name(d) for d in _DIRS}
POLICY_TYPE_NAMES: tuple[str, ...] = tuple(POLICY_TYPES.name(p) for p in PolicyType)
REQUEST_PROTO_NAMES: dict[int, str] = {int(p): IPSEC_PROTOS.name(p) for p in IpsecProto}
# FreeBSD's libipsec also names TCP-MD5 requests.
REQUEST_PROTO_NAMES_FREEBSD: dict[int, str] = {**REQUEST_PROTO_NAMES, IPPROTO_TCP: "tcp"}
LEVEL_NAMES: tuple[str, ...] = tuple(LEVELS.name(lv) for lv in Level)

# setkey.c's -l (short dump) columns: its own one-letter states and its two satypes ("#N" for the others).
SHORT_SATYPE_NAMES: dict[int, str] = {n: SA_TYPES.name(n) for n in (SAType.AH, SAType.ESP)}
SHORT_STATE_NAMES: tuple[str, ...] = ("L", "M", "D", "d")

# FreeBSD's kernel key_debug.c prints the name after the number: the message types are the constants' names;
# the extension names are its own (wire numbering, FreeBSD's NAT-T and replay extensions after 22).
FB_MSG_NAMES: tuple[str, ...] = tuple(MsgType(n).name for n in range(MsgType.X_SPDDELETE2 + 1))
FB_EXT_NAMES: tuple[str, ...] = (
    "RESERVED", "SA", "LIFETIME_CURRENT", "LIFETIME_HARD", "LIFETIME_SOFT", "ADDRESS_SRC", "ADDRESS_DST",
    "ADDRESS_PROXY", "KEY_AUTH", "KEY_ENCRYPT", "IDENTITY_SRC", "IDENTITY_DST", "SENSITIVITY", "PROPOSAL",
    "SUPPORTED_AUTH", "SUPPORTED_ENCRYPT", "SPIRANGE", "KMPRIVATE", "POLICY", "SA2", "NAT_T_TYPE",
    "NAT_T_SPORT", "NAT_T_DPORT", "NAT_T_OAI", "NAT_T_OAR", "NAT_T_FRAG", "SA_REPLAY", "NEW_ADDRESS_SRC",
    "NEW_ADDRESS_DST",
)

# The protocol names of Debian 12's /etc/protocols (netbase), which setkey reads through
# getprotobynumber(); embedded so output does not depend on the host.
PROTOCOL_NAMES: dict[int, str] = {
    0: "ip", 1: "icmp", 2: "igmp", 3: "ggp", 4: "ipencap", 5: "st", 6: "tcp", 8: "egp", 9: "igp", 12: "pup",
    17: "udp", 20: "hmp", 22: "xns-idp", 27: "rdp", 29: "iso-tp4", 33: "dccp", 36: "xtp", 37: "ddp",
    38: "idpr-cmtp", 41: "ipv6", 43: "ipv6-route", 44: "ipv6-frag", 45: "idrp", 46: "rsvp", 47: "gre",
    50: "esp", 51: "ah", 57: "skip", 58: "ipv6-icmp", 59: "ipv6-nonxt", 60: "ipv6-opts", 73: "rspf",
    81: "vmtp", 88: "eigrp", 89: "ospf", 93: "ax.25", 94: "ipip", 97: "etherip", 98: "encap", 103: "pim",
    108: "ipcomp", 112: "vrrp", 115: "l2tp", 124: "isis", 132: "sctp", 133: "fc", 135: "mobility-header",
    136: "udplite", 137: "mpls-in-ip", 138: "manet", 139: "hip", 140: "shim6", 141: "wesp", 142: "rohc",
    143: "ethernet",
}
# Upper-layer protocols as the setkey *language* spells them (what a user writes after the selector, and what
# an exported statement says): the /etc/protocols names, plus setkey's keywords icmp6 and any.
UPPER_PROTOCOL_WORDS: dict[int, str] = {**PROTOCOL_NAMES, 58: "icmp6", IPSEC_ULPROTO_ANY: "any"}

# setkey.c's own short table for -l (``#n`` for the others).
SHORT_PROTO_NAMES: dict[int, str] = {
    0: "ip", 1: "icmp", 2: "igmp", 3: "ggp", 4: "ip4", 6: "tcp", 8: "egp", 17: "udp", 22: "idp", 29: "tp",
    41: "ip6", 43: "rt6", 44: "frag6", 46: "rsvp", 47: "gre", 50: "esp", 51: "ah", 58: "icmp6", 59: "none",
    60: "dst6",
}


def msgstr(table: tuple[str, ...], value: int) -> str:
    """setkey's GETMSGSTR: the name and one blank, or the number and one blank when unnamed."""
    if 0 <= value < len(table):
        return table[value] + " "
    return f"{value} "


def protocol_name(proto: int, platform: Platform = LINUX) -> str:
    """The upper-layer protocol as -DP prints it (FreeBSD/Darwin spell 255 ``any``, 4 ``ip4``, 58 ``icmp6``)."""
    if platform is not LINUX:
        special = {IPSEC_ULPROTO_ANY: "any", IPPROTO_IPIP: "ip4", IPPROTO_ICMPV6: "icmp6"}.get(proto)
        if special:
            return special
    return PROTOCOL_NAMES.get(proto, str(proto))


@lru_cache(maxsize=4096)  # bounded: a dump streams in constant memory
def _addr_text(addr: bytes) -> str:
    if len(addr) == 4:
        return f"{addr[0]}.{addr[1]}.{addr[2]}.{addr[3]}"
    return str(ipaddress.IPv6Address(addr)) if len(addr) == 16 else addr.hex()


def scope_text(addr: bytes, scope_id: int) -> str:
    """An IPv6 scope as glibc's ``getnameinfo(NI_NUMERICHOST)`` writes it: the interface name for a
    link-local address whose index names an interface on this host, the number otherwise.

    Looked up on every call (not cached): interfaces come and go while a monitor runs.
    """
    link_local = (addr[0] == 0xFE and addr[1] & 0xC0 == 0x80) or (addr[0] == 0xFF and addr[1] & 0x0F == 0x02)
    if link_local:
        try:
            return socket.if_indextoname(scope_id)
        except (OSError, OverflowError):
            pass
    return str(scope_id)


def addr_text(sa: Sockaddr) -> str:
    """The numeric address of a sockaddr, with ``%scope`` for a scoped IPv6 address (see
    :func:`scope_text`)."""
    text = _addr_text(sa.addr)
    if sa.scope_id and len(sa.addr) == 16:
        return f"{text}%{scope_text(sa.addr, sa.scope_id)}"
    return text
