"""The XFRM transport: a PF_KEY conversation with the running Linux kernel over XFRM netlink.

Three netlink sockets: requests (one at a time, NLM_F_ACK on each), dumps (read lazily, as the caller reads),
and events (joined to XFRMNLGRP_SA and _POLICY, plus _ACQUIRE, _EXPIRE and _MAPPING once the caller sent
SADB_REGISTER or turned promiscuous mode on). Requests are translated by :mod:`to_xfrm`; answers and
notifications become the PF_KEY messages af_key would have delivered to this socket (:mod:`events`),
including the copies a promiscuous af_key socket gets. Notifications caused by our own request carry our
``sadb_msg_seq`` and ``sadb_msg_pid`` (xfrm_user copies the request's nlmsg_seq and nlmsg_pid into them),
so they are that request's PF_KEY reply. While a dump runs, events wait in their socket and are read after
it: XFRM dumps are not consistent under churn, so the events that arrived meanwhile are applied after it.
"""

from __future__ import annotations

import errno as errno_mod
import os
import select
import socket
import struct
import time
from collections import deque
from collections.abc import Callable

from setkey_tui.algorithms import LINUX_SUPPORTED_AUTH, LINUX_SUPPORTED_ENCRYPT
from setkey_tui.kernel.base import MessagesLost, NotesSource, TransportError
from setkey_tui.kernel.xfrm import netlink as nl
from setkey_tui.kernel.xfrm import structs as S
from setkey_tui.kernel.xfrm import to_pfkey as P
from setkey_tui.kernel.xfrm import to_xfrm as X
from setkey_tui.kernel.xfrm.events import ALL, ONE, PROMISC_ONLY, REGISTERED, Translator
from setkey_tui.kernel.xfrm.notes import Notes
from setkey_tui.pfkey.constants import IPSEC_MANUAL_REQID_MAX, PF_KEY_V2, ExtType, MsgType
from setkey_tui.pfkey.extensions import SupportedExt
from setkey_tui.pfkey.message import Message, decode, header_only
from setkey_tui.pfkey.platform import LINUX
from setkey_tui.pfkey.wire import DecodeError

RCVBUF_WANTED = 64 * 1024 * 1024
RECV_CHUNK = 256 * 1024
REPLY_TIMEOUT = 10.0
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)
SADB_SATYPE_MAX = 9
BASE_GROUPS = (S.GRP_SA, S.GRP_POLICY)
KM_GROUPS = (S.GRP_ACQUIRE, S.GRP_EXPIRE, S.GRP_MAPPING)
_HDR = struct.Struct("=BBBBHHII")


def open_error(err: int) -> str:
    """The one-line explanation for XFRM netlink that cannot be used (worded as for PF_KEY)."""
    if err in (errno_mod.EAFNOSUPPORT, errno_mod.EPROTONOSUPPORT, errno_mod.ESOCKTNOSUPPORT):
        return (f"no XFRM netlink in this kernel ({os.strerror(err)}): load it with `modprobe xfrm_user`, "
                "or use the simulated kernel (--kernel sim)")
    if err in (errno_mod.EPERM, errno_mod.EACCES):
        return (f"permission denied opening XFRM netlink ({os.strerror(err)}): run as root or with "
                "CAP_NET_ADMIN, or use the simulated kernel (--kernel sim)")
    return f"cannot open an XFRM netlink socket: {os.strerror(err)}"


class XfrmUnavailable(TransportError):
    """XFRM netlink could not be opened or used; ``errno`` says why."""

    def __init__(self, errno: int, message: str) -> None:
        super().__init__(message)
        self.errno = errno


def _netlink_socket(rcvbuf: int = 0) -> socket.socket:
    try:
        s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, nl.NETLINK_XFRM)
    except OSError as exc:
        raise XfrmUnavailable(exc.errno or 0, open_error(exc.errno or 0)) from None
    try:
        s.bind((0, 0))
        if rcvbuf:
            for opt in (SO_RCVBUFFORCE, socket.SO_RCVBUF):
                try:
                    s.setsockopt(socket.SOL_SOCKET, opt, rcvbuf)
                    break
                except OSError:
                    continue
        try:
            s.setsockopt(nl.SOL_NETLINK, nl.NETLINK_CAP_ACK, 1)  # acks without a copy of the request
        except OSError:
            pass
    except OSError as exc:
        s.close()
        raise XfrmUnavailable(exc.errno or 0, open_error(exc.errno or 0)) from None
    return s


_SEQ = struct.Struct("=I")


def _with_seq(data: bytes, seq: int) -> bytes:
    """A PF_KEY message with ``sadb_msg_seq`` replaced."""
    return data[:8] + _SEQ.pack(seq & 0xFFFFFFFF) + data[12:]


class _Dump:
    """A dump in progress: af_key numbers its replies 1, 2, … and gives the last one seq 0."""

    def __init__(self, request: bytes, req: X.XfrmRequest, seq: int, pid: int) -> None:
        self.request = request
        self.req = req
        self.seq = seq
        self.pid = pid
        self.count = 0
        self.held: bytes | None = None  # the previous reply, sent once the next one (or the end) is known


class XfrmTransport(NotesSource):
    """PF_KEY v2 over XFRM netlink (a Transport): what af_key would say, without af_key."""

    def __init__(self, *, rcvbuf: int = RCVBUF_WANTED, description: str = "real kernel over XFRM netlink",
                 clock: Callable[[], float] = time.time) -> None:
        self.platform = LINUX
        self.description = description
        self._closed = False
        self._lost = False
        self._buf = bytearray(RECV_CHUNK)
        self._view = memoryview(self._buf)
        self._dumper: socket.socket | None = None
        self._req = _netlink_socket()
        self._events = _netlink_socket(rcvbuf)
        self._groups: set[int] = set()
        try:
            for g in BASE_GROUPS:
                self._join(g)
            self._probe()
        except XfrmUnavailable:
            self.close()
            raise
        self.translator = Translator(clock)
        self.promisc = False
        self.registered = 0
        self._pending: deque[bytes] = deque()
        self._dump: _Dump | None = None
        self._reqid = IPSEC_MANUAL_REQID_MAX

    # ------------------------------------------------------------------------------------------ set-up
    def _join(self, group: int) -> None:
        try:
            self._events.setsockopt(nl.SOL_NETLINK, nl.NETLINK_ADD_MEMBERSHIP, group)
        except OSError as exc:
            raise XfrmUnavailable(exc.errno or 0, open_error(exc.errno or 0)) from None
        self._groups.add(group)

    def _leave(self, group: int) -> None:
        if group in self._groups:
            self._groups.discard(group)
            try:
                self._events.setsockopt(nl.SOL_NETLINK, nl.NETLINK_DROP_MEMBERSHIP, group)
            except OSError:
                pass

    def _km_groups(self) -> None:
        """Join ACQUIRE/EXPIRE/MAPPING while registered or promiscuous, leave them otherwise."""
        for g in KM_GROUPS:
            if self.registered or self.promisc:
                if g not in self._groups:
                    self._join(g)
            else:
                self._leave(g)

    def _probe(self) -> None:
        """Every XFRM operation needs CAP_NET_ADMIN: ask for the SAD's counters to find out now."""
        self._req.send(nl.encode_msg(0x23, nl.NLM_F_REQUEST, 0, 0, b"\0\0\0\0"))  # XFRM_MSG_GETSADINFO
        deadline = time.monotonic() + REPLY_TIMEOUT
        while time.monotonic() < deadline:
            for m in self._read(self._req, deadline):
                if m.type == nl.NLMSG_ERROR:
                    err = nl.ack_errno(m.payload)
                    if err:
                        raise XfrmUnavailable(err, open_error(err))
                    return
                if m.type == 0x22:  # XFRM_MSG_NEWSADINFO
                    return
        raise XfrmUnavailable(errno_mod.ETIMEDOUT, open_error(errno_mod.ETIMEDOUT))

    # ------------------------------------------------------------------------------------------- I/O
    def _read(self, sock: socket.socket, deadline: float | None) -> list[nl.NlMsg]:
        """The messages of one datagram (empty after ``deadline``); ENOBUFS → MessagesLost."""
        wait = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            ready, _, _ = select.select([sock], [], [], wait)
            if not ready:
                return []
            n = sock.recv_into(self._buf)
        except OSError as exc:
            if exc.errno == errno_mod.ENOBUFS:
                raise MessagesLost(
                    "the kernel dropped messages for this socket (No buffer space available): "
                    "resynchronise with a dump"
                ) from None
            if exc.errno == errno_mod.EINTR:
                return []
            raise TransportError(f"reading XFRM netlink failed: {os.strerror(exc.errno or 0)}") from None
        try:
            return list(nl.split_msgs(bytes(self._view[:n])))
        except nl.NetlinkError as exc:
            raise TransportError(f"the kernel sent malformed netlink data: {exc}") from None

    def _deliver(self, data: bytes, target: str) -> None:
        """pfkey_broadcast, seen from this one socket: a promiscuous socket gets an extra copy of everything."""
        n = 1 if self.promisc else 0
        if target in (ONE, ALL) or (target == REGISTERED and self.registered):
            n += 1
        for _ in range(n):
            self._pending.append(data)

    def _error(self, request: bytes, err: int) -> None:
        self._deliver(X.error_reply(request, err), ONE)

    def _drain_events(self, deadline: float | None) -> bool:
        """Read one datagram of events (waiting until ``deadline``); whether one came."""
        msgs = self._read(self._events, deadline)
        for m in msgs:
            if m.type in (nl.NLMSG_ERROR, nl.NLMSG_DONE, nl.NLMSG_NOOP):
                continue
            for out in self.translator.event(m.type, m.seq, m.pid, m.payload):
                self._deliver(out.message.encode(LINUX), out.target)
        return bool(msgs)

    # ------------------------------------------------------------------------------------------- send
    def send(self, data: bytes) -> None:
        """Send one PF_KEY message: translated to XFRM, answered as af_key would answer it."""
        if self._closed:
            raise TransportError("the XFRM netlink socket is closed")
        data = bytes(data)
        if len(data) < 16:
            raise TransportError("the kernel refused the message: Message too long")
        version, mtype, _err, satype, mlen, reserved, seq, pid = _HDR.unpack_from(data, 0)
        if version != PF_KEY_V2 or reserved != 0 or not 0 < mtype <= MsgType.X_MIGRATE:
            raise TransportError("the kernel refused the message: Invalid argument")
        if mlen * 8 != len(data):
            raise TransportError("the kernel refused the message: Message too long")
        if self._dump is None:
            try:
                while self._drain_events(0.0):  # what happened before this request comes before its answer
                    pass
            except MessagesLost:
                self._lost = True  # reported by the next recv, as the kernel reports ENOBUFS

        self._deliver(data, PROMISC_ONLY)  # af_key copies every request to promiscuous sockets first
        try:
            msg = decode(data, LINUX)
        except DecodeError:
            self._error(data, errno_mod.EINVAL)
            return
        if mtype == MsgType.X_PROMISC:
            self._promisc(data, msg)
            return
        if mtype == MsgType.REGISTER:
            self._register(data, msg)
            return
        if mtype == MsgType.ACQUIRE and len(data) == 16:
            return  # a key manager's refusal: af_key marks the larval SA failed; XFRM has no way to say it
        try:
            req = X.translate(msg, self._gen_reqid)
        except X.PfkeyError as exc:
            self._error(data, exc.errno)
            return
        if req.reply in (X.REPLY_DUMP_SA, X.REPLY_DUMP_SP):
            self._start_dump(data, req, seq, pid)
            return
        self._request(data, req, seq, pid)

    def _promisc(self, data: bytes, msg: Message) -> None:
        if not msg.extensions:
            if msg.satype not in (0, 1):
                self._error(data, errno_mod.EINVAL)
                return
            self.promisc = bool(msg.satype)
            self._km_groups()
            data = msg._replace(errno=0).encode(LINUX)
        self._deliver(data, ALL)

    def _register(self, data: bytes, msg: Message) -> None:
        if msg.satype > SADB_SATYPE_MAX:
            self._error(data, errno_mod.EINVAL)
            return
        if msg.satype:
            bit = 1 << msg.satype
            if self.registered & bit:
                self._error(data, errno_mod.EEXIST)
                return
            self.registered |= bit
            self._km_groups()
        exts = (SupportedExt(ExtType.SUPPORTED_AUTH, LINUX_SUPPORTED_AUTH),
                SupportedExt(ExtType.SUPPORTED_ENCRYPT, LINUX_SUPPORTED_ENCRYPT))
        self._deliver(msg._replace(errno=0, extensions=exts).encode(LINUX), ONE)

    def _request(self, data: bytes, req: X.XfrmRequest, seq: int, pid: int) -> None:
        """Send one request and read until its acknowledgement; unicast answers become PF_KEY replies."""
        try:
            self._req.send(nl.encode_msg(req.nl_type, req.flags, seq, pid, req.payload))
        except OSError as exc:
            self._error(data, exc.errno or errno_mod.EINVAL)
            return
        deadline = time.monotonic() + REPLY_TIMEOUT
        while True:
            msgs = self._read(self._req, deadline)
            if not msgs and time.monotonic() >= deadline:
                raise TransportError("no answer from the kernel over XFRM netlink")
            for m in msgs:
                if m.seq != (seq & 0xFFFFFFFF):
                    continue
                if m.type == nl.NLMSG_ERROR:
                    err = nl.ack_errno(m.payload)
                    if req.unicast_copy is not None:
                        self._deliver(req.unicast_copy.encode(LINUX), ONE)
                    if err:
                        self._error(data, err)
                    return
                if req.reply == X.REPLY_STATE and m.type == S.NEWSA:
                    info = S.UserSAInfo.unpack(m.payload)
                    attrs = nl.parse_attrs(m.payload, S.USERSA_INFO_SIZE)
                    data_out = self.translator.state_bytes(info, attrs, req.pf_reply_type, seq=seq, pid=pid,
                                                           raw=(m.payload, S.USERSA_INFO_SIZE))
                    if data_out is not None:
                        self._deliver(data_out, ONE)
                elif req.reply == X.REPLY_POLICY and m.type == S.NEWPOLICY:
                    info_p = S.UserPolicyInfo.unpack(m.payload)
                    attrs = nl.parse_attrs(m.payload, S.USERPOLICY_INFO_SIZE)
                    out = self.translator.policy(info_p, attrs, req.pf_reply_type, seq=seq, pid=pid,
                                                 refcnt=P.REFCNT_NOTIFY)
                    if out is not None:
                        self._deliver(out.encode(LINUX), ONE)

    def _gen_reqid(self) -> int:
        """af_key's gen_reqid: the next automatic reqid above 0x3fff that no policy uses."""
        used = self._used_reqids()
        start = self._reqid
        while True:
            self._reqid = (self._reqid + 1) & 0xFFFFFFFF
            if self._reqid == 0:
                self._reqid = IPSEC_MANUAL_REQID_MAX + 1
            if self._reqid not in used:
                return self._reqid
            if self._reqid == start:
                return 0

    def _used_reqids(self) -> set[int]:
        sock = _netlink_socket()
        try:
            sock.send(nl.encode_msg(S.GETPOLICY, nl.NLM_F_REQUEST | nl.NLM_F_DUMP, 1, 0, b""))
            used: set[int] = set()
            deadline = time.monotonic() + REPLY_TIMEOUT
            while time.monotonic() < deadline:
                for m in self._read(sock, deadline):
                    if m.type in (nl.NLMSG_DONE, nl.NLMSG_ERROR):
                        return used
                    if m.type == S.NEWPOLICY:
                        attrs = nl.parse_attrs(m.payload, S.USERPOLICY_INFO_SIZE)
                        used.update(t.reqid for t in S.UserTmpl.unpack_all(attrs.get(S.XFRMA_TMPL, b"")))
            return used
        finally:
            sock.close()

    # ------------------------------------------------------------------------------------------ dumps
    def _start_dump(self, data: bytes, req: X.XfrmRequest, seq: int, pid: int) -> None:
        if self._dump is not None:
            self._error(data, errno_mod.EBUSY)
            return
        if self._dumper is None:
            self._dumper = _netlink_socket()
        try:
            self._dumper.send(nl.encode_msg(req.nl_type, req.flags, seq, pid, req.payload))
        except OSError as exc:
            self._error(data, exc.errno or errno_mod.EINVAL)
            return
        self._dump = _Dump(data, req, seq, pid)

    def _dump_step(self, deadline: float | None) -> None:
        """Read one datagram of the running dump and queue its PF_KEY replies."""
        d = self._dump
        assert d is not None and self._dumper is not None
        msgs = self._read(self._dumper, deadline)
        tr = self.translator
        sa = d.req.reply == X.REPLY_DUMP_SA
        want = d.req.proto_filter
        for m in msgs:
            if m.seq != (d.seq & 0xFFFFFFFF):
                continue
            if m.type in (nl.NLMSG_DONE, nl.NLMSG_ERROR):
                err = nl.ack_errno(m.payload) if m.type == nl.NLMSG_ERROR else 0
                self._end_dump(err)
                return
            if sa and m.type == S.NEWSA:
                info = S.UserSAInfo.unpack(m.payload)
                if want != 255 and info.proto != want:
                    continue
                out = tr.state_bytes(info, nl.parse_attrs(m.payload, S.USERSA_INFO_SIZE), MsgType.DUMP, seq=0,
                                     pid=d.pid, raw=(m.payload, S.USERSA_INFO_SIZE))
            elif not sa and m.type == S.NEWPOLICY:
                info_p = S.UserPolicyInfo.unpack(m.payload)
                out = tr.policy_bytes(info_p, nl.parse_attrs(m.payload, S.USERPOLICY_INFO_SIZE), MsgType.X_SPDDUMP,
                                      seq=0, pid=d.pid, refcnt=P.REFCNT_DUMP, raw=(m.payload, S.USERPOLICY_INFO_SIZE))
            else:
                continue
            if out is None:
                continue
            if d.held is not None:
                d.count += 1
                self._deliver(_with_seq(d.held, d.count), ONE)
            d.held = out

    def _end_dump(self, err: int) -> None:
        d = self._dump
        assert d is not None
        self._dump = None
        if err:
            self._error(d.request, err)
        elif d.held is not None:
            self._deliver(d.held, ONE)  # the last reply: seq 0
        else:
            self._error(d.request, errno_mod.ENOENT)

    # ------------------------------------------------------------------------------------------- recv
    def recv(self, timeout: float | None = None) -> bytes | None:
        """The next PF_KEY message for this socket, or None after ``timeout`` seconds."""
        if self._closed:
            raise TransportError("the XFRM netlink socket is closed")
        if self._lost:
            self._lost = False
            raise MessagesLost(
                "the kernel dropped messages for this socket (No buffer space available): resynchronise with a dump"
            )
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        while True:
            if self._pending:
                return self._pending.popleft()
            if self._dump is not None:
                self._dump_step(deadline)
            else:
                self._drain_events(deadline)
            if not self._pending and deadline is not None and time.monotonic() >= deadline:
                return None

    def set_promisc(self, on: bool) -> None:
        """SADB_X_PROMISC: every notification, acquire and expire (XFRM shows no other process's requests)."""
        self.send(header_only(MsgType.X_PROMISC, 1 if on else 0, pid=os.getpid()).encode(LINUX))

    def notes_for(self, msg: Message) -> Notes | None:
        """What the kernel's XFRM entry for ``msg``'s SA or policy holds that PF_KEY cannot say."""
        return self.translator.notes_for(msg)

    def fileno(self) -> int:
        """The event socket's descriptor (readable when a notification is waiting)."""
        return self._events.fileno()

    def close(self) -> None:
        """Close the sockets."""
        if self._closed:
            return
        self._closed = True
        for s in (getattr(self, "_req", None), getattr(self, "_events", None), self._dumper):
            if s is not None:
                s.close()

    def __enter__(self) -> XfrmTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
