"""The TUI opening a big kernel: the dump path, the headless app, and the app in tmux beside the CLI.

Figures printed:
  0. The dump path alone (recv + read the rows + mirror), for 100k SAs and for 100k policies, fed by another
     process over a SOCK_SEQPACKET socket the way a kernel feeds PF_KEY; with a listener reading the
     promiscuous copies at the same time (target ≥ 150k messages/s).
  1. The app headless on an in-process stand-in kernel with 100k SAs + 100k policies that sends promiscuous
     copies of every reply the way Linux does: first rows painted, every row loaded (exact counts), RSS.
  2. While 1k kernel messages/s arrive (10% of them changing rows on screen): kernel message → changed row
     painted (median, p95, max; target ≤ 100 ms), without and then with ``gc.freeze()`` after the load.
  3. Monitor pane fed 10k msgs/s for 10 s: lines kept (bounded), RSS, key press latency.
  4. (``--tmux [N] [--rounds K]``, alone) ``setkey-tui`` in tmux (capture-pane) on ``serve-sim`` with N SAs + N
     policies, beside ``setkey-tui -D`` and ``-D -P`` on the same served kernel, K rounds (default 3), medians.
  5. (``--uml [N] [--rounds K]``, alone) inside user-mode-linux on real PF_KEY: N SAs + N policies (default
     50k); K rounds (default 3) of the CLI's -D and -D -P, then the app headless; medians.

The stand-in answers REGISTER, DUMP and SPDDUMP from pre-encoded messages, so figures 1–3 measure the TUI, not a
simulated kernel.
"""

from __future__ import annotations

import asyncio
import gc
import os
import re
import resource
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from setkey_tui.algorithms import LINUX_SUPPORTED_AUTH, LINUX_SUPPORTED_ENCRYPT
from setkey_tui.kernel.pfkey_socket import PFKeySocket
from setkey_tui.listener import Listener
from setkey_tui.mirror import Mirror
from setkey_tui.pfkey.constants import ExtType, MsgType
from setkey_tui.pfkey.extensions import SupportedExt
from setkey_tui.pfkey.message import Message, decode, header_only
from setkey_tui.pfkey.platform import LINUX
from setkey_tui.rowscan import RowScanner
from setkey_tui.scenarios.synthetic import sa_message, sp_message
from setkey_tui.service import InFlight, KeyService
from setkey_tui.tui.app import SetkeyApp
from setkey_tui.tui.widgets.entry_table import EntryTable

try:  # recvmmsg, where the kernel transport has it (the benchmark's socket pair then reads the same way)
    from setkey_tui.kernel.batchrecv import batch_receiver as _batch_receiver  # type: ignore[import-not-found,unused-ignore]
except ImportError:
    _batch_receiver = None

COUNT = 100_000
PID = 4242
SIZE = (160, 50)
ENOENT = 2


def rss_mb() -> float:
    """Current resident set size in MB."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class StandInKernel:
    """Answers the TUI's requests from pre-encoded messages; ``emit`` broadcasts to promiscuous sockets. Like
    Linux's pfkey_broadcast, every reply to a DUMP or SPDDUMP is also copied to each promiscuous socket."""

    def __init__(self, sa_dump: list[bytes], sp_dump: list[bytes] | None = None) -> None:
        self.sa_dump = sa_dump
        self.sp_dump = sp_dump or []
        self.lock = threading.Lock()
        self.sockets: list[StandInSocket] = []

    def open(self) -> StandInSocket:
        """A new socket."""
        s = StandInSocket(self)
        with self.lock:
            self.sockets.append(s)
        return s

    def emit(self, data: bytes) -> None:
        """A kernel broadcast to every promiscuous socket."""
        with self.lock:
            targets = [s for s in self.sockets if s.promisc]
        for s in targets:
            s.put(data)

    def reply_many(self, one: StandInSocket, replies: list[bytes]) -> None:
        """Each reply to every promiscuous socket (a copy), then to ``one``, interleaved as they are made."""
        with self.lock:
            copies = [s for s in self.sockets if s.promisc]
        step = 1000
        for i in range(0, len(replies), step):
            part = replies[i : i + step]
            for s in copies:
                s.put_many(part)
            one.put_many(part)


class StandInSocket:
    """One socket of :class:`StandInKernel` (a Transport)."""

    platform = LINUX
    description = "stand-in kernel (benchmark)"

    def __init__(self, kernel: StandInKernel) -> None:
        self.kernel = kernel
        self.queue: deque[bytes] = deque()
        self.cond = threading.Condition()
        self.promisc = False

    def put(self, data: bytes) -> None:
        """Queue one message for this socket."""
        with self.cond:
            self.queue.append(data)
            self.cond.notify()

    def put_many(self, data: list[bytes]) -> None:
        """Queue messages for this socket."""
        with self.cond:
            self.queue.extend(data)
            self.cond.notify()

    def send(self, data: bytes) -> None:
        """Answer a request (its copy goes to the promiscuous sockets first, as on Linux)."""
        msg = decode(data, LINUX)
        if msg.type != MsgType.X_PROMISC:
            self.kernel.emit(data)
        if msg.type == MsgType.REGISTER:
            reply = Message(MsgType.REGISTER, 0, msg.seq, msg.pid, 0, (
                SupportedExt(ExtType.SUPPORTED_AUTH, LINUX_SUPPORTED_AUTH),
                SupportedExt(ExtType.SUPPORTED_ENCRYPT, LINUX_SUPPORTED_ENCRYPT)))
            self.put(reply.encode(LINUX))
        elif msg.type in (MsgType.DUMP, MsgType.X_SPDDUMP):
            replies = self.kernel.sa_dump if msg.type == MsgType.DUMP else self.kernel.sp_dump
            if not replies:
                self.put(header_only(msg.type, 0, seq=msg.seq, pid=msg.pid, errno=ENOENT).encode(LINUX))
            else:
                threading.Thread(target=self.kernel.reply_many, args=(self, replies), daemon=True).start()
        elif msg.type == MsgType.X_PROMISC:
            self.promisc = bool(msg.satype)
            self.put(data)

    def recv(self, timeout: float | None = None) -> bytes | None:
        """The next queued message."""
        with self.cond:
            if not self.queue:
                self.cond.wait(timeout)
            return self.queue.popleft() if self.queue else None

    def set_promisc(self, on: bool) -> None:
        """Promiscuous on/off."""
        self.send(header_only(MsgType.X_PROMISC, 1 if on else 0).encode(LINUX))

    def close(self) -> None:
        """Forget the socket."""
        with self.kernel.lock:
            if self in self.kernel.sockets:
                self.kernel.sockets.remove(self)


def dump_replies(count: int, pid: int = PID) -> list[bytes]:
    """``count`` SA dump replies for ``pid``, seq counting up from 1, the last 0 (as Linux numbers them)."""
    return [sa_message(i, seq=(i + 1) if i < count - 1 else 0, pid=pid).encode(LINUX) for i in range(count)]


def spdump_replies(count: int, pid: int = PID) -> list[bytes]:
    """``count`` policy dump replies for ``pid`` (out, in and fwd policies), the last with seq 0."""
    return [sp_message(i, direction=1 + i % 3)._replace(seq=(i + 1) if i < count - 1 else 0, pid=pid).encode(LINUX)
            for i in range(count)]


class PaintProbe:
    """Wraps EntryTable.render_line: the first painted row, and rows painted with a value awaited."""

    def __init__(self) -> None:
        self.first_row_painted: float | None = None
        self.awaited: dict[tuple[int, ...], tuple[int, float]] = {}
        self.latencies: list[float] = []
        self.lock = threading.Lock()
        original = EntryTable.render_line
        probe = self

        def render_line(table: EntryTable, y: int) -> Any:
            strip = original(table, y)
            if y >= 1:
                index = round(table.scroll_y) + y - 1
                if index < len(table.table):
                    if probe.first_row_painted is None:
                        probe.first_row_painted = time.perf_counter()
                    row = table.table.row_at(index)
                    with probe.lock:
                        want = probe.awaited.get(row.key)
                        if want is not None and row.bytes >= want[0]:
                            probe.latencies.append(time.perf_counter() - want[1])
                            del probe.awaited[row.key]
            return strip

        EntryTable.render_line = render_line  # type: ignore[method-assign]


async def wait(pilot: Any, cond: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        await pilot.pause(0.01)
    return bool(cond())


def noise_pool(visible: int, size: int = 2000) -> list[bytes]:
    """Pre-encoded UPDATE broadcasts of rows off screen (so the sender costs little)."""
    out = []
    for n in range(size):
        i = visible + (n * 7919) % (COUNT - visible)
        out.append(sa_message(i, msg_type=MsgType.UPDATE, state=n % 2 + 1).encode(LINUX))
    return out


def stream(kernel: StandInKernel, probe: PaintProbe | None, rate: int, seconds: float, visible: int,
           stop: threading.Event, sent: list[int]) -> None:
    """Send ``rate`` UPDATE broadcasts a second; with a probe every 10th changes one of the first ``visible``
    rows (its byte counter) and is timed until painted."""
    pool = noise_pool(visible)
    n = 0
    start = time.perf_counter()
    while not stop.is_set() and time.perf_counter() - start < seconds:
        due = int((time.perf_counter() - start) * rate)
        while n < due:
            n += 1
            if n % 10 == 0 and probe is not None:
                i = (n // 10) % visible
                key = (3, 4, int.from_bytes(bytes([172, 16, (i % 65536) >> 8, i % 256]), "big"), 0x1000 + i)
                msg = sa_message(i, msg_type=MsgType.UPDATE)
                cur = msg.get(ExtType.LIFETIME_CURRENT)
                data = msg.with_ext(cur._replace(byte_count=1_000_000 + n)).encode(LINUX)  # type: ignore[union-attr]
                with probe.lock:
                    probe.awaited[key] = (1_000_000 + n, time.perf_counter())
            else:
                data = pool[n % len(pool)]
            kernel.emit(data)
        sent[0] = n
        time.sleep(0.002)


class SeqTransport:
    """A Transport over one end of a SOCK_SEQPACKET socket pair (the other end plays the kernel), reading the
    way :class:`~setkey_tui.kernel.pfkey_socket.PFKeySocket` reads: the socket's own timeout (SO_RCVTIMEO),
    one system call per message, and ``recv_many`` (recvmmsg, many per call) when the transport has it."""

    platform = LINUX
    description = "socket pair (benchmark)"

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray(65536)
        self.view = memoryview(self.buf)
        self.timeout: float | None = -1.0
        self.batch = _batch_receiver(sock.fileno()) if _batch_receiver is not None else None
        if self.batch is not None and hasattr(PFKeySocket, "recv_many"):
            self.recv_many = self._recv_many

    def _set_timeout(self, timeout: float | None) -> None:
        usec = 0 if timeout is None else max(1, round(timeout * 1_000_000))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("@ll", *divmod(usec, 1_000_000)))
        self.timeout = timeout

    def send(self, data: bytes) -> None:
        self.sock.send(data)

    def recv(self, timeout: float | None = None) -> bytes | None:
        if timeout != self.timeout:
            self._set_timeout(timeout)
        try:
            n = self.sock.recv_into(self.buf)
        except BlockingIOError:
            return None
        return bytes(self.view[:n])

    def _recv_many(self, timeout: float | None = None) -> list[bytes]:
        if timeout != self.timeout:
            self._set_timeout(timeout)
        assert self.batch is not None
        return self.batch.receive(True)

    def set_promisc(self, on: bool) -> None:
        pass

    def close(self) -> None:
        if self.batch is not None:
            self.batch.close()
        self.sock.close()


def _pair() -> tuple[socket.socket, socket.socket]:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    for s in (a, b):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    return a, b


def dump_path(kind: str, replies: list[bytes], *, listener: bool, decode_all: bool = False) -> tuple[float, float]:
    """Messages per second (of wall time, and per CPU second of this process) of one dump through KeyService.dump_stream → rows → mirror, fed by a child process (and, with
    ``listener``, a Listener counting the promiscuous copies the child sends beside every reply)."""
    mine, theirs = _pair()
    lmine, ltheirs = _pair()
    child = os.fork()
    if child == 0:  # the "kernel": waits for the request, then each reply's copy and the reply
        try:
            mine.close()
            lmine.close()
            theirs.recv(65536)
            for r in replies:
                if listener:
                    ltheirs.send(r)
                theirs.send(r)
        finally:
            os._exit(0)
    theirs.close()
    ltheirs.close()
    events: Any = __import__("queue").SimpleQueue()
    lst = None
    if listener:
        lst = Listener(lambda: SeqTransport(lmine), events, in_flight=InFlight(PID))
        lst.start()
        lst.ready.wait(5)
    svc = KeyService(SeqTransport(mine), pid=PID)
    mirror = Mirror()
    scanner = RowScanner(LINUX)
    which = "sad" if kind == "sa" else "spd"
    mtype = MsgType.DUMP if kind == "sa" else MsgType.X_SPDDUMP
    scan = scanner.sa_row if kind == "sa" else scanner.sp_row
    from setkey_tui.mirror import SARow, SPRow

    row_type = SARow if kind == "sa" else SPRow
    mirror.begin_load(which)
    c0 = time.process_time()
    t0 = time.perf_counter()
    batch: list[Any] = []
    for data in svc.dump_stream(mtype):
        batch.append(row_type(decode(data, LINUX)) if decode_all else scan(data))
        if len(batch) >= 5000:
            mirror.load_rows(which, batch)
            batch = []
    mirror.load_rows(which, batch)
    mirror.end_load(which)
    if lst is not None:
        while lst.own_dumps or lst.skipped < len(replies):
            time.sleep(0.001)
    t1 = time.perf_counter()
    c1 = time.process_time()
    if lst is not None:
        lst.stop()
    svc.close()
    os.waitpid(child, 0)
    table = mirror.sad if kind == "sa" else mirror.spd
    assert table.total == len(replies), (table.total, len(replies))
    return len(replies) / (t1 - t0), len(replies) / max(c1 - c0, 1e-9)


def bench_dump_path(sas: list[bytes], sps: list[bytes]) -> None:
    n = len(sas)
    print(f"  (load average now: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    for kind, replies in (("SAs", sas), ("policies", sps)):
        k = "sa" if kind == "SAs" else "sp"
        alone = dump_path(k, replies, listener=False)
        with_copies = dump_path(k, replies, listener=True)
        part = replies[: n // 5 - 1] + [replies[-1]]  # a fifth of the dump, ending as a dump ends (seq 0)
        old = dump_path(k, part, listener=False, decode_all=True)
        print(f"  dump path, {n:,} {kind}: {alone[0] / 1000:4.0f}k msg/s ({alone[1] / 1000:.0f}k per CPU second); "
              f"with a listener skipping the promiscuous copies {with_copies[0] / 1000:4.0f}k msg/s "
              f"({with_copies[1] / 1000:.0f}k per CPU second)   (target ≥ 150k)")
        print(f"      for reference, full decode + row from the message: {old[0] / 1000:.0f}k msg/s "
              f"({old[1] / 1000:.0f}k per CPU second)")


async def wait_loaded(pilot: Any, app: SetkeyApp, sas: int, sps: int, timeout: float) -> bool:
    return await wait(pilot, lambda: app.loaded.is_set() and app.mirror.sad.total == sas
                      and app.mirror.spd.total == sps, timeout)


async def bench_table(kernel: StandInKernel, probe: PaintProbe) -> None:
    app = SetkeyApp(kernel.open, pid=PID, now=lambda: 1_700_000_100.0)
    n_sa, n_sp = len(kernel.sa_dump), len(kernel.sp_dump)
    start = time.perf_counter()
    async with app.run_test(size=SIZE) as pilot:
        assert await wait(pilot, lambda: probe.first_row_painted is not None, 120)
        painted = (probe.first_row_painted or 0.0) - start
        assert await wait_loaded(pilot, app, n_sa, n_sp, 300), (app.mirror.sad.total, app.mirror.spd.total)
        loaded = time.perf_counter() - start
        await wait(pilot, app.events.empty, 30)
        listener = app.link.listener
        print(f"  {n_sa:,} SAs + {n_sp:,} policies, headless, stand-in kernel sending Linux's promiscuous copies:")
        print(f"    app start → first table rows painted  {painted:7.3f} s   (target ≤ 1 s)")
        print(f"    app start → every row loaded          {loaded:7.3f} s   (SAD {app.mirror.sad.total:,}, SPD "
              f"{app.mirror.spd.total:,}; listener: {listener.skipped if listener else 0:,} own copies "
              f"skipped, {listener.decoded if listener else 0:,} decoded)")
        print(f"    RSS with both tables held: {rss_mb():.0f} MB   (target ≤ 300 MB)")
        gc.unfreeze()  # the link froze the rows after the load: measure without, then with
        for label in ("without gc.freeze()", "with gc.freeze() after the load (what the app does)"):
            if "with gc" in label:
                gc.freeze()
            await pilot.pause(0.5)
            probe.latencies.clear()
            stop = threading.Event()
            sent = [0]
            t = threading.Thread(target=stream, args=(kernel, probe, 1000, 10.0, 20, stop, sent), daemon=True)
            t.start()
            while t.is_alive():
                await pilot.pause(0.05)
            await pilot.pause(0.5)
            lat = sorted(probe.latencies)
            if lat:
                p95 = lat[int(len(lat) * 0.95) - 1] if len(lat) >= 20 else lat[-1]
                print(f"    1k msgs/s for 10 s ({sent[0]} sent), {label}: kernel message → changed row painted: "
                      f"median {statistics.median(lat) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, max "
                      f"{lat[-1] * 1000:.0f} ms over {len(lat)} on-screen changes   (target ≤ 100 ms)")
            else:
                print(f"    1k msgs/s, {label}: no on-screen change was painted (probe saw none)")
        gc.unfreeze()
        print(f"    RSS after the streams: {rss_mb():.0f} MB; rows held: {app.mirror.sad.total:,} + "
              f"{app.mirror.spd.total:,}")


async def bench_monitor() -> None:
    kernel = StandInKernel([])
    app = SetkeyApp(kernel.open, pid=PID)
    async with app.run_test(size=SIZE) as pilot:
        assert await wait(pilot, app.loaded.is_set, 20)
        await pilot.pause(0.3)
        before = rss_mb()
        stop = threading.Event()
        sent = [0]
        t = threading.Thread(target=stream, args=(kernel, None, 10_000, 10.0, 20, stop, sent), daemon=True)
        t.start()
        from setkey_tui.tui.widgets.monitor import MAX_LINES, MonitorPane

        pane = app.query_one(MonitorPane)
        drains: list[float] = []
        drain = app.drain

        def timed_drain() -> None:
            t0 = time.perf_counter()
            drain()
            drains.append(time.perf_counter() - t0)

        assert app.drain_timer is not None
        app.drain_timer.stop()
        app.set_interval(0.05, timed_drain)
        presses: list[float] = []
        while t.is_alive():
            before_flag = pane.tflag
            t0 = time.perf_counter()
            app.simulate_key("x")  # as a key from the terminal: queued behind whatever the app is doing
            while pane.tflag == before_flag and time.perf_counter() - t0 < 10:
                await asyncio.sleep(0.002)
            presses.append(time.perf_counter() - t0)
            await asyncio.sleep(0.2)
        await wait(pilot, app.events.empty, 30)
        await pilot.pause(0.3)
        log = pane.log_widget
        print(f"  monitor, 10k msgs/s for 10 s: {sent[0]} sent, {pane.seen} seen, {pane.shown} formatted, "
              f"{pane.skipped} not shown (rate); log lines kept {log.line_count} (max {MAX_LINES}); "
              f"recording ring {len(pane.recording)}")
        print(f"  RSS before {before:.0f} MB, after {rss_mb():.0f} MB; key press handled in: median "
              f"{statistics.median(presses) * 1000:.0f} ms, max {max(presses) * 1000:.0f} ms over {len(presses)} "
              "presses")
        drains.sort()
        print(f"  drains during the flood: {len(drains)}, median {statistics.median(drains) * 1000:.1f} ms, "
              f"p95 {drains[int(len(drains) * 0.95)] * 1000:.1f} ms, max {drains[-1] * 1000:.1f} ms")


def big_state(n: int) -> str:
    """A setkey script of ``n`` ESP SAs and ``n`` outbound policies."""
    lines = []
    for i in range(n):
        src, dst = f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}", f"172.16.{i >> 8 & 255}.{i & 255}"
        lines.append(f"add {src} {dst} esp {0x1000 + i:#x} -m transport -E aes-cbc 0x{i:032x} "
                     f"-A hmac-sha256 0x{i:064x};")
        lines.append(f"spdadd {src} {dst} any -P out ipsec esp/transport//require;")
    return "\n".join(lines) + "\n"


def _proc_rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _descendant_rss(pid: int) -> float:
    """The largest RSS among ``pid`` and its children (the shell tmux runs, then the app)."""
    best = _proc_rss_mb(pid)
    try:
        kids = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    except OSError:
        kids = []
    for k in kids:
        best = max(best, _descendant_rss(int(k)))
    return best


ROW_SHOWN = re.compile(r" esp +0x[0-9a-f]{8} ")  # an SA row of the table, as capture-pane reads it


def compile_package() -> None:
    """Byte-compile the package, as ``pip install`` does: the app then starts as it does for a user (this
    machine's environment may say PYTHONDONTWRITEBYTECODE, which would make every start compile it again)."""
    root = Path(__file__).resolve().parents[1] / "setkey_tui"
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(root)], check=False, capture_output=True)


def tmux_round(exe: list[str], sock: Path, env: dict[str, str], n: int) -> dict[str, Any]:
    """One run of the app in tmux from the command line: first SA row on screen, every row with exact counts
    and the listener live, RSS, and the badge and monitor lines at the end."""
    session = f"bench{os.getpid()}"
    t = time.perf_counter()
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "200", "-y", "50",
                    " ".join([*exe, "--kernel", f"sim@{sock}"])], env=env, check=True)
    first = done = None
    want_sad, want_spd = f"SAD {n:,}", f"SPD {n:,}"
    screen = ""
    try:
        while time.perf_counter() - t < 600:
            screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True,
                                    text=True).stdout
            now = time.perf_counter() - t
            if first is None and ROW_SHOWN.search(screen):
                first = now
            if want_sad in screen and want_spd in screen and " · live" in screen:
                done = now
                break
            time.sleep(0.02 if first is None else 0.05)
        pane_pid = int(subprocess.run(["tmux", "list-panes", "-t", session, "-F", "#{pane_pid}"],
                                      capture_output=True, text=True).stdout.split()[0])
        rss = _descendant_rss(pane_pid)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)
    lines = screen.splitlines()
    return {"first": first, "done": done, "rss": rss,
            "badge": next((line for line in lines if "SAD" in line), "").strip(),
            "monitor": [line.strip() for line in lines if "own " in line or "Monitor" in line]}


def bench_tmux(n: int, rounds: int = 3) -> None:
    """The app as a user starts it, in tmux on serve-sim, beside the CLI's -D and -D -P on the same kernel;
    ``rounds`` times (CLI, then the app), medians at the end."""
    if shutil.which("tmux") is None:
        print("  tmux: not installed, skipped")
        return
    compile_package()
    exe = [sys.executable, "-m", "setkey_tui"]
    tmp = Path(tempfile.mkdtemp(prefix="bench-tui-"))
    state, sock = tmp / "big.conf", tmp / "k.sock"
    state.write_text(big_state(n))
    env = {**os.environ, "SETKEY_TUI_KERNEL": f"sim@{sock}", "TERM": "xterm-256color"}
    t0 = time.perf_counter()
    server = subprocess.Popen([*exe, "serve-sim", str(sock), "--sim-state", str(state)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while not sock.exists():
            if server.poll() is not None:
                print(f"  tmux: serve-sim failed: {server.stderr.read().decode()[:300] if server.stderr else ''}")
                return
            time.sleep(0.1)
        print(f"  serve-sim with {n:,} SAs + {n:,} policies ready in {time.perf_counter() - t0:.1f} s")
        firsts, ratios, dones = [], [], []
        for r in range(1, rounds + 1):
            cli = []
            for flags in (["-D"], ["-D", "-P"]):
                t = time.perf_counter()
                out = subprocess.run([*exe, "--kernel", f"sim@{sock}", *flags], env=env, capture_output=True)
                cli.append(time.perf_counter() - t)
                count = out.stdout.count(b"esp mode=") if flags == ["-D"] else out.stdout.count(b"\n\tesp/")
                if count != n or out.returncode:
                    print(f"  CLI {' '.join(flags)}: {count:,} entries, rc {out.returncode} (expected {n:,})")
            both = sum(cli)
            got = tmux_round(exe, sock, env, n)
            first, done = got["first"], got["done"]
            line = (f"  round {r} (load {os.getloadavg()[0]:.1f}): CLI -D {cli[0]:.2f} s + -D -P {cli[1]:.2f} s = "
                    f"{both:.2f} s; TUI in tmux 200x50: first rows {first if first is not None else float('nan'):.2f}"
                    " s, ")
            if done is not None:
                line += f"every row, exact counts, live {done:.2f} s = {done / both:.2f} ×; RSS {got['rss']:.0f} MB"
                ratios.append(done / both)
                dones.append(done)
            else:
                line += f"not all rows after 600 s; badge: {got['badge'][:150]}"
            print(line, flush=True)
            if first is not None:
                firsts.append(first)
            if r == rounds:
                print(f"  badge: {got['badge'][:150]}")
                for m in got["monitor"][:3]:
                    print(f"  monitor: {m[:150]}")
        if firsts:
            print(f"  median of {len(firsts)}: first rows on screen {statistics.median(firsts):.2f} s (target ≤ 1 s)")
        if ratios:
            print(f"  median of {len(ratios)}: every row {statistics.median(dones):.2f} s = "
                  f"{statistics.median(ratios):.2f} × (CLI -D + -D -P, same round)   (target ≤ 1.3 ×)")
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


def bench_uml_inner(n: int, rounds: int = 3) -> None:
    """Inside user-mode-linux (real PF_KEY): fill n SAs + n policies, time the CLI's -D and -D -P, then the app
    headless on the same kernel (first rows painted, every row loaded with exact counts)."""
    from setkey_tui.lang.compile import compile_statement
    from setkey_tui.lang.grammar import parse

    def flush() -> None:
        svc = KeyService(PFKeySocket())
        svc.request(header_only(MsgType.FLUSH))
        svc.request(header_only(MsgType.X_SPDFLUSH))
        svc.close()

    flush()
    t = time.perf_counter()
    svc = KeyService(PFKeySocket())
    for st in parse(big_state(n)):
        for msg in compile_statement(st):
            svc.request(msg)
    svc.close()
    print(f"  real PF_KEY (user-mode-linux): {n:,} SAs + {n:,} policies added in {time.perf_counter() - t:.1f} s",
          flush=True)
    exe = [sys.executable, "-m", "setkey_tui", "--kernel", "pfkey"]
    probe = PaintProbe()

    async def run_app(both: float) -> tuple[float, float, bool]:
        probe.first_row_painted = None
        app = SetkeyApp(PFKeySocket, now=time.time)
        start = time.perf_counter()
        async with app.run_test(size=SIZE) as pilot:
            assert await wait(pilot, lambda: probe.first_row_painted is not None, 600)
            first = (probe.first_row_painted or 0.0) - start
            ok = await wait_loaded(pilot, app, n, n, 1200)
            done = time.perf_counter() - start
            listener = app.link.listener
            print(f"    TUI headless: first rows painted {first:.2f} s; every row {'loaded' if ok else 'NOT loaded'} "
                  f"in {done:.2f} s = {done / both:.2f} × (CLI -D + -D -P); SAD {app.mirror.sad.total:,}, SPD "
                  f"{app.mirror.spd.total:,}; RSS {rss_mb():.0f} MB; reloads {app.resyncs}; listener: "
                  f"{listener.skipped if listener else 0:,} own copies skipped, "
                  f"{listener.decoded if listener else 0:,} decoded", flush=True)
        return first, done, ok

    firsts, ratios = [], []
    for r in range(1, rounds + 1):
        cli = []
        for flags in (["-D"], ["-D", "-P"]):
            t = time.perf_counter()
            out = subprocess.run([*exe, *flags], capture_output=True)
            cli.append(time.perf_counter() - t)
            count = out.stdout.count(b"esp mode=") if flags == ["-D"] else out.stdout.count(b"\n\tesp/")
            if count != n or out.returncode:
                print(f"    CLI {' '.join(flags)}: {count:,} entries, rc {out.returncode} (expected {n:,})")
        both = sum(cli)
        print(f"  round {r}: CLI -D {cli[0]:.2f} s + -D -P {cli[1]:.2f} s = {both:.2f} s", flush=True)
        first, done, ok = asyncio.run(run_app(both))
        gc.unfreeze()
        gc.collect()
        firsts.append(first)
        if ok:
            ratios.append(done / both)
    print(f"  median of {rounds}: first rows painted {statistics.median(firsts):.2f} s (target ≤ 1 s); every row "
          f"{statistics.median(ratios) if ratios else float('nan'):.2f} × (CLI -D + -D -P, same round) "
          "(target ≤ 1.3 ×)", flush=True)
    flush()


def bench_uml(n: int, rounds: int = 3) -> None:
    """Boot user-mode-linux and run :func:`bench_uml_inner` there."""
    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root / "tests" / "kernel" / "uml"))
    from uml_boot import UmlError, run_in_uml  # type: ignore[import-not-found]

    uml = shutil.which("linux.uml") or "/usr/bin/linux.uml"
    compile_package()
    command = f"cd {root} && PYTHONDONTWRITEBYTECODE=1 .venv/bin/python bench/bench_tui.py --uml-inner {n} --rounds {rounds}"
    try:
        run_in_uml(command, uml=uml, timeout=1800, mem="1500M",
                   echo_stdout=lambda b: (sys.stdout.write(b.decode(errors="replace")), sys.stdout.flush()))
    except UmlError as exc:
        print(f"  (user-mode-linux: {str(exc).splitlines()[0][:200]})")


def main(argv: list[str] | None = None) -> None:
    """Run the measurements and print the figures (``--tmux [N]``: only the app in tmux on serve-sim)."""
    args = sys.argv[1:] if argv is None else argv
    rounds = int(args[args.index("--rounds") + 1]) if "--rounds" in args else 3
    for flag, fn in (("--uml-inner", bench_uml_inner), ("--uml", bench_uml)):
        if flag in args:
            i = args.index(flag)
            fn(int(args[i + 1]) if len(args) > i + 1 and args[i + 1].isdigit() else 50_000, rounds)
            return
    if "--tmux" in args:
        i = args.index("--tmux")
        bench_tmux(int(args[i + 1]) if len(args) > i + 1 and args[i + 1].isdigit() else COUNT, rounds)
        return
    t = time.perf_counter()
    sas, sps = dump_replies(COUNT), spdump_replies(COUNT)
    print(f"  (building {COUNT:,} + {COUNT:,} kernel replies for the stand-in took {time.perf_counter() - t:.1f} s)")
    bench_dump_path(sas, sps)
    kernel = StandInKernel(sas, sps)
    del sas, sps
    probe = PaintProbe()
    asyncio.run(bench_table(kernel, probe))
    del kernel
    asyncio.run(bench_monitor())
    print(f"  peak RSS of the whole run: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
