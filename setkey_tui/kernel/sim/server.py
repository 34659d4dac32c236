"""Serve one simulated kernel on a Unix SOCK_SEQPACKET socket: every client connection is a PF_KEY socket.

Several processes (a TUI, a monitor, scripts) then share one kernel as they would share the real one.
``python -m setkey_tui.kernel.sim.server PATH [--sim-state FILE]`` runs it from the command line.

As with a real kernel, where every ``sendmsg`` is applied before it returns, every request a client sent is
executed: a client that closes (or dies) right after sending still has all its requests applied, in order,
before its socket goes away; replies to a connection that can no longer take them are dropped, its requests
are not. ``SimClient.close`` waits until the server has read everything it sent (it shuts down its sending
side and reads until the server closes), so whatever a client does after closing sees its requests applied.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import selectors
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import TextIO

from setkey_tui.kernel.base import TransportError
from setkey_tui.kernel.sim.protocol import MAX_PACKET, control, is_control, parse_control
from setkey_tui.kernel.sim.transport import SimHost, SimTransport
from setkey_tui.packet import Packet, PacketError

CLOCK_INTERVAL = 0.5  # the longest the loop sleeps before running the kernel's clock
READ_BATCH = 64  # requests read from one connection before the others get their turn


class StateScriptError(TransportError):
    """The --sim-state script could not be applied."""


def one_line(text: str, limit: int = 200) -> str:
    """The first non-empty line of ``text``, non-printable characters escaped, cut to ``limit``."""
    line = next((ln for ln in text.splitlines() if ln.strip()), "")
    shown = "".join(_shown(ch) for ch in line)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def _shown(ch: str) -> str:
    o = ord(ch)
    if 0xDC80 <= o <= 0xDCFF:  # a byte that was not UTF-8 (kept by surrogateescape)
        return f"\\x{o - 0xDC00:02x}"
    return ch if ch.isprintable() else ascii(ch)[1:-1]


def read_state(path: str | os.PathLike[str]) -> str:
    """A --sim-state file's text, read as ``setkey -f`` reads a script (bytes that are not UTF-8 are kept and
    reported by the parser); :class:`StateScriptError` when it cannot be read."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise StateScriptError(f"cannot read {os.fspath(path)}: {exc.strerror}") from None
    return data.decode("utf-8", errors="surrogateescape")


def preload(host: SimHost, script: str, *, name: str = "the state script") -> str:
    """Apply a setkey script to the kernel (as `setkey -f` would); return what it printed.

    :class:`StateScriptError` (one line: the script's first error) when the script does not parse.
    """
    from setkey_tui.script import run_script

    out, err = io.StringIO(), io.StringIO()
    transport = SimTransport(host, description="simulated kernel (preloading)")
    try:
        rc = run_script(
            script,
            transport,
            stdin_mode=False,
            verbose=False,
            dry_run=False,
            kernel_mode=False,
            out=out,
            err=err,
            now=time.time,
        )
    finally:
        transport.close()
    if rc != 0:
        raise StateScriptError(f"{name} failed: {one_line(out.getvalue() or err.getvalue())}")  # out: the error
    return out.getvalue() + err.getvalue()


def _answers(path: str) -> bool:
    """Whether a server is listening on the Unix socket ``path``."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as probe:
        try:
            probe.connect(path)
        except OSError:
            return False
    return True


class SimServer:
    """The accept/forward loop (single thread; ``stop()`` may be called from another thread)."""

    def __init__(self, path: str | os.PathLike[str], host: SimHost | None = None) -> None:
        self.path = str(path)
        self.host = host or SimHost()
        self._sel = selectors.DefaultSelector()
        self._clients: dict[socket.socket, int] = {}
        self._blocked: set[socket.socket] = set()  # connections waiting to become writable
        self._mute: set[socket.socket] = set()  # peers gone: their requests are still read and run
        self._stop = threading.Event()
        self._wake_r, self._wake_w = socket.socketpair()
        self.ready = threading.Event()
        self._listen: socket.socket | None = None
        self._buf = bytearray(MAX_PACKET)  # one receive buffer for every connection (single thread)

    def bind(self) -> None:
        """Create the listening socket (a stale socket file is replaced; a live server's is not)."""
        with contextlib.suppress(FileNotFoundError):
            if Path(self.path).is_socket():
                if _answers(self.path):
                    raise TransportError(f"a simulated kernel is already served at {self.path}")
                os.unlink(self.path)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            s.bind(self.path)
        except OSError as exc:
            s.close()
            raise TransportError(
                f"cannot serve the simulated kernel at {self.path}: {exc.strerror}"
            ) from None
        s.listen(64)
        s.setblocking(False)
        self._listen = s
        self._sel.register(s, selectors.EVENT_READ, "accept")
        self._wake_r.setblocking(False)
        self._sel.register(self._wake_r, selectors.EVENT_READ, "wake")

    def stop(self) -> None:
        """Ask the loop to end."""
        self._stop.set()
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def serve_forever(self) -> None:
        """Run until :meth:`stop`."""
        if self._listen is None:
            self.bind()
        self.ready.set()
        try:
            while not self._stop.is_set():
                timeout = CLOCK_INTERVAL
                nxt = self.host.kernel.next_timer()
                if nxt is not None:
                    timeout = max(0.0, min(timeout, nxt - self.host.kernel.clock() + 0.01))
                for key, mask in self._sel.select(timeout):
                    if key.data == "accept":
                        self._accept()
                    elif key.data == "wake":
                        with contextlib.suppress(OSError):
                            self._wake_r.recv(64)
                    elif mask & selectors.EVENT_READ:
                        self._read(key.fileobj)  # type: ignore[arg-type]
                self.host.tick()
                self._flush_all()
        finally:
            self._shutdown()

    def _accept(self) -> None:
        assert self._listen is not None
        try:
            conn, _addr = self._listen.accept()
        except OSError:
            return
        conn.setblocking(False)
        self._clients[conn] = self.host.open_socket()
        self._sel.register(conn, selectors.EVENT_READ, "client")

    @property
    def connections(self) -> int:
        """How many client connections are open (a closed client counts until its last request ran)."""
        return len(self._clients)

    def _drop(self, conn: socket.socket) -> None:
        self._blocked.discard(conn)
        self._mute.discard(conn)
        sid = self._clients.pop(conn, None)
        if sid is not None:
            self.host.close_socket(sid)
        with contextlib.suppress(KeyError, ValueError):
            self._sel.unregister(conn)
        conn.close()

    def _silence(self, conn: socket.socket) -> None:
        """The peer can no longer read: stop writing to it, but run what it sent until its end of file."""
        if conn in self._mute or conn not in self._clients:
            return
        self._mute.add(conn)
        self._want_write(conn, False)
        self.host.discard(self._clients[conn])

    def _read(self, conn: socket.socket) -> None:
        """Run the requests waiting on ``conn`` (a batch of them); the end of file closes its socket."""
        sid = self._clients.get(conn)
        if sid is None:
            return
        for _ in range(READ_BATCH):
            try:
                n = conn.recv_into(self._buf)
            except BlockingIOError:
                return
            except ConnectionResetError:
                # the peer closed with replies unread (Linux reports it once): what it sent is still queued
                self._silence(conn)
                continue
            except OSError:
                self._drop(conn)
                return
            if not n:
                self._drop(conn)
                return
            packet = bytes(memoryview(self._buf)[:n])
            if is_control(packet):
                self._control(conn, packet)
                continue
            try:
                self.host.send(sid, packet)
            except TransportError as exc:
                self._send_packet(conn, control({"refused": str(exc)}))

    def _control(self, conn: socket.socket, packet: bytes) -> None:
        reply: dict[str, object]
        try:
            req = parse_control(packet)
            if req.get("op") != "traffic":
                raise ValueError(f"unknown control op {req.get('op')!r}")
            reply = self.host.simulate_traffic(Packet.from_json(req)).to_json()
        except PacketError as exc:
            reply = {"error": exc.reason, "field": exc.field}
        except (ValueError, KeyError, TypeError, ArithmeticError, RecursionError) as exc:
            reply = {"error": str(exc) or type(exc).__name__}  # a bad request, not the end of the server
        self._flush_all()
        self._send_packet(conn, control({"reply": reply}))

    def _send_packet(self, conn: socket.socket, data: bytes) -> bool:
        if conn in self._mute:
            return True  # nobody reads it any more: the reply goes nowhere
        try:
            conn.send(data)
            return True
        except BlockingIOError:
            return False
        except (BrokenPipeError, ConnectionResetError):
            self._silence(conn)  # its requests still waiting to be read are run all the same
            return True
        except OSError:
            self._drop(conn)
            return False

    def _want_write(self, conn: socket.socket, on: bool) -> None:
        """Wake up when ``conn`` can take more (its client reads slower than the kernel talks)."""
        if conn not in self._clients or (conn in self._blocked) == on:
            return
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if on else 0)
        with contextlib.suppress(KeyError, ValueError):
            self._sel.modify(conn, events, "client")
        if on:
            self._blocked.add(conn)
        else:
            self._blocked.discard(conn)

    def _flush_all(self) -> None:
        for conn, sid in list(self._clients.items()):
            if conn not in self._mute:
                self._want_write(conn, not self._flush(conn, sid))

    def _flush(self, conn: socket.socket, sid: int) -> bool:
        """Pass a socket's queue on to its client; False when the connection could not take it all."""
        lost = self.host.take_lost(sid)
        if lost and not self._send_packet(conn, control({"lost": self._lost_text(lost)})):
            self.host.add_lost(sid, lost)
            return False
        while True:
            try:
                data = self.host.pop(sid, report_lost=False)
            except TransportError:
                return True
            if data is None:
                return True
            if not self._send_packet(conn, data):
                if conn in self._clients:
                    self.host.unpop(sid, data)
                    return False
                return True
            if conn in self._mute:
                return True

    @staticmethod
    def _lost_text(n: int) -> str:
        return (
            f"{n} message(s) lost: the receive queue was full (No buffer space available); "
            "resynchronise with a dump"
        )

    def close(self) -> None:
        """Release the selector and the wake-up pair of a server that never ran (serve_forever does it)."""
        self._shutdown()

    def _shutdown(self) -> None:
        for conn in list(self._clients):
            self._drop(conn)
        if self._listen is not None:
            with contextlib.suppress(KeyError, ValueError):
                self._sel.unregister(self._listen)
            self._listen.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
        self._sel.close()
        self._wake_r.close()
        self._wake_w.close()


def _counts(host: SimHost) -> str:
    sas, pols = len(host.kernel.sas), len(host.kernel.policies)
    return f"{sas} SA{'' if sas == 1 else 's'}, {pols} polic{'y' if pols == 1 else 'ies'}"


def serve(
    path: str | os.PathLike[str],
    *,
    state_script: str | None = None,
    state_file: str | os.PathLike[str] | None = None,
    host: SimHost | None = None,
    server_ready: threading.Event | None = None,
    log: TextIO | None = None,
) -> None:
    """Serve a simulated kernel at ``path`` until interrupted (SIGINT/SIGTERM).

    ``state_file`` (read as ``setkey -f`` reads a script) or ``state_script`` (its text) preloads it;
    :class:`StateScriptError` when it cannot be read or parsed, :class:`TransportError` when ``path``
    cannot be served. What the script printed, then one line when serving starts (the socket, what was loaded) and one
    when it stops go to ``log`` (standard error by default). The socket file is removed when the server stops.
    """
    log = sys.stderr if log is None else log
    host = host or SimHost()
    source = ""
    if state_file is not None:
        state_script = read_state(state_file)
        source = f" from {os.fspath(state_file)}"
    if state_script:
        said = preload(host, state_script, name=f"the state script{source}" if source else "the state script")
        if said:
            log.write(said if said.endswith("\n") else said + "\n")
    server = SimServer(path, host)
    try:
        server.bind()
    except TransportError:
        server.close()
        raise
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, lambda _sig, _frame: server.stop())
    loaded = f"loaded {_counts(host)}{source}" if state_script else "empty"
    log.write(f"setkey-tui: serving a simulated kernel at {server.path} ({loaded}); Ctrl-C stops it\n")
    log.flush()
    if server_ready is not None:
        server_ready.set()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        log.write(f"setkey-tui: stopped serving {server.path} ({_counts(host)} at the end)\n")
        log.flush()


def main(argv: list[str] | None = None) -> int:
    """Command line: serve-sim PATH [--sim-state FILE]."""
    ap = argparse.ArgumentParser(prog="setkey-tui serve-sim", description="Serve a simulated PF_KEY kernel.")
    ap.add_argument("path", help="where to create the Unix socket")
    ap.add_argument("--sim-state", metavar="FILE", help="a setkey script to preload the kernel with")
    args = ap.parse_args(argv)
    try:
        serve(args.path, state_file=args.sim_state)
    except (TransportError, StateScriptError) as exc:
        print(f"setkey-tui: serve-sim: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
