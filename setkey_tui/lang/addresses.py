"""Address and protocol lookups of the setkey language, done the way ipsec-tools does them.

Addresses go through ``getaddrinfo`` (hints: the ``-4``/``-6``/``-n`` flags, SOCK_DGRAM, UDP), so
hostnames are resolved exactly where ipsec-tools resolves them; numeric addresses take a fast path that
gives the same answer without a system call. Failures raise :class:`ResolveError` carrying glibc's
``gai_strerror`` text, which setkey prints as the error message.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from setkey_tui.pfkey.extensions import Sockaddr
from setkey_tui.pfkey.platform import AF_INET, LINUX, Platform

AddrInfo = tuple[int, bytes, int, int, int]  # (version 4/6, address bytes, port, flowinfo, scope_id)

# Replaceable for tests (never hit DNS there): same signature as socket.getaddrinfo.
getaddrinfo: Callable[..., list[tuple[Any, ...]]] = socket.getaddrinfo

_FAMILY = {0: socket.AF_UNSPEC, 4: socket.AF_INET, 6: socket.AF_INET6}


class ResolveError(Exception):
    """``getaddrinfo`` failed; ``str()`` is the ``gai_strerror`` text."""


def _numeric_port(port: str | None) -> int | None:
    if port is None:
        return 0
    if port.isascii() and port.isdigit() and len(port) <= 10:
        value = int(port)
        return value if value <= 0xFFFF else None
    return None


@lru_cache(maxsize=4096)
def _fast(host: str, port: int, family: int) -> tuple[AddrInfo, ...] | None:
    """Strict numeric IPv4 / scope-less IPv6 text, answered without getaddrinfo (None: ask libc)."""
    if "%" in host:
        return None
    version = 6 if ":" in host else 4
    if family and family != version:
        return None
    try:
        packed = socket.inet_pton(socket.AF_INET6 if version == 6 else socket.AF_INET, host)
    except (OSError, ValueError):
        return None
    return ((version, packed, port, 0, 0),)


_numeric_answers: dict[tuple[str, str | None, int], tuple[AddrInfo, ...]] = {}


def resolve(host: str, port: str | None = None, *, family: int = 0, numeric: bool = False) -> tuple[AddrInfo, ...]:
    """Every address ``getaddrinfo(host, port)`` gives, as setkey asks for it (``family`` 0, 4 or 6)."""
    key = (host, port, family)
    known = _numeric_answers.get(key)  # numeric answers only: they cannot change
    if known is not None:
        return known
    nport = _numeric_port(port)
    if nport is not None:
        fast = _fast(host, nport, family)
        if fast is not None:
            if len(_numeric_answers) >= 4096:
                _numeric_answers.clear()
            _numeric_answers[key] = fast
            return fast
    flags = socket.AI_NUMERICHOST if numeric else 0
    try:
        infos = getaddrinfo(host, port, _FAMILY[family], socket.SOCK_DGRAM, socket.IPPROTO_UDP, flags)
    except socket.gaierror as exc:
        raise ResolveError(exc.strerror or str(exc)) from None
    except (UnicodeError, ValueError) as exc:
        raise ResolveError("Name or service not known") from exc
    out: list[AddrInfo] = []
    for fam, _type, _proto, _canon, sa in infos:
        if fam == socket.AF_INET:
            out.append((4, socket.inet_pton(socket.AF_INET, sa[0]), sa[1], 0, 0))
        elif fam == socket.AF_INET6:
            addr = sa[0].split("%", 1)[0]
            out.append((6, socket.inet_pton(socket.AF_INET6, addr), sa[1], sa[2], sa[3]))
    if not out:
        raise ResolveError("Address family for hostname not supported")
    return tuple(out)


def to_sockaddr(info: AddrInfo, platform: Platform = LINUX) -> Sockaddr:
    """The PF_KEY sockaddr of one resolved address."""
    version, addr, port, flowinfo, scope = info
    family = AF_INET if version == 4 else platform.af_inet6
    return Sockaddr(family, port, addr, flowinfo, scope)


# Names getprotobyname() may not know but setkey accepts.
_PROTO_FALLBACK = {"icmp6": 58, "ip4": 4}


@lru_cache(maxsize=256)
def protocol_number(name: str) -> int | None:
    """``getprotobyname(name)`` (from /etc/protocols), then setkey's fallbacks; None if unknown."""
    try:
        return socket.getprotobyname(name)
    except OSError:
        return _PROTO_FALLBACK.get(name)
