"""``--kernel ssh:HOST[/SPEC]``: PF_KEY sockets on another machine's kernel, through ssh and ``setkey-tui bridge``.

The first socket opened on a HOST/SPEC starts ``ssh -T HOST setkey-tui bridge --kernel SPEC`` (the ssh command
from ``SETKEY_TUI_SSH``, shlex-split, default ``ssh``; the remote command from ``SETKEY_TUI_REMOTE_COMMAND``,
a remote shell command line, default ``setkey-tui``). Every further socket on the same HOST/SPEC is one more
channel of that connection (one login, one remote process; see docs/kernels.md for the measurements), and the
connection ends when its last socket closes. A thread reads ssh's stdout and hands each frame to its channel;
a channel's queue is bounded like a socket's receive buffer (overflow: :class:`MessagesLost`). A lost
connection makes every call of its sockets raise :class:`TransportError`.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import select
import shlex
import subprocess
import threading
import time
from collections import deque
from typing import Any

from setkey_tui.kernel.base import MessagesLost, TrafficSimulator, TransportError, env_seconds
from setkey_tui.kernel.remote import errors
from setkey_tui.kernel.remote.framing import (
    Frame,
    FrameDecoder,
    FramingError,
    Hello,
    Kind,
    check_peer,
    control,
    frame,
    hello,
    json_payload,
)
from setkey_tui.packet import Packet, PacketVerdict
from setkey_tui.pfkey.constants import MsgType
from setkey_tui.pfkey.platform import Platform, by_name

SSH_ENV = "SETKEY_TUI_SSH"
REMOTE_COMMAND_ENV = "SETKEY_TUI_REMOTE_COMMAND"
TIMEOUT_ENV = "SETKEY_TUI_SSH_TIMEOUT"
DEFAULT_TIMEOUT = 30.0  # seconds for ssh to connect and the bridge to answer (a password prompt included)
REPLY_TIMEOUT = 10.0  # seconds for a PROMISC or TRAFFIC request's answer
RCVBUF = 64 * 1024 * 1024  # bytes a socket may hold unread before messages are dropped (as the kernel's)
STDERR_LINES = 20
READ_CHUNK = 1 << 18


def parse_spec(rest: str) -> tuple[str, str]:
    """``HOST[/SPEC]`` (what follows ``ssh:``) as (host, remote spec); TransportError when HOST is bad."""
    host, _, spec = rest.partition("/")
    host = host.strip()
    if not host:
        raise TransportError("ssh:HOST needs a host: ssh:HOST or ssh:HOST/SPEC (e.g. ssh:gw1/pfkey)")
    if host.startswith("-") or any(c.isspace() for c in host):
        raise TransportError(f"ssh:{host}: {host!r} is not a host name")
    return host, spec.strip() or "auto"


def _timeout() -> float:
    return env_seconds(TIMEOUT_ENV, DEFAULT_TIMEOUT)


def ssh_command(host: str, spec: str) -> list[str]:
    """The argv that runs the bridge on ``host`` for the remote kernel ``spec``."""
    raw = os.environ.get(SSH_ENV, "").strip() or "ssh"
    try:
        ssh = shlex.split(raw)
    except ValueError as exc:
        raise TransportError(f"{SSH_ENV}={raw!r}: {exc}") from None
    remote = os.environ.get(REMOTE_COMMAND_ENV, "").strip() or "setkey-tui"
    return [*ssh, "-T", host, f"{remote} bridge --kernel {shlex.quote(spec)}"]


class _Channel:
    """What the reader thread hands to one socket: messages, answers, and the reason it ended."""

    __slots__ = ("messages", "size", "lost", "replies", "ended", "limit")

    def __init__(self, limit: int) -> None:
        self.messages: deque[bytes | TransportError] = deque()
        self.size = 0
        self.lost = 0
        self.replies: deque[Frame] = deque()
        self.ended: TransportError | None = None
        self.limit = limit


class Connection:
    """One ssh process running the bridge, shared by the channels (sockets) opened on it."""

    def __init__(self, host: str, spec: str, *, timeout: float | None = None) -> None:
        self.host = host
        self.spec = spec
        self.timeout = _timeout() if timeout is None else timeout
        argv = ssh_command(host, spec)
        self.argv = argv
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, bufsize=0)
        except FileNotFoundError:
            raise errors.ssh_not_found(argv[0]) from None
        except OSError as exc:
            raise errors.RemoteError(f"cannot run {argv[0]!r}: {exc.strerror}") from None
        assert self.proc.stdin is not None and self.proc.stdout is not None and self.proc.stderr is not None
        self._in = self.proc.stdin.fileno()
        self._out = self.proc.stdout.fileno()
        self.stderr_lines: deque[str] = deque(maxlen=STDERR_LINES)
        self._stderr_thread = threading.Thread(target=self._drain_stderr, name=f"ssh-stderr-{host}", daemon=True)
        self._stderr_thread.start()
        self._lock = threading.Condition()
        self._write_lock = threading.Lock()
        self._channels: dict[int, _Channel] = {}
        self._ids = itertools.count(1)
        self._decoder = FrameDecoder()
        self.dead: TransportError | None = None
        self.users = 0
        self.key: tuple[str, ...] = ()  # its place in the registry of live connections
        try:
            try:
                self._write(hello())
            except errors.RemoteError:  # ssh ended before it read the hello (it could not connect): say why
                raise self._exit_error() from None
            self.peer = self._handshake()
        except BaseException:
            self._kill()
            raise
        self._reader = threading.Thread(target=self._read_loop, name=f"ssh-reader-{host}", daemon=True)
        self._reader.start()

    # -- the process ----------------------------------------------------------------------------------
    def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        for raw in iter(self.proc.stderr.readline, b""):
            self.stderr_lines.append(raw.decode(errors="replace").rstrip())

    def _exit_error(self) -> errors.RemoteError:
        """Why the process ended (waits a moment for its status and its last stderr lines)."""
        try:
            status: int | None = self.proc.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            status = None
        self._stderr_thread.join(2.0)
        return errors.classify_exit(self.host, status, list(self.stderr_lines))

    def _kill(self) -> None:
        for stream in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()
        if self.proc.poll() is None:
            self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5.0)
        self._stderr_thread.join(1.0)
        if self.proc.stderr is not None:
            with contextlib.suppress(OSError):
                self.proc.stderr.close()

    def _write(self, data: bytes) -> None:
        with self._write_lock:
            if self.dead is not None:
                raise self.dead
            view = memoryview(data)
            try:
                while view:
                    view = view[os.write(self._in, view):]
            except OSError as exc:
                raise errors.connection_lost(self.host, exc.strerror or str(exc)) from None

    def _handshake(self) -> Hello:
        """Read the bridge's hello within the timeout; the one-line error when it does not come."""
        poller = select.poll()
        poller.register(self._out, select.POLLIN)
        deadline = time.monotonic() + self.timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not poller.poll(left * 1000):
                raise errors.handshake_timeout(self.host, self.timeout)
            data = os.read(self._out, 4096)
            if not data:
                raise self._exit_error()
            try:
                items = self._decoder.feed(data)
            except FramingError as exc:
                raise errors.RemoteError(f"{self.host}: the remote command is {exc}; check "
                                         f"SETKEY_TUI_REMOTE_COMMAND and that the remote shell prints "
                                         f"nothing on its own") from None
            if items:
                peer = items[0]
                assert isinstance(peer, Hello)
                try:
                    check_peer(peer)
                except FramingError as exc:
                    raise errors.RemoteError(f"{self.host}: {exc}") from None
                if len(items) > 1:  # frames before any OPEN: not from a bridge of ours
                    raise errors.RemoteError(f"{self.host}: the bridge sent frames before any request")
                return peer

    # -- reading --------------------------------------------------------------------------------------
    def _read_loop(self) -> None:
        reason: TransportError | None = None
        try:
            while True:
                data = os.read(self._out, READ_CHUNK)
                if not data:
                    break
                self._dispatch(self._decoder.feed(data))
        except FramingError as exc:
            reason = errors.connection_lost(self.host, f"the bridge sent garbage ({exc})")
        except OSError as exc:
            reason = errors.connection_lost(self.host, exc.strerror or str(exc))
        if reason is None:
            ended = self._exit_error()
            if self.proc.returncode == 0 or self.proc.returncode is None:
                reason = errors.connection_lost(self.host, "the bridge ended")
            else:
                reason = errors.connection_lost(self.host, str(ended))
        with self._lock:
            self.dead = reason
            for ch in self._channels.values():
                if ch.ended is None:
                    ch.ended = reason
            self._lock.notify_all()

    def _dispatch(self, items: list[Hello | Frame]) -> None:
        with self._lock:
            for f in items:
                if not isinstance(f, Frame):
                    continue
                ch = self._channels.get(f.channel)
                if ch is None:
                    continue
                if f.kind == Kind.MSG:
                    if ch.size + len(f.payload) > ch.limit:
                        ch.lost += 1
                    else:
                        ch.messages.append(f.payload)
                        ch.size += len(f.payload)
                elif f.kind == Kind.LOST:
                    ch.messages.append(MessagesLost(str(f.json().get("reason", "messages were lost"))))
                elif f.kind == Kind.SEND_FAILED:
                    # the kernel's own words, as a local socket's send would raise them
                    ch.messages.append(TransportError(str(f.json().get("error", "send failed"))))
                elif f.kind == Kind.FAILED:
                    ch.ended = errors.refused(self.host, str(f.json().get("error", "the socket failed")))
                else:
                    ch.replies.append(f)
            self._lock.notify_all()

    # -- channels -------------------------------------------------------------------------------------
    def open_channel(self) -> tuple[int, dict[str, Any]]:
        """Open one more socket on the remote kernel: its channel id and the bridge's OPENED answer."""
        with self._lock:
            if self.dead is not None:
                raise self.dead
            cid = next(self._ids)
            self._channels[cid] = _Channel(RCVBUF)
        try:
            self._write(control(cid, Kind.OPEN, {}))
            answer = self.wait_reply(cid, self.timeout, what="opening a socket")
        except BaseException:
            with self._lock:
                self._channels.pop(cid, None)
            raise
        if answer.kind == Kind.REFUSED:
            with self._lock:
                self._channels.pop(cid, None)
            raise errors.refused(self.host, str(answer.json().get("error", "the remote kernel refused")))
        if answer.kind != Kind.OPENED:
            raise errors.RemoteError(f"{self.host}: the bridge answered {answer.kind.name} to OPEN")
        return cid, answer.json()

    def wait_reply(self, cid: int, timeout: float, *, what: str) -> Frame:
        """The next answer (OPENED, REFUSED or REPLY) on channel ``cid``."""
        deadline = time.monotonic() + timeout
        with self._lock:
            ch = self._channels[cid]
            while not ch.replies:
                if ch.ended is not None:
                    raise ch.ended
                left = deadline - time.monotonic()
                if left <= 0:
                    raise errors.RemoteError(f"{self.host}: the bridge did not answer in {timeout:g} s ({what})")
                self._lock.wait(left)
            return ch.replies.popleft()

    def send(self, cid: int, kind: Kind, payload: bytes) -> None:
        """Send one frame on channel ``cid``."""
        with self._lock:
            ch = self._channels.get(cid)
            if ch is None:
                raise TransportError(f"the socket on {self.host} is closed")
            if ch.ended is not None:
                raise ch.ended
        self._write(frame(cid, kind, payload))

    def recv(self, cid: int, timeout: float | None) -> bytes | None:
        """The next message of channel ``cid`` (None after ``timeout``)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            ch = self._channels.get(cid)
            if ch is None:
                raise TransportError(f"the socket on {self.host} is closed")
            while True:
                if ch.lost:
                    n, ch.lost = ch.lost, 0
                    raise MessagesLost(f"{n} messages from {self.host} were dropped (this socket's buffer "
                                       "was full): resynchronise with a dump")
                if ch.messages:
                    item = ch.messages.popleft()
                    if isinstance(item, TransportError):
                        raise item
                    ch.size -= len(item)
                    return item
                if ch.ended is not None:
                    raise ch.ended
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return None
                self._lock.wait(left)

    def close_channel(self, cid: int) -> None:
        """Close channel ``cid`` (the bridge closes its socket)."""
        with self._lock:
            ch = self._channels.pop(cid, None)
        if ch is not None and self.dead is None:
            with contextlib.suppress(TransportError):
                self._write(control(cid, Kind.CLOSE, {}))

    def close(self) -> None:
        """End the connection: stdin closes, the bridge exits, so does ssh."""
        with contextlib.suppress(OSError):
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=5.0)
        self._reader.join(2.0)
        self._stderr_thread.join(2.0)
        for stream in (self.proc.stdout, self.proc.stderr):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()


_registry_lock = threading.Lock()
_registry: dict[tuple[str, ...], Connection] = {}


def _acquire(host: str, spec: str) -> Connection:
    """The live connection for HOST/SPEC (with the same ssh settings), started when there is none."""
    key = (*ssh_command(host, spec), os.environ.get(TIMEOUT_ENV, ""))
    with _registry_lock:
        conn = _registry.get(key)
        if conn is not None and conn.dead is None:
            conn.users += 1
            return conn
        conn = Connection(host, spec)
        conn.users = 1
        _registry[key] = conn
        conn.key = key
        return conn


def _release(conn: Connection) -> None:
    with _registry_lock:
        conn.users -= 1
        if conn.users > 0:
            return
        if _registry.get(conn.key) is conn:
            del _registry[conn.key]
    conn.close()


@atexit.register
def _close_all() -> None:
    with _registry_lock:
        conns = list(_registry.values())
        _registry.clear()
    for conn in conns:
        with contextlib.suppress(Exception):
            conn.close()


class RemoteTransport:
    """One PF_KEY socket on a remote kernel (a Transport): a channel of a shared ssh :class:`Connection`."""

    def __init__(self, conn: Connection, cid: int, opened: dict[str, Any]) -> None:
        self._conn = conn
        self._cid = cid
        self.host = conn.host
        self.remote_description = str(opened.get("description", "remote kernel"))
        self.description = f"{conn.host} · {self.remote_description}"
        try:
            self.platform: Platform = by_name(str(opened.get("platform", "linux")))
        except ValueError:
            raise errors.RemoteError(f"{conn.host}: unknown remote platform {opened.get('platform')!r}") from None
        self._closed = False

    def _check(self) -> None:
        if self._closed:
            raise TransportError(f"the PF_KEY socket on {self.host} is closed")

    def send(self, data: bytes) -> None:
        """Send one message to the remote kernel."""
        self._check()
        self._conn.send(self._cid, Kind.MSG, data)

    def recv(self, timeout: float | None = None) -> bytes | None:
        """The next message from the remote kernel, or None after ``timeout`` seconds."""
        self._check()
        return self._conn.recv(self._cid, timeout)

    def _ask(self, kind: Kind, obj: dict[str, Any], what: str) -> dict[str, Any]:
        self._check()
        self._conn.send(self._cid, kind, json_payload(obj))
        reply: dict[str, Any] = self._conn.wait_reply(self._cid, REPLY_TIMEOUT, what=what).json()
        if "failed" in reply:
            raise errors.refused(self.host, str(reply["failed"]))
        return reply

    def _request(self, kind: Kind, obj: dict[str, Any], what: str) -> Any:
        reply = self._ask(kind, obj, what)
        if "error" in reply:
            raise ValueError(str(reply["error"]))
        return reply.get("ok")

    def set_promisc(self, on: bool) -> None:
        """SADB_X_PROMISC on the remote socket; returns once the bridge has applied it."""
        try:
            self._request(Kind.PROMISC, {"on": on}, f"{MsgType.X_PROMISC.name}")
        except ValueError as exc:
            raise errors.refused(self.host, str(exc)) from None

    def close(self) -> None:
        """Close the socket; the last one closed ends the ssh connection."""
        if self._closed:
            return
        self._closed = True
        self._conn.close_channel(self._cid)
        _release(self._conn)


class RemoteSimTransport(RemoteTransport, TrafficSimulator):
    """A socket on a remote simulated kernel: it can also simulate traffic, as the local one does."""

    def simulate_traffic(self, packet: Packet) -> PacketVerdict:
        """One packet through the remote simulated kernel's SPD; its verdict (PacketError for a bad packet)."""
        reply = self._ask(Kind.TRAFFIC, packet.to_json(), "simulating traffic")
        return PacketVerdict.from_reply(reply["ok"] if "ok" in reply else reply)


def open_remote(rest: str) -> RemoteTransport:
    """A socket on the kernel ``rest`` names (``HOST[/SPEC]``, what follows ``ssh:``); RemoteError (one line)."""
    host, spec = parse_spec(rest)
    conn = _acquire(host, spec)
    try:
        cid, opened = conn.open_channel()
    except BaseException:
        _release(conn)
        raise
    cls = RemoteSimTransport if opened.get("traffic") else RemoteTransport
    try:
        return cls(conn, cid, opened)
    except BaseException:
        conn.close_channel(cid)
        _release(conn)
        raise
