"""The name tables setkey's printers use (satypes, modes, states, algorithms, IP protocols, policy words)."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from setkey_tui.pfkey.extensions import Sockaddr
from setkey_tui.pfkey.platform import LINUX, Platform

SATYPE_NAMES = ("unspec", "unknown", "ah", "esp", "unknown", "rsvp", "ospfv2", "ripv2", "mip", "ipcomp",
                "policy", "tcp")
MODE_NAMES = ("any", "transport", "tunnel")
STATE_NAMES = ("larval", "mature", "dying", "dead")
COMP_NAMES = ("none", "oui", "deflate", "lzs")

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

# setkey.c's own short table for -l (``#n`` for the others).
SHORT_PROTO_NAMES: dict[int, str] = {
    0: "ip", 1: "icmp", 2: "igmp", 3: "ggp", 4: "ip4", 6: "tcp", 8: "egp", 17: "udp", 22: "idp", 29: "tp",
    41: "ip6", 43: "rt6", 44: "frag6", 46: "rsvp", 47: "gre", 50: "esp", 51: "ah", 58: "icmp6", 59: "none",
    60: "dst6",
}

POLICY_DIR_NAMES = {0: "any", 1: "in", 2: "out", 3: "fwd", 4: "in(socket)", 5: "out(socket)"}
POLICY_DIR_NAMES_BSD = {0: "any", 1: "in", 2: "out"}
POLICY_TYPE_NAMES = ("discard", "none", "ipsec", "entrust", "bypass")
REQUEST_PROTO_NAMES = {50: "esp", 51: "ah", 108: "ipcomp"}
REQUEST_PROTO_NAMES_FREEBSD = {50: "esp", 51: "ah", 108: "ipcomp", 6: "tcp"}
LEVEL_NAMES = ("default", "use", "require", "unique")

IPPROTO_ICMP = 1
IPPROTO_GRE = 47
IPPROTO_ICMPV6 = 58
IPPROTO_MH = 135


def msgstr(table: tuple[str, ...], value: int) -> str:
    """setkey's GETMSGSTR: the name and one blank, or the number and one blank when unnamed."""
    if 0 <= value < len(table):
        return table[value] + " "
    return f"{value} "


def protocol_name(proto: int, platform: Platform = LINUX) -> str:
    """The upper-layer protocol as -DP prints it (FreeBSD/Darwin spell 255 ``any``, 4 ``ip4``, 58 ``icmp6``)."""
    if platform is not LINUX:
        special = {255: "any", 4: "ip4", 58: "icmp6"}.get(proto)
        if special:
            return special
    return PROTOCOL_NAMES.get(proto, str(proto))


@lru_cache(maxsize=4096)  # bounded: a dump streams in constant memory
def _addr_text(addr: bytes, scope_id: int) -> str:
    if len(addr) == 4:
        return f"{addr[0]}.{addr[1]}.{addr[2]}.{addr[3]}"
    text = str(ipaddress.IPv6Address(addr)) if len(addr) == 16 else addr.hex()
    return f"{text}%{scope_id}" if scope_id and len(addr) == 16 else text


def addr_text(sa: Sockaddr) -> str:
    """The numeric address of a sockaddr (``%scope`` for a scoped IPv6 address), cached."""
    return _addr_text(sa.addr, sa.scope_id)
