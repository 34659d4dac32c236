"""Typed PF_KEY v2 extensions: immutable named tuples, one per ``sadb_*`` structure.

Extension types are canonical (Linux/RFC numbering, see :class:`ExtType`); algorithm ids and address
families are kept as on the wire. ``trailer`` holds bytes after the structure's content that are not the
canonical zero padding, so that re-encoding a decoded message gives back the very same bytes.
"""

from __future__ import annotations

import ipaddress
from typing import NamedTuple

from setkey_tui.pfkey.constants import ExtType

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Sockaddr(NamedTuple):
    """A ``sockaddr_in`` / ``sockaddr_in6`` (port in host order here, network order on the wire)."""

    family: int
    port: int
    addr: bytes  # 4 or 16 bytes
    flowinfo: int = 0
    scope_id: int = 0
    sa_len: int = 0  # BSD only; 0 means "the natural size"
    zero: bytes = b""  # the bytes after the address (sin_zero; BSD: up to sa_len) when not all zero

    @property
    def ip(self) -> IPAddress:
        """The address as an :mod:`ipaddress` object."""
        return ipaddress.ip_address(self.addr)

    @property
    def version(self) -> int:
        """4 or 6."""
        return 4 if len(self.addr) == 4 else 6

    def text(self) -> str:
        """The numeric address, with ``%scope`` for a scoped IPv6 address."""
        s = str(self.ip)
        if self.scope_id and len(self.addr) == 16:
            s += f"%{self.scope_id}"
        return s


class SAExt(NamedTuple):
    """``sadb_sa``."""

    spi: int
    replay: int = 0
    state: int = 0
    auth: int = 0
    encrypt: int = 0
    flags: int = 0
    ext_type: int = ExtType.SA
    trailer: bytes = b""


class LifetimeExt(NamedTuple):
    """``sadb_lifetime`` (current, hard or soft): ``byte_count`` is ``sadb_lifetime_bytes``."""

    ext_type: int
    allocations: int = 0
    byte_count: int = 0
    addtime: int = 0
    usetime: int = 0
    trailer: bytes = b""


# Read-only alias of the field's old name (which shadowed the ``bytes`` type in the class body), kept until
# the mirror, the service and the simulated kernel read ``byte_count``. Not in the constructor or _replace.
setattr(LifetimeExt, "bytes", property(lambda self: self.byte_count, doc="Old name of ``byte_count``."))  # noqa: B010


class AddressExt(NamedTuple):
    """``sadb_address`` followed by its sockaddr."""

    ext_type: int
    sockaddr: Sockaddr
    proto: int = 0
    prefixlen: int = 0
    reserved: int = 0
    trailer: bytes = b""


class KeyExt(NamedTuple):
    """``sadb_key``; ``key`` holds ceil(bits/8) bytes."""

    ext_type: int
    bits: int
    key: bytes
    reserved: int = 0
    trailer: bytes = b""


class IdentityExt(NamedTuple):
    """``sadb_ident``; ``data`` is everything after the fixed part (NUL-padded string)."""

    ext_type: int
    ident_type: int
    id: int = 0
    data: bytes = b""
    reserved: int = 0

    @property
    def string(self) -> bytes:
        """The identity string without its NUL padding."""
        return self.data.split(b"\0", 1)[0]


class SensitivityExt(NamedTuple):
    """``sadb_sens`` and its bitmaps (kept as bytes)."""

    dpd: int = 0
    sens_level: int = 0
    sens_len: int = 0
    integ_level: int = 0
    integ_len: int = 0
    reserved: int = 0
    bitmaps: bytes = b""
    ext_type: int = ExtType.SENSITIVITY


class Comb(NamedTuple):
    """``sadb_comb``: one acceptable algorithm combination of a proposal."""

    auth: int = 0
    encrypt: int = 0
    flags: int = 0
    auth_minbits: int = 0
    auth_maxbits: int = 0
    encrypt_minbits: int = 0
    encrypt_maxbits: int = 0
    reserved: int = 0
    soft_allocations: int = 0
    hard_allocations: int = 0
    soft_bytes: int = 0
    hard_bytes: int = 0
    soft_addtime: int = 0
    hard_addtime: int = 0
    soft_usetime: int = 0
    hard_usetime: int = 0


class ProposalExt(NamedTuple):
    """``sadb_prop`` followed by its combinations."""

    replay: int = 0
    combs: tuple[Comb, ...] = ()
    reserved: bytes = b"\0\0\0"
    ext_type: int = ExtType.PROPOSAL
    trailer: bytes = b""


class Alg(NamedTuple):
    """``sadb_alg``: one supported algorithm (bits)."""

    id: int
    ivlen: int = 0
    minbits: int = 0
    maxbits: int = 0
    reserved: int = 0


class SupportedExt(NamedTuple):
    """``sadb_supported`` (auth or encrypt list)."""

    ext_type: int
    algs: tuple[Alg, ...] = ()
    reserved: int = 0
    trailer: bytes = b""


class SPIRangeExt(NamedTuple):
    """``sadb_spirange``."""

    min: int
    max: int
    reserved: int = 0
    ext_type: int = ExtType.SPIRANGE
    trailer: bytes = b""


class KMPrivateExt(NamedTuple):
    """``sadb_x_kmprivate`` and its opaque payload."""

    reserved: int = 0
    data: bytes = b""
    ext_type: int = ExtType.X_KMPRIVATE


class IpsecRequest(NamedTuple):
    """``sadb_x_ipsecrequest``: one transform of a policy (tunnel endpoints when in tunnel mode)."""

    proto: int
    mode: int
    level: int
    reqid: int = 0
    src: Sockaddr | None = None
    dst: Sockaddr | None = None
    reserved1: int = 0
    reserved2: int = 0


class PolicyExt(NamedTuple):
    """``sadb_x_policy`` and its requests."""

    policy_type: int
    dir: int
    id: int = 0
    priority: int = 0
    requests: tuple[IpsecRequest, ...] = ()
    reserved: int = 0
    ext_type: int = ExtType.X_POLICY
    trailer: bytes = b""


class SA2Ext(NamedTuple):
    """``sadb_x_sa2``."""

    mode: int = 0
    reqid: int = 0
    sequence: int = 0
    reserved1: int = 0
    reserved2: int = 0
    ext_type: int = ExtType.X_SA2
    trailer: bytes = b""


class NatTTypeExt(NamedTuple):
    """``sadb_x_nat_t_type``."""

    type: int
    reserved: bytes = b"\0\0\0"
    ext_type: int = ExtType.X_NAT_T_TYPE
    trailer: bytes = b""


class NatTPortExt(NamedTuple):
    """``sadb_x_nat_t_port`` (source or destination; port in host order here)."""

    ext_type: int
    port: int
    reserved: int = 0
    trailer: bytes = b""


class SecCtxExt(NamedTuple):
    """``sadb_x_sec_ctx`` (Linux security label)."""

    doi: int
    alg: int
    ctx: bytes
    ext_type: int = ExtType.X_SEC_CTX
    trailer: bytes = b""


class KMAddressExt(NamedTuple):
    """``sadb_x_kmaddress`` (Linux MIGRATE): the key managers' addresses."""

    local: Sockaddr
    remote: Sockaddr
    reserved: int = 0
    ext_type: int = ExtType.X_KMADDRESS
    trailer: bytes = b""


class FilterExt(NamedTuple):
    """``sadb_x_filter`` (Linux dump filter)."""

    saddr: bytes
    daddr: bytes
    family: int
    splen: int = 0
    dplen: int = 0
    ext_type: int = ExtType.X_FILTER
    trailer: bytes = b""


class SAReplayExt(NamedTuple):
    """``sadb_x_sa_replay`` (FreeBSD): replay window in packets."""

    replay: int
    ext_type: int = ExtType.X_SA_REPLAY
    trailer: bytes = b""


class NatTFragExt(NamedTuple):
    """``sadb_x_nat_t_frag`` (BSD)."""

    fraglen: int
    reserved: int = 0
    ext_type: int = ExtType.X_NAT_T_FRAG
    trailer: bytes = b""


class RawExt(NamedTuple):
    """An extension this platform does not know; ``wire_type`` and body kept verbatim."""

    wire_type: int
    data: bytes

    @property
    def ext_type(self) -> int:
        """Unknown extensions answer with their wire number."""
        return self.wire_type


Extension = (
    SAExt
    | LifetimeExt
    | AddressExt
    | KeyExt
    | IdentityExt
    | SensitivityExt
    | ProposalExt
    | SupportedExt
    | SPIRangeExt
    | KMPrivateExt
    | PolicyExt
    | SA2Ext
    | NatTTypeExt
    | NatTPortExt
    | SecCtxExt
    | KMAddressExt
    | FilterExt
    | SAReplayExt
    | NatTFragExt
    | RawExt
)
