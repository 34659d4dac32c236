"""``setkey-tui bridge --kernel SPEC``: relay PF_KEY messages between stdin/stdout and this machine's kernel.

Run by ``ssh HOST setkey-tui bridge ...`` for a ``--kernel ssh:HOST[/SPEC]`` on another machine. It sends its
hello line, checks the peer's, then serves frames (see :mod:`.framing`): each ``OPEN`` opens one transport with
:func:`~setkey_tui.kernel.choose.open_transport` (one PF_KEY socket) and a thread that forwards what the socket
receives; ``MSG`` frames are sent on the socket. It exits when stdin closes, opens no network socket and
writes nothing to disk. Also runnable as ``python -m setkey_tui.kernel.remote.bridge [bridge] --kernel SPEC``.
"""

from __future__ import annotations

import getopt
import os
import queue
import select
import sys
import threading
from collections.abc import Callable
from typing import IO, Any

from setkey_tui.kernel.base import MessagesLost, TrafficSimulator, Transport, TransportError
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
)
from setkey_tui.packet import Packet, PacketError

PROG = "setkey-tui bridge"
USAGE = f"usage: {PROG} [--kernel SPEC]   (SPEC: auto, pfkey, sim, sim@PATH, replay:FILE; default auto)"
READ_CHUNK = 1 << 18
SLICE = 0.02  # seconds a socket without a file descriptor is polled for at a time (ops wait at most this)
BATCH = 512  # messages read before they are written out in one go


class _Output:
    """The bridge's stdout: whole frames written under one lock."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._fd: int | None
        try:
            self._fd = stream.fileno()
        except (AttributeError, OSError, ValueError):
            self._fd = None
        self._lock = threading.Lock()
        self.broken = threading.Event()

    def write(self, data: bytes) -> None:
        """Write ``data`` (whole frames) at once; a closed stdout marks the output broken."""
        if self.broken.is_set():
            return
        with self._lock:
            try:
                if self._fd is not None:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(self._fd, view):]
                else:
                    self._stream.write(data)
                    self._stream.flush()
            except (OSError, ValueError):
                self.broken.set()


class _Channel:
    """One PF_KEY socket of the bridge and the thread that forwards what it receives."""

    def __init__(self, cid: int, transport: Transport, out: _Output) -> None:
        self.cid = cid
        self.t = transport
        self.out = out
        self.ops: queue.SimpleQueue[Frame] = queue.SimpleQueue()
        self.stop = threading.Event()
        fileno = getattr(transport, "fileno", None)
        self._fd: int | None = fileno() if callable(fileno) else None
        self._wake_r, self._wake_w = os.pipe() if self._fd is not None else (-1, -1)
        self.thread = threading.Thread(target=self._run, name=f"bridge-channel-{cid}", daemon=True)
        self.thread.start()

    def op(self, f: Frame) -> None:
        """Queue a PROMISC/TRAFFIC request for the channel's thread (which owns the socket's reads)."""
        if not self.thread.is_alive():
            self.out.write(control(self.cid, Kind.REPLY, {"failed": "the kernel socket is closed"}))
            return
        self.ops.put(f)
        self._wake()

    def _wake(self) -> None:
        if self._wake_w >= 0:
            try:
                os.write(self._wake_w, b"x")
            except OSError:
                pass

    def close(self) -> None:
        """Stop the thread and close the socket."""
        self.stop.set()
        self._wake()
        self.thread.join(2.0)
        if not self.thread.is_alive():
            for fd in (self._wake_r, self._wake_w):
                if fd >= 0:
                    os.close(fd)
            self._wake_r = self._wake_w = -1

    def _wait(self, poller: select.poll | None) -> bytes | None:
        """The next message (None when none came in a while or the thread was woken)."""
        if poller is None:
            return self.t.recv(SLICE)
        events = poller.poll(None)
        if any(fd == self._wake_r for fd, _ in events):
            try:
                os.read(self._wake_r, 4096)
            except OSError:
                pass
        return self.t.recv(0)

    def _run(self) -> None:
        poller: select.poll | None = None
        if self._fd is not None:
            poller = select.poll()
            poller.register(self._fd, select.POLLIN)
            poller.register(self._wake_r, select.POLLIN)
        try:
            while not self.stop.is_set() and not self.out.broken.is_set():
                while True:
                    try:
                        self._do(self.ops.get_nowait())
                    except queue.Empty:
                        break
                try:
                    data = self._wait(poller)
                    if data is None:
                        continue
                    batch = [frame(self.cid, Kind.MSG, data)]
                    while len(batch) < BATCH:
                        more = self.t.recv(0)
                        if more is None:
                            break
                        batch.append(frame(self.cid, Kind.MSG, more))
                    self.out.write(b"".join(batch))
                except MessagesLost as exc:
                    self.out.write(control(self.cid, Kind.LOST, {"reason": str(exc)}))
        except TransportError as exc:
            if not self.stop.is_set():
                self.out.write(control(self.cid, Kind.FAILED, {"error": str(exc)}))
        except Exception as exc:  # noqa: BLE001 - the thread's edge: the client must hear of it
            self.out.write(control(self.cid, Kind.FAILED, {"error": f"{type(exc).__name__}: {exc}"}))
        finally:
            try:
                self.t.close()
            except (OSError, TransportError):
                pass

    def _do(self, f: Frame) -> None:
        """Run one queued request and answer it with a REPLY frame."""
        reply: dict[str, Any]
        try:
            args = f.json()
            if f.kind == Kind.PROMISC:
                self.t.set_promisc(bool(args.get("on")))
                reply = {"ok": True}
            else:
                if not isinstance(self.t, TrafficSimulator):
                    raise ValueError("this kernel cannot simulate traffic")
                reply = {"ok": self.t.simulate_traffic(Packet.from_json(args)).to_json()}
        except TransportError as exc:
            reply = {"failed": str(exc)}
        except PacketError as exc:
            reply = {"error": exc.reason, "field": exc.field}
        except (ValueError, KeyError, TypeError) as exc:
            reply = {"error": str(exc)}
        self.out.write(control(self.cid, Kind.REPLY, reply))


class Bridge:
    """The relay's state: the kernel spec and the open channels (sans the stdin loop, see :func:`serve`)."""

    def __init__(self, spec: str, out: _Output,
                 opener: Callable[[str], Transport] | None = None) -> None:
        self.spec = spec
        self.out = out
        self.channels: dict[int, _Channel] = {}
        self._open = opener or _open_transport

    def handle(self, f: Frame) -> None:
        """Act on one frame from the client."""
        ch = self.channels.get(f.channel)
        if f.kind == Kind.OPEN:
            if ch is not None:
                raise FramingError(f"channel {f.channel} is already open")
            try:
                t = self._open(self.spec)
            except (TransportError, OSError, ValueError) as exc:
                self.out.write(control(f.channel, Kind.REFUSED, {"error": _one_line(exc)}))
                return
            self.channels[f.channel] = _Channel(f.channel, t, self.out)
            self.out.write(control(f.channel, Kind.OPENED, {
                "description": t.description,
                "platform": t.platform.name,
                "traffic": isinstance(t, TrafficSimulator),
            }))
            return
        if ch is None:
            return  # a frame for a channel that failed or was closed meanwhile: dropped
        if f.kind == Kind.MSG:
            try:
                ch.t.send(f.payload)
            except TransportError as exc:
                self.out.write(control(f.channel, Kind.SEND_FAILED, {"error": str(exc)}))
        elif f.kind in (Kind.PROMISC, Kind.TRAFFIC):
            ch.op(f)
        elif f.kind == Kind.CLOSE:
            del self.channels[f.channel]
            ch.close()
        else:
            raise FramingError(f"a {f.kind.name} frame is not for the bridge")

    def close(self) -> None:
        """Close every channel."""
        channels, self.channels = list(self.channels.values()), {}
        for ch in channels:
            ch.close()


def _open_transport(spec: str) -> Transport:
    from setkey_tui.kernel.choose import open_transport

    return open_transport(spec)


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"cannot open the kernel socket: {exc.strerror}"
    return " ".join(str(exc).split()) or type(exc).__name__


def _reader(stream: IO[bytes]) -> Callable[[], bytes]:
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        read1 = getattr(stream, "read1", None)
        return (lambda: read1(READ_CHUNK)) if callable(read1) else (lambda: stream.read(READ_CHUNK))
    return lambda: os.read(fd, READ_CHUNK)


def serve(spec: str, stdin: IO[bytes], stdout: IO[bytes], *,
          opener: Callable[[str], Transport] | None = None) -> None:
    """Relay until stdin closes; FramingError (VersionMismatch included) when the client is not our peer."""
    out = _Output(stdout)
    out.write(hello())
    bridge = Bridge(spec, out, opener)
    decoder = FrameDecoder()
    read = _reader(stdin)
    try:
        while not out.broken.is_set():
            data = read()
            if not data:
                return
            for item in decoder.feed(data):
                if isinstance(item, Hello):
                    check_peer(item, peer_name="the client")
                else:
                    bridge.handle(item)
    finally:
        bridge.close()


def parse_args(argv: list[str]) -> str:
    """The kernel spec from ``[bridge] [--kernel SPEC]``; getopt.GetoptError for anything else."""
    from setkey_tui.kernel.choose import default_spec

    if argv[:1] == ["bridge"]:
        argv = argv[1:]
    pairs, rest = getopt.getopt(argv, "", ["kernel="])
    if rest:
        raise getopt.GetoptError(f"unexpected argument {rest[0]!r}")
    spec = default_spec()
    for _, value in pairs:
        spec = value
    return spec


def main(argv: list[str], stdin: IO[bytes], stdout: IO[bytes], stderr: IO[str]) -> int:
    """The ``bridge`` subcommand (``argv`` after the word ``bridge``, which may also be repeated first):
    0 when stdin closed, 1 for bad arguments, 2 when the client is not a compatible setkey-tui."""
    try:
        spec = parse_args(argv)
    except getopt.GetoptError as exc:
        stderr.write(f"{PROG}: {exc}\n{USAGE}\n")
        return 1
    if stdin.isatty() if hasattr(stdin, "isatty") else False:
        stderr.write(f"{PROG}: stdin is a terminal: the bridge is run by `setkey-tui --kernel ssh:HOST`\n")
        return 1
    try:
        serve(spec, stdin, stdout)
    except FramingError as exc:
        stderr.write(f"{PROG}: {exc}\n")
        stderr.flush()
        return 2
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], sys.stdin.buffer, sys.stdout.buffer, sys.stderr))
