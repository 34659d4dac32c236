"""Serve one simulated kernel on a Unix SOCK_SEQPACKET socket: every client connection is a PF_KEY socket.

Several processes (a TUI, a monitor, scripts) then share one kernel as they would share the real one.
``python -m setkey_tui.kernel.sim.server PATH [--sim-state FILE]`` runs it from the command line.
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

from setkey_tui.kernel.base import TransportError
from setkey_tui.kernel.sim.protocol import MAX_PACKET, control, is_control, parse_control
from setkey_tui.kernel.sim.transport import SimHost, SimTransport

CLOCK_INTERVAL = 0.5  # the longest the loop sleeps before running the kernel's clock


class StateScriptError(TransportError):
    """The --sim-state script could not be applied."""


def preload(host: SimHost, script: str) -> str:
    """Apply a setkey script to the kernel (as `setkey -f` would); return what it printed."""
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
        raise StateScriptError(
            f"the state script failed (exit {rc}): {(out.getvalue() + err.getvalue()).strip()}"
        )
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

    def _drop(self, conn: socket.socket) -> None:
        self._blocked.discard(conn)
        sid = self._clients.pop(conn, None)
        if sid is not None:
            self.host.close_socket(sid)
        with contextlib.suppress(KeyError, ValueError):
            self._sel.unregister(conn)
        conn.close()

    def _read(self, conn: socket.socket) -> None:
        sid = self._clients.get(conn)
        if sid is None:
            return
        try:
            n = conn.recv_into(self._buf)
        except BlockingIOError:
            return
        except OSError:
            self._drop(conn)
            return
        if not n:
            self._drop(conn)
            return
        packet = bytes(memoryview(self._buf)[:n])
        if is_control(packet):
            self._control(conn, packet)
            return
        try:
            self.host.send(sid, packet)
        except TransportError as exc:
            self._send_packet(conn, control({"refused": str(exc)}))

    def _control(self, conn: socket.socket, packet: bytes) -> None:
        try:
            req = parse_control(packet)
            if req.get("op") != "traffic":
                raise ValueError(f"unknown control op {req.get('op')!r}")
            kw = {k: int(req[k]) for k in ("sport", "dport", "size") if k in req}
            result = self.host.simulate_traffic(
                str(req["src"]), str(req["dst"]), int(req.get("proto", 0)), **kw
            )
            reply = result.as_dict()
        except (ValueError, KeyError, TypeError, ArithmeticError, RecursionError) as exc:
            reply = {"error": str(exc) or type(exc).__name__}  # a bad request, not the end of the server
        self._flush_all()
        self._send_packet(conn, control({"reply": reply}))

    def _send_packet(self, conn: socket.socket, data: bytes) -> bool:
        try:
            conn.send(data)
            return True
        except BlockingIOError:
            return False
        except OSError:
            self._drop(conn)
            return False

    def _want_write(self, conn: socket.socket, on: bool) -> None:
        """Wake up when ``conn`` can take more (its client reads slower than the kernel talks)."""
        if conn not in self._clients or conn in self._blocked is on:
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


def serve(
    path: str | os.PathLike[str],
    *,
    state_script: str | None = None,
    host: SimHost | None = None,
    server_ready: threading.Event | None = None,
) -> None:
    """Serve a simulated kernel at ``path`` until interrupted (SIGINT/SIGTERM); ``state_script`` preloads it.

    The socket file is removed when the server stops.
    """
    host = host or SimHost()
    if state_script:
        preload(host, state_script)
    server = SimServer(path, host)
    try:
        server.bind()
    except TransportError:
        server.close()
        raise
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, lambda _sig, _frame: server.stop())
    if server_ready is not None:
        server_ready.set()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    """Command line: serve-sim PATH [--sim-state FILE]."""
    ap = argparse.ArgumentParser(prog="setkey-tui serve-sim", description="Serve a simulated PF_KEY kernel.")
    ap.add_argument("path", help="where to create the Unix socket")
    ap.add_argument("--sim-state", metavar="FILE", help="a setkey script to preload the kernel with")
    args = ap.parse_args(argv)
    script = None
    if args.sim_state:
        try:
            script = Path(args.sim_state).read_text()
        except OSError as exc:
            print(f"setkey-tui: cannot read {args.sim_state}: {exc.strerror}", file=sys.stderr)
            return 1
    try:
        print(f"serving a simulated kernel at {args.path} (Ctrl-C to stop)", file=sys.stderr)
        serve(args.path, state_script=script)
    except (TransportError, StateScriptError) as exc:
        print(f"setkey-tui: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
