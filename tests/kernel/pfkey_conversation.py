"""Helpers of the real-kernel tests: build PF_KEY requests, talk to a kernel, check its replies.

`Conversation` sends a request and waits for the reply carrying the same type, seq and pid while other
messages (broadcasts, expiries) are kept for later; `dump`/`spddump` gather a multi-message dump until seq 0.
Works over any Transport (the real PFKeySocket, or a simulated kernel's).
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from time import monotonic

from setkey_tui.kernel.base import Transport, TransportError
from setkey_tui.kernel.choose import open_transport as open_spec
from setkey_tui.pfkey.constants import (
    PF_KEY,
    PF_KEY_V2,
    AuthAlg,
    CompAlg,
    Direction,
    EncAlg,
    ExtType,
    Level,
    Mode,
    MsgType,
    PolicyType,
    SAState,
    SAType,
)
from setkey_tui.pfkey.extensions import (
    AddressExt,
    IpsecRequest,
    KeyExt,
    LifetimeExt,
    PolicyExt,
    SA2Ext,
    SAExt,
    Sockaddr,
)
from setkey_tui.pfkey.message import Message, decode
from setkey_tui.pfkey.platform import LINUX

__all__ = [
    "AuthAlg",
    "CompAlg",
    "Conversation",
    "Direction",
    "EncAlg",
    "SAMPLE_SAS",
    "SampleSA",
    "SamplePolicy",
    "open_transport",
    "pfkey_available",
]

AF_INET, AF_INET6 = 2, 10
IPPROTO_ESP = 50
ANY_PROTO = 255


def pfkey_available() -> bool:
    """Whether this kernel has PF_KEY (socket(15, SOCK_RAW, 2) opens)."""
    try:
        socket.socket(PF_KEY, socket.SOCK_RAW, PF_KEY_V2).close()
    except OSError:
        return False
    return True


def open_transport(spec: str) -> Transport:
    """A transport on the kernel `spec` names (pfkey, sim@PATH, ...), Linux numbering."""
    return open_spec(spec, platform=LINUX)


def sockaddr(address: str, port: int = 0) -> Sockaddr:
    """A sockaddr_in/sockaddr_in6 for a numeric address."""
    ip = ipaddress.ip_address(address)
    return Sockaddr(AF_INET if ip.version == 4 else AF_INET6, port, ip.packed)


def address_ext(
    ext_type: int, address: str, prefixlen: int | None = None, proto: int = ANY_PROTO
) -> AddressExt:
    """An ADDRESS_SRC/DST extension (prefix length: the full address unless given)."""
    sa = sockaddr(address)
    full = 32 if sa.family == AF_INET else 128
    return AddressExt(ext_type, sa, proto, full if prefixlen is None else prefixlen)


def header(msg_type: int, satype: int = 0) -> Message:
    """A request without extensions (REGISTER, DUMP, FLUSH, SPDDUMP, SPDFLUSH)."""
    return Message(msg_type, satype)


def spi_of(msg: Message) -> int:
    """The SPI of the SA extension of a message."""
    sa = msg.get(ExtType.SA)
    assert sa is not None, f"{msg.type_name} has no SA extension"
    return sa.spi


def state_of(msg: Message) -> int:
    """The sadb_sa_state of a reply."""
    sa = msg.get(ExtType.SA)
    assert sa is not None, f"{msg.type_name} (errno {msg.errno}) has no SA extension"
    return sa.state


@dataclass(frozen=True)
class SampleSA:
    """One SA as a test means it; builds the ADD/GET/DELETE requests for it."""

    name: str
    satype: int
    spi: int
    src: str = "10.0.0.1"
    dst: str = "10.0.0.2"
    auth: tuple[int, bytes] | None = None
    enc: tuple[int, bytes] | None = None
    comp: int | None = None
    mode: int = Mode.ANY
    reqid: int = 0
    soft: int | None = None
    hard: int | None = None

    def sa_ext(self) -> SAExt:
        """The sadb_sa of the ADD request (state mature, as setkey sends it)."""
        encrypt = self.comp if self.comp is not None else (self.enc[0] if self.enc else 0)
        return SAExt(self.spi, 0, SAState.MATURE, self.auth[0] if self.auth else 0, encrypt)

    def _addresses(self) -> tuple[AddressExt, AddressExt]:
        return address_ext(ExtType.ADDRESS_SRC, self.src), address_ext(ExtType.ADDRESS_DST, self.dst)

    def add(self) -> Message:
        """SADB_ADD for this SA."""
        exts: list = [self.sa_ext(), SA2Ext(self.mode, self.reqid), *self._addresses()]
        if self.hard is not None:
            exts.append(LifetimeExt(ExtType.LIFETIME_HARD, addtime=self.hard))
        if self.soft is not None:
            exts.append(LifetimeExt(ExtType.LIFETIME_SOFT, addtime=self.soft))
        if self.auth is not None and self.auth[1]:
            exts.append(KeyExt(ExtType.KEY_AUTH, len(self.auth[1]) * 8, self.auth[1]))
        if self.enc is not None:  # setkey sends a 0-bit key for null; Linux refuses ESP without one
            exts.append(KeyExt(ExtType.KEY_ENCRYPT, len(self.enc[1]) * 8, self.enc[1]))
        return Message(MsgType.ADD, self.satype, extensions=tuple(exts))

    def _by_key(self, msg_type: int) -> Message:
        return Message(msg_type, self.satype, extensions=(SAExt(self.spi), *self._addresses()))

    def get(self) -> Message:
        """SADB_GET for this SA."""
        return self._by_key(MsgType.GET)

    def delete(self) -> Message:
        """SADB_DELETE for this SA."""
        return self._by_key(MsgType.DELETE)


def esp_sa(spi: int, *, src: str = "10.0.0.1", dst: str = "10.0.0.2", **kw: object) -> SampleSA:
    """An ESP SA (aes-cbc 128 + hmac-sha1 unless `enc`/`auth` are given)."""
    kw.setdefault("enc", (EncAlg.AESCBC, bytes(range(16))))
    kw.setdefault("auth", (AuthAlg.SHA1HMAC, bytes(range(20))))
    return SampleSA(f"esp-{spi:x}", SAType.ESP, spi, src, dst, **kw)  # type: ignore[arg-type]


def ah_sa(spi: int, *, src: str = "10.0.0.1", dst: str = "10.0.0.2", **kw: object) -> SampleSA:
    """An AH SA (hmac-sha256 unless `auth` is given)."""
    kw.setdefault("auth", (AuthAlg.SHA2_256HMAC, bytes(range(32))))
    return SampleSA(f"ah-{spi:x}", SAType.AH, spi, src, dst, **kw)  # type: ignore[arg-type]


def ipcomp_sa(cpi: int, *, family: int = 4) -> SampleSA:
    """An IPComp SA with deflate."""
    src, dst = ("10.0.0.1", "10.0.0.2") if family == 4 else ("2001:db8::1", "2001:db8::2")
    return SampleSA(f"ipcomp-{cpi:x}", SAType.IPCOMP, cpi, src, dst, comp=CompAlg.DEFLATE)


V6 = {"src": "2001:db8::1", "dst": "2001:db8::2"}
SAMPLE_SAS: tuple[SampleSA, ...] = (
    esp_sa(0x1001),
    esp_sa(0x1002, enc=(EncAlg.TRIPLEDESCBC, bytes(range(24))), auth=(AuthAlg.SHA2_512HMAC, bytes(64)), **V6),
    esp_sa(0x1003, enc=(EncAlg.NULL, b""), auth=None, mode=Mode.TUNNEL, reqid=5),
    ah_sa(0x2001),
    ah_sa(0x2002, auth=(AuthAlg.MD5HMAC, bytes(range(16))), **V6),
    ipcomp_sa(0x3001),
    ipcomp_sa(0x3002, family=6),
)


def assert_sa_reply(reply: Message, sa: SampleSA) -> None:
    """The reply describes `sa`: SPI, state, algorithms, addresses, keys, mode and reqid."""
    assert reply.errno == 0, f"{reply.type_name} failed with errno {reply.errno}"
    assert reply.satype == sa.satype
    ext = reply.get(ExtType.SA)
    assert ext is not None
    want = sa.sa_ext()
    assert (ext.spi, ext.state, ext.auth, ext.encrypt) == (sa.spi, SAState.MATURE, want.auth, want.encrypt)
    src, dst = reply.get(ExtType.ADDRESS_SRC), reply.get(ExtType.ADDRESS_DST)
    assert src is not None and dst is not None
    assert (src.sockaddr.text(), dst.sockaddr.text()) == (sa.src, sa.dst)
    for ext_type, given in ((ExtType.KEY_AUTH, sa.auth), (ExtType.KEY_ENCRYPT, sa.enc)):
        key = reply.get(ext_type)
        if given is not None and given[1]:
            assert key is not None and (key.bits, key.key) == (len(given[1]) * 8, given[1])
    sa2 = reply.get(ExtType.X_SA2)
    assert sa2 is not None
    assert (sa2.mode, sa2.reqid) == (Mode.TRANSPORT if sa.mode == Mode.ANY else sa.mode, sa.reqid)


@dataclass(frozen=True)
class SamplePolicy:
    """One IPsec policy: a selector, a direction and one ESP tunnel request at `level`."""

    family: int
    level: int
    direction: int = Direction.OUTBOUND
    reqid: int = 0

    @property
    def nets(self) -> tuple[tuple[str, int], tuple[str, int]]:
        """(source, prefix) and (destination, prefix) of the selector."""
        if self.family == 4:
            return ("10.1.0.0", 24), ("10.2.0.0", 24)
        return ("2001:db8:1::", 64), ("2001:db8:2::", 64)

    @property
    def tunnel(self) -> tuple[str, str]:
        """The tunnel endpoints of the request."""
        return ("192.168.0.1", "192.168.0.2") if self.family == 4 else ("fd00::1", "fd00::2")

    def _selector(self) -> tuple[AddressExt, AddressExt]:
        (s, sp), (d, dp) = self.nets
        return address_ext(ExtType.ADDRESS_SRC, s, sp), address_ext(ExtType.ADDRESS_DST, d, dp)

    def add(self) -> Message:
        """SADB_X_SPDADD of this policy."""
        t_src, t_dst = self.tunnel
        request = IpsecRequest(
            IPPROTO_ESP, Mode.TUNNEL, self.level, self.reqid, sockaddr(t_src), sockaddr(t_dst)
        )
        policy = PolicyExt(PolicyType.IPSEC, self.direction, requests=(request,))
        return Message(MsgType.X_SPDADD, extensions=(*self._selector(), policy))

    def delete(self) -> Message:
        """SADB_X_SPDDELETE by selector and direction."""
        policy = PolicyExt(PolicyType.IPSEC, self.direction)
        return Message(MsgType.X_SPDDELETE, extensions=(*self._selector(), policy))


def sample_policy(family: int, level: int, *, direction: int = Direction.OUTBOUND) -> SamplePolicy:
    """A tunnel policy; `unique` gets the manual reqid 7."""
    return SamplePolicy(family, level, direction, 7 if level == Level.UNIQUE else 0)


def policy_by_id(msg_type: int, policy_id: int) -> Message:
    """SADB_X_SPDGET / SADB_X_SPDDELETE2 of the policy with this index."""
    return Message(msg_type, extensions=(PolicyExt(PolicyType.IPSEC, 0, id=policy_id),))


def kernel_level(level: int) -> int:
    """The level Linux reports back: default becomes require; unique stays unique."""
    return Level.REQUIRE if level == Level.DEFAULT else level


def assert_sp_reply(reply: Message, sp: SamplePolicy) -> None:
    """The reply describes `sp`: selector, direction, action, one tunnel request with its level and reqid."""
    assert reply.errno == 0, f"{reply.type_name} failed with errno {reply.errno}"
    src, dst = reply.get(ExtType.ADDRESS_SRC), reply.get(ExtType.ADDRESS_DST)
    assert src is not None and dst is not None
    (s, sp_len), (d, dp_len) = sp.nets
    assert (src.sockaddr.text(), src.prefixlen, src.proto) == (s, sp_len, ANY_PROTO)
    assert (dst.sockaddr.text(), dst.prefixlen, dst.proto) == (d, dp_len, ANY_PROTO)
    policy = reply.get(ExtType.X_POLICY)
    assert policy is not None
    assert (policy.policy_type, policy.dir) == (PolicyType.IPSEC, sp.direction)
    assert len(policy.requests) == 1
    req = policy.requests[0]
    assert (req.proto, req.mode, req.level) == (IPPROTO_ESP, Mode.TUNNEL, kernel_level(sp.level))
    assert req.src is not None and req.dst is not None
    assert (req.src.text(), req.dst.text()) == sp.tunnel
    assert req.reqid == sp.reqid


class Conversation:
    """Requests and replies on one transport, matched by type, seq and pid."""

    def __init__(self, sock: Transport) -> None:
        self.sock = sock
        self.pid = os.getpid()
        self.seq = 0
        self.backlog: list[Message] = []

    def send(self, msg: Message) -> Message:
        """Send `msg` with the next seq and our pid; return it as sent."""
        self.seq += 1
        msg = msg._replace(seq=self.seq, pid=self.pid)
        self.sock.send(msg.encode(LINUX))
        return msg

    def wait_for(self, match: Callable[[Message], bool], timeout: float = 5.0) -> Message:
        """The first message (kept or arriving) that `match`es; other arrivals are kept for later."""
        for i, msg in enumerate(self.backlog):
            if match(msg):
                return self.backlog.pop(i)
        deadline = monotonic() + timeout
        while True:
            left = deadline - monotonic()
            if left <= 0:
                raise AssertionError(f"no matching message within {timeout} s; kept: {self.backlog}")
            data = self.sock.recv(left)
            if data is None:
                continue
            msg = decode(data, LINUX)
            if match(msg):
                return msg
            self.backlog.append(msg)

    def request(self, msg: Message, timeout: float = 5.0) -> Message:
        """Send and return the kernel's reply (errno set on failure)."""
        sent = self.send(msg)
        return self.wait_for(lambda m: (m.type, m.seq, m.pid) == (sent.type, sent.seq, sent.pid), timeout)

    def _dump(self, msg_type: int, satype: int) -> list[Message]:
        sent = self.send(header(msg_type, satype))
        out: list[Message] = []
        while True:
            reply = self.wait_for(lambda m: m.type == msg_type and m.pid == sent.pid)
            if reply.errno == errno.ENOENT:
                return out
            assert reply.errno == 0, f"{reply.type_name} failed with errno {reply.errno}"
            out.append(reply)
            if reply.seq == 0:
                return out

    def dump(self, satype: int = 0) -> list[Message]:
        """SADB_DUMP replies (empty when the kernel answers ENOENT)."""
        return self._dump(MsgType.DUMP, satype)

    def spddump(self) -> list[Message]:
        """SADB_X_SPDDUMP replies (empty when the kernel answers ENOENT)."""
        return self._dump(MsgType.X_SPDDUMP, 0)

    def flush_all(self) -> None:
        """Empty the SAD and the SPD, then forget every message received so far."""
        assert self.request(header(MsgType.FLUSH, SAType.UNSPEC)).errno == 0
        assert self.request(header(MsgType.X_SPDFLUSH)).errno == 0
        while self.sock.recv(0.05) is not None:
            pass
        self.backlog.clear()

    def close(self) -> None:
        """Close the transport."""
        try:
            self.sock.close()
        except TransportError:
            pass


def flush_real_kernel() -> None:
    """Empty the real kernel's SAD and SPD (SADB_FLUSH, SADB_X_SPDFLUSH), each answer checked."""
    from setkey_tui.kernel.pfkey_socket import PFKeySocket
    from setkey_tui.pfkey.message import header_only
    from setkey_tui.service import KeyService

    svc = KeyService(PFKeySocket())
    try:
        svc.request(header_only(MsgType.FLUSH))
        svc.request(header_only(MsgType.X_SPDFLUSH))
    finally:
        svc.close()
