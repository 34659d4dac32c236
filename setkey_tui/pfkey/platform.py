"""Platform profiles: how Linux, FreeBSD and Darwin number and lay out PF_KEY v2.

The codec works in canonical (Linux/RFC) extension numbers; a :class:`Platform` maps them to and from the
wire and says how sockaddrs and ipsec requests are laid out. Algorithm numbers stay as on the wire; the
platform's name tables translate them for display and for the setkey language.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from functools import cached_property

from setkey_tui.pfkey.constants import AUTH_ALGS, ENC_ALGS, AuthAlg, EncAlg, ExtType, MsgType

AF_INET = 2


@dataclass(frozen=True, eq=False)
class Platform:
    """One operating system's flavour of PF_KEY v2."""

    name: str
    af_inet6: int
    bsd_sockaddr: bool  # sockaddrs start with sa_len (u8) then family (u8)
    ipsecrequest_size: int  # 16 on Linux, 8 on KAME-derived kernels
    policy_priority: bool  # sadb_x_policy carries a priority (Linux)
    promisc_wraps: bool  # promiscuous copies come wrapped in an extra sadb_msg (BSD)
    ext_to_wire: dict[int, int] = field(repr=False)
    msg_to_wire: dict[int, int] = field(repr=False)
    byteorder: str = "<" if sys.byteorder == "little" else ">"
    auth_names: dict[int, str] = field(default_factory=dict, repr=False)
    enc_names: dict[int, str] = field(default_factory=dict, repr=False)

    @cached_property
    def ext_from_wire(self) -> dict[int, int]:
        """Wire extension number → canonical number (computed once per profile)."""
        return {w: c for c, w in self.ext_to_wire.items()}

    @cached_property
    def msg_from_wire(self) -> dict[int, int]:
        """Wire message type → canonical :class:`MsgType` number (computed once per profile)."""
        return {w: c for c, w in self.msg_to_wire.items()}

    @property
    def af_inet(self) -> int:
        """AF_INET (2 everywhere)."""
        return AF_INET

    def sockaddr_size(self, family: int) -> int | None:
        """Size of a sockaddr of ``family`` (16 for IPv4, 28 for IPv6), None for others."""
        if family == AF_INET:
            return 16
        if family == self.af_inet6:
            return 28
        return None

    def family_of_version(self, version: int) -> int:
        """The address family number for IP version 4 or 6."""
        return AF_INET if version == 4 else self.af_inet6


_BASE = {int(e): int(e) for e in ExtType if 1 <= e <= 19}

_LINUX_EXTS = {**_BASE, **{int(e): int(e) for e in ExtType if 20 <= e <= 26}}
_FREEBSD_EXTS = {
    **_BASE,
    ExtType.X_NAT_T_TYPE: 20,
    ExtType.X_NAT_T_SPORT: 21,
    ExtType.X_NAT_T_DPORT: 22,
    ExtType.X_NAT_T_OA: 23,
    ExtType.X_NAT_T_OAR: 24,
    ExtType.X_NAT_T_FRAG: 25,
    ExtType.X_SA_REPLAY: 26,
    ExtType.X_NEW_ADDRESS_SRC: 27,
    ExtType.X_NEW_ADDRESS_DST: 28,
}
_DARWIN_EXTS = dict(_BASE)

# Message types: 0–22 are shared; Linux and NetBSD add NAT_T_NEW_MAPPING and MIGRATE, Darwin numbers its own.
_SHARED_MSGS = {int(m): int(m) for m in MsgType if m <= MsgType.X_SPDDELETE2}
_LINUX_MSGS = {**_SHARED_MSGS, MsgType.X_NAT_T_NEW_MAPPING: 23, MsgType.X_MIGRATE: 24}
_DARWIN_MSGS = {
    **_SHARED_MSGS,
    MsgType.X_GETSASTAT: 23,
    MsgType.X_SPDENABLE: 24,
    MsgType.X_SPDDISABLE: 25,
    MsgType.X_MIGRATE: 26,
}

# Display names of algorithms as setkey's pfkey_dump prints them (ipsec-tools on Linux): the constants' names
# of the algorithms it knows, except that libipsec spells the keyed (non-HMAC) MD5 and SHA-1 "md5" and "sha".
_LINUX_AUTH = {
    **{a: AUTH_ALGS.name(a) for a in (
        AuthAlg.NONE, AuthAlg.MD5HMAC, AuthAlg.SHA1HMAC, AuthAlg.X_NULL, AuthAlg.X_TCP_MD5, AuthAlg.SHA2_256HMAC,
        AuthAlg.SHA2_384HMAC, AuthAlg.SHA2_512HMAC, AuthAlg.RIPEMD160HMAC, AuthAlg.AES_XCBC_MAC)},
    AuthAlg.X_MD5: "md5",
    AuthAlg.X_SHA: "sha",
}
_LINUX_ENC = {
    e: ENC_ALGS.name(e) for e in (
        EncAlg.NONE, EncAlg.DESCBC, EncAlg.TRIPLEDESCBC, EncAlg.NULL, EncAlg.CASTCBC, EncAlg.BLOWFISHCBC,
        EncAlg.AESCBC, EncAlg.TWOFISHCBC, EncAlg.AESCTR, EncAlg.CAMELLIACBC, EncAlg.SERPENTCBC,
        EncAlg.AES_GCM_ICV16)
}
# The BSD and Darwin setkeys' own spellings (and Darwin's own numbers).
_FREEBSD_AUTH = {
    0: "none",
    2: "hmac-md5",
    3: "hmac-sha1",
    5: "hmac-sha2-256",
    6: "hmac-sha2-384",
    7: "hmac-sha2-512",
    8: "hmac-ripemd160",
    9: "aes-xcbc-mac",
    249: "md5",
    250: "sha",
    251: "null",
    252: "tcp-md5",
}
_FREEBSD_ENC = {
    0: "none",
    2: "des-cbc",
    3: "3des-cbc",
    6: "cast128-cbc",
    7: "blowfish-cbc",
    11: "null",
    12: "aes-cbc",
    13: "aes-ctr",
    20: "aes-gcm-16",
    22: "camellia-cbc",
}
_DARWIN_AUTH = {
    0: "none",
    1: "hmac-md5",
    2: "hmac-sha1",
    3: "md5",
    4: "sha",
    5: "null",
    6: "hmac-sha256",
    7: "hmac-sha384",
    8: "hmac-sha512",
}
_DARWIN_ENC = {
    0: "none",
    1: "des-cbc",
    2: "3des-cbc",
    3: "null",
    4: "blowfish-cbc",
    5: "cast128-cbc",
    12: "aes-cbc",
    13: "aes-gcm",
    14: "chacha20-poly1305",
    15: "aes-gmac",
}

LINUX = Platform(
    name="linux",
    af_inet6=10,
    bsd_sockaddr=False,
    ipsecrequest_size=16,
    policy_priority=True,
    promisc_wraps=False,
    ext_to_wire=_LINUX_EXTS,
    msg_to_wire={int(k): v for k, v in _LINUX_MSGS.items()},
    auth_names={int(k): v for k, v in _LINUX_AUTH.items()},
    enc_names={int(k): v for k, v in _LINUX_ENC.items()},
)
FREEBSD = Platform(
    name="freebsd",
    af_inet6=28,
    bsd_sockaddr=True,
    ipsecrequest_size=8,
    policy_priority=False,
    promisc_wraps=True,
    ext_to_wire={int(k): v for k, v in _FREEBSD_EXTS.items()},
    msg_to_wire={int(k): v for k, v in _LINUX_MSGS.items()},  # NetBSD's 23/24 = Linux's
    auth_names=_FREEBSD_AUTH,
    enc_names=_FREEBSD_ENC,
)
DARWIN = Platform(
    name="darwin",
    af_inet6=30,
    bsd_sockaddr=True,
    ipsecrequest_size=8,
    policy_priority=False,
    promisc_wraps=True,
    ext_to_wire=_DARWIN_EXTS,
    msg_to_wire={int(k): v for k, v in _DARWIN_MSGS.items()},
    auth_names=_DARWIN_AUTH,
    enc_names=_DARWIN_ENC,
)

PLATFORMS: dict[str, Platform] = {p.name: p for p in (LINUX, FREEBSD, DARWIN)}


def by_name(name: str) -> Platform:
    """The profile called ``name`` (linux, freebsd, darwin); ValueError otherwise."""
    try:
        return PLATFORMS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown platform {name!r} (choose from {', '.join(PLATFORMS)})") from None


def current() -> Platform:
    """The profile of the running OS (Linux for anything that is not a BSD or Darwin)."""
    if sys.platform.startswith("freebsd") or sys.platform.startswith("netbsd"):
        return FREEBSD
    if sys.platform == "darwin":
        return DARWIN
    return LINUX
