"""The simulated kernel: a sans-I/O, Linux-flavoured RFC 2367 PF_KEY implementation.

``SimKernel.handle(socket_id, data, now)`` takes one message a socket sent and returns the deliveries it
causes, as ``(socket_id, bytes)`` pairs in order. Nothing here blocks, sleeps or reads a clock it was not
given (the clock is injectable; ``now`` may be passed explicitly). ``tick(now)`` fires lifetime expiries;
``simulate_traffic(packet)`` sends a packet through the SPD (raising ACQUIRE when an SA is missing).

Behaviour follows Linux 6.1's af_key (net/key/af_key.c) as recorded in tests/data/realkernel.jsonl: who
receives what (sender, all sockets, registered sockets, promiscuous sockets, which also get a copy of every
request), the errnos, and the exact layout of every reply. The parts live by concept: ``sockets`` (delivery),
``sad`` and ``spd`` (the databases and their messages), ``dump`` (lazy dumps), ``acquire``, ``traffic``,
``timers``; this class routes messages to them.
"""

from __future__ import annotations

import dataclasses
import errno as E
import random
import struct
import time
from collections.abc import Callable

from setkey_tui.algorithms import LINUX_SUPPORTED_AUTH, LINUX_SUPPORTED_ENCRYPT
from setkey_tui.kernel.sim.acquire import ACQ_EXPIRES, Acquirer
from setkey_tui.kernel.sim.dump import Dumps
from setkey_tui.kernel.sim.errors import Fail, Refused
from setkey_tui.kernel.sim.records import AF_INET6, Addr, PolicyKey, PolicyRecord, SARecord
from setkey_tui.kernel.sim.sad import SAD
from setkey_tui.kernel.sim.sockets import Delivery, Sockets, SocketState, Target
from setkey_tui.kernel.sim.spd import SPD
from setkey_tui.kernel.sim.timers import Timers
from setkey_tui.kernel.sim.traffic import TrafficResult, packet_flow, send_packet
from setkey_tui.packet import Packet
from setkey_tui.pfkey.constants import PF_KEY_V2, ExtType, MsgType
from setkey_tui.pfkey.extensions import AddressExt, Alg, RawExt, SupportedExt
from setkey_tui.pfkey.message import Message, decode
from setkey_tui.pfkey.platform import AF_INET, LINUX
from setkey_tui.pfkey.wire import DecodeError, EncodeError

SADB_SATYPE_MAX = 9

__all__ = ["Delivery", "Refused", "SimKernel", "SocketState", "Target", "TrafficResult"]

Handler = Callable[[int, Message, int], list[Delivery]]


def _header(data: bytes) -> tuple[int, int, int, int, int, int, int, int]:
    return struct.unpack_from("=BBBBHHII", data, 0)


class SimKernel:
    """One simulated kernel: SAD, SPD and the PF_KEY sockets open on it."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        seed: int | None = None,
        supported_auth: tuple[Alg, ...] = LINUX_SUPPORTED_AUTH,
        supported_encrypt: tuple[Alg, ...] = LINUX_SUPPORTED_ENCRYPT,
        acq_expires: int = ACQ_EXPIRES,
        spdexpire: bool = False,
    ) -> None:
        self.clock = clock
        self.rng = random.Random(seed)
        self.supported_auth = supported_auth
        self.supported_encrypt = supported_encrypt
        self._sockets = Sockets()
        self.timers = Timers()
        self.dumps = Dumps(self._sockets)
        self.sad = SAD(
            self._sockets,
            self.timers,
            self.dumps,
            rng=self.rng,
            supported_auth=supported_auth,
            supported_encrypt=supported_encrypt,
            acq_expires=acq_expires,
        )
        self.spd = SPD(self._sockets, self.timers, self.dumps, spdexpire=spdexpire)
        self.acquirer = Acquirer(
            self.sad, self._sockets, supported_auth=supported_auth, supported_encrypt=supported_encrypt
        )
        self._handlers: dict[int, Handler] = {
            MsgType.GETSPI: self.sad.getspi,
            MsgType.UPDATE: self.sad.add,
            MsgType.ADD: self.sad.add,
            MsgType.DELETE: self.sad.delete,
            MsgType.GET: self.sad.get,
            MsgType.ACQUIRE: self.acquirer.reply,
            MsgType.REGISTER: self._register,
            MsgType.FLUSH: self.sad.flush,
            MsgType.X_PROMISC: self._promisc,
            MsgType.X_SPDUPDATE: self.spd.add,
            MsgType.X_SPDADD: self.spd.add,
            MsgType.X_SPDSETIDX: self.spd.add,
            MsgType.X_SPDDELETE: self.spd.delete,
            MsgType.X_SPDGET: self.spd.get,
            MsgType.X_SPDDELETE2: self.spd.get,
            MsgType.X_SPDFLUSH: self.spd.flush,
            MsgType.X_MIGRATE: self._migrate,
        }

    # ----------------------------------------------------------------------------------- public views
    @property
    def sockets(self) -> dict[int, SocketState]:
        """The open sockets by id."""
        return self._sockets.table

    @property
    def sas(self) -> dict[int, SARecord]:
        """The SAD: SAs by id, oldest first."""
        return self.sad.sas

    @property
    def policies(self) -> dict[PolicyKey, PolicyRecord]:
        """The SPD: policies by the model's key (selector, direction), oldest first."""
        return self.spd.policies

    def find_sa(self, proto: int, dst: Addr, spi: int) -> SARecord | None:
        """The SA with this (proto, destination, SPI), if any."""
        return self.sad.find(proto, dst, spi)

    # ----------------------------------------------------------------------------------------- sockets
    def open_socket(self) -> int:
        """A new PF_KEY socket; returns its id."""
        return self._sockets.open()

    def close_socket(self, sid: int) -> None:
        """Forget a socket (its registrations, promiscuous mode and running dump go with it)."""
        self.dumps.cancel(sid)
        self._sockets.close(sid)

    def _now(self, now: float | None) -> int:
        return int(self.clock() if now is None else now)

    # ----------------------------------------------------------------------------------------- entry
    def handle(
        self, sid: int, data: bytes, now: float | None = None, *, rmem: int = 0, rcvbuf: int | None = None
    ) -> list[Delivery]:
        """Process one message sent by socket ``sid``; :class:`Refused` when send() itself would fail.

        ``rmem``/``rcvbuf``: what the sender's receive queue holds and may hold, which paces a DUMP or
        SPDDUMP as Linux does (see :mod:`.dump`; continue it with :meth:`resume_dump`); ``rcvbuf`` None
        sends a whole dump now.
        """
        if sid not in self._sockets:
            raise Refused(E.EBADF, f"socket {sid} is not open")
        t = self._now(now)
        out = self.tick(t)
        data = bytes(data)
        if len(data) < 16:
            raise Refused(E.EMSGSIZE, f"message of {len(data)} bytes is shorter than a sadb_msg")
        version, mtype, _err, _satype, mlen, reserved, _seq, _pid = _header(data)
        if version != PF_KEY_V2 or reserved != 0 or not (0 < mtype <= MsgType.X_MIGRATE):
            raise Refused(E.EINVAL, "bad sadb_msg header (version, reserved or type)")
        if mlen * 8 != len(data):
            raise Refused(E.EMSGSIZE, f"sadb_msg_len says {mlen * 8} bytes but {len(data)} were sent")
        out += self._sockets.broadcast(data, Target.PROMISC_ONLY)
        try:
            msg = decode(data, LINUX)
            self._check_exts(msg)
            if mtype in (MsgType.DUMP, MsgType.X_SPDDUMP):
                queued = rmem + sum(len(b) for s, b in out if s == sid)
                dump = self.sad.dump if mtype == MsgType.DUMP else self.spd.dump
                out += dump(sid, msg, queued, rcvbuf)
            else:
                handler = self._handlers.get(mtype)
                if handler is None:
                    raise Fail(E.EOPNOTSUPP)
                out += handler(sid, msg, t)
        except (DecodeError, EncodeError):  # malformed, or values no reply can carry
            out += self._error(sid, data, E.EINVAL)
        except Fail as exc:
            out += self._error(sid, data, exc.errno)
        return out

    def dumping(self, sid: int) -> bool:
        """Whether socket ``sid`` has a DUMP or SPDDUMP running."""
        return self.dumps.active(sid)

    def resume_dump(self, sid: int, *, rmem: int, rcvbuf: int) -> list[Delivery]:
        """The socket read a message and its queue now holds ``rmem`` bytes: continue its dump if it is at
        most 1/3 full (pfkey_recvmsg)."""
        return self.dumps.resume(sid, rmem, rcvbuf)

    def cancel_dump(self, sid: int) -> None:
        """End socket ``sid``'s dump, if one is running (nobody will read the rest)."""
        self.dumps.cancel(sid)

    def _error(self, sid: int, request: bytes, err: int) -> list[Delivery]:
        version, mtype, _e, satype, _l, _r, seq, pid = _header(request)
        reply = struct.pack("=BBBBHHII", version, mtype, err & 0xFF, satype, 2, 0, seq, pid)
        return self._sockets.broadcast(reply, Target.ONE, sid)

    @staticmethod
    def _check_exts(msg: Message) -> None:
        """parse_exthdrs: no duplicates, no type 0, sane address prefixes."""
        seen: set[int] = set()
        for ext in msg.extensions:
            et = ext.ext_type
            if isinstance(ext, RawExt):
                if et == 0:
                    raise Fail(E.EINVAL)
                continue
            if et in seen:
                raise Fail(E.EINVAL)
            seen.add(et)
            if isinstance(ext, AddressExt):
                fam = ext.sockaddr.family
                if (fam == AF_INET and ext.prefixlen > 32) or (fam == AF_INET6 and ext.prefixlen > 128):
                    raise Fail(E.EINVAL)

    # ----------------------------------------------------------------------------------------- timers
    def next_timer(self) -> int | None:
        """When the next lifetime may expire (seconds since the epoch), or None."""
        return self.timers.next()

    def tick(self, now: float | None = None) -> list[Delivery]:
        """Fire every lifetime expiry due at ``now``: soft EXPIRE (SA dying), then hard EXPIRE (SA gone)."""
        t = self._now(now)
        out: list[Delivery] = []
        for kind, ident in self.timers.due(t):
            out += self.sad.check_time(ident, t) if kind == "sa" else self.spd.check_time(ident, t)
        return out

    # ------------------------------------------------------------------------------- socket messages
    def _register(self, sid: int, msg: Message, t: int) -> list[Delivery]:
        if msg.satype > SADB_SATYPE_MAX:
            raise Fail(E.EINVAL)
        st = self._sockets.table[sid]
        if msg.satype:
            bit = 1 << msg.satype
            if st.registered & bit:
                raise Fail(E.EEXIST)
            st.registered |= bit
        exts = []
        if self.supported_auth:
            exts.append(SupportedExt(ExtType.SUPPORTED_AUTH, self.supported_auth))
        if self.supported_encrypt:
            exts.append(SupportedExt(ExtType.SUPPORTED_ENCRYPT, self.supported_encrypt))
        reply = msg._replace(errno=0, extensions=tuple(exts))
        return self._sockets.send(reply, Target.REGISTERED, sid)

    def _promisc(self, sid: int, msg: Message, t: int) -> list[Delivery]:
        data = msg.encode(LINUX)
        if not msg.extensions:
            if msg.satype not in (0, 1):
                raise Fail(E.EINVAL)
            self._sockets.table[sid].promisc = bool(msg.satype)
            data = msg._replace(errno=0).encode(LINUX)
        return self._sockets.broadcast(data, Target.ALL)

    def _migrate(self, sid: int, msg: Message, t: int) -> list[Delivery]:
        raise Fail(E.ENOPROTOOPT)

    # ---------------------------------------------------------------------------------------- traffic
    def simulate_traffic(self, packet: Packet, now: float | None = None) -> TrafficResult:
        """Send one outbound packet through the SPD as the kernel would: find its policy, use or acquire SAs.

        Missing SAs for an ``ipsec`` policy raise SADB_ACQUIRE to the registered sockets (once per larval
        SA); byte and packet lifetimes of the SAs used are counted and may fire soft/hard EXPIREs.
        """
        t = self._now(now)
        out = self.tick(t)
        flow = packet_flow(packet)
        result = send_packet(self.sad, self.spd, self.acquirer, flow, packet.size, t)
        return dataclasses.replace(result, deliveries=out + result.deliveries)
