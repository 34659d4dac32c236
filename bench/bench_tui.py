"""TUI at scale, headless: 100k SAs, a 1k msgs/s stream, and a 10k msgs/s monitor flood.

Figures printed:
  1. 100k SAs: the dump request → all 100k replies received and decoded by the service (kernel side and
     codec), then the decoded dump → mirror loaded → first table line painted (target ≤ 1 s).
  2. While 1k kernel messages/s arrive (10% of them changing rows on screen, the rest rows elsewhere):
     time from the kernel sending a message to the changed row being painted (median, p95, max; target
     ≤ 100 ms).
  3. RSS with 100k SAs held (target ≤ 300 MB).
  4. Monitor pane fed 10k msgs/s for 10 s: lines kept (bounded), RSS before/after, and how long a key
     press takes to be handled during the flood.

The kernel here is an in-process stand-in that answers REGISTER, DUMP and SPDDUMP from pre-encoded
messages and broadcasts to promiscuous sockets, so the figures measure the TUI, not a simulated kernel.
"""

from __future__ import annotations

import asyncio
import resource
import statistics
import threading
import time
from collections import deque
from typing import Any

from setkey_tui.algorithms import LINUX_SUPPORTED_AUTH, LINUX_SUPPORTED_ENCRYPT
from setkey_tui.pfkey.constants import ExtType, MsgType
from setkey_tui.pfkey.extensions import SupportedExt
from setkey_tui.pfkey.message import Message, decode, header_only
from setkey_tui.pfkey.platform import LINUX
from setkey_tui.scenarios.synthetic import sa_message
from setkey_tui.tui.app import SetkeyApp
from setkey_tui.tui.widgets.entry_table import EntryTable

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
    """Answers the TUI's requests from pre-encoded messages; ``emit`` broadcasts to promiscuous sockets."""

    def __init__(self, dump: list[bytes]) -> None:
        self.dump: list[bytes] | None = dump  # handed to the first DUMP, so the app's RSS is measured alone
        self.dump_size = len(dump)
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

    def send(self, data: bytes) -> None:
        """Answer a request."""
        msg = decode(data, LINUX)
        if msg.type == MsgType.REGISTER:
            reply = Message(MsgType.REGISTER, 0, msg.seq, msg.pid, 0, (
                SupportedExt(ExtType.SUPPORTED_AUTH, LINUX_SUPPORTED_AUTH),
                SupportedExt(ExtType.SUPPORTED_ENCRYPT, LINUX_SUPPORTED_ENCRYPT)))
            self.put(reply.encode(LINUX))
        elif msg.type == MsgType.DUMP:
            replies = self.kernel.dump if self.kernel.dump is not None else dump_replies(self.kernel.dump_size)
            self.kernel.dump = None
            with self.cond:
                self.queue.extend(replies)
                self.cond.notify()
        elif msg.type == MsgType.X_SPDDUMP:
            self.put(header_only(MsgType.X_SPDDUMP, 0, seq=msg.seq, pid=msg.pid, errno=ENOENT).encode(LINUX))
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


def dump_replies(count: int) -> list[bytes]:
    """``count`` SA dump replies for pid ``PID``, seq counting down to 0."""
    return [sa_message(i, seq=count - 1 - i, pid=PID).encode(LINUX) for i in range(count)]


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


async def bench_table(kernel: StandInKernel, probe: PaintProbe) -> None:
    app = SetkeyApp(kernel.open, pid=PID, now=lambda: 1_700_000_100.0)
    marks: dict[str, float] = {}
    loaded = app._loaded

    def timed_loaded(sas: list[Message], sps: list[Message], first: bool) -> None:
        marks["decoded"] = time.perf_counter()
        loaded(sas, sps, first)
        marks["mirror"] = time.perf_counter()

    app._loaded = timed_loaded  # type: ignore[method-assign]
    connect = time.perf_counter()
    async with app.run_test(size=SIZE) as pilot:
        assert await wait(pilot, lambda: probe.first_row_painted is not None and "mirror" in marks, 120)
        painted = probe.first_row_painted or 0.0
        print(f"  100k SAs: app start, dump requested → all replies decoded     {marks['decoded'] - connect:7.3f} s")
        print(f"            decoded dump → mirror holds 100k rows                 {marks['mirror'] - marks['decoded']:7.3f} s")
        print(f"            decoded dump → first table line painted               {painted - marks['decoded']:7.3f} s"
              "   (target ≤ 1 s)")
        print(f"  RSS with 100k SAs held: {rss_mb():.0f} MB   (target ≤ 300 MB)")
        # 2. latency under a 1k msgs/s stream
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
            print(f"  1k msgs/s for 10 s ({sent[0]} sent): kernel message → changed row painted: median "
                  f"{statistics.median(lat) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, max {lat[-1] * 1000:.0f} ms "
                  f"over {len(lat)} on-screen changes   (target ≤ 100 ms)")
        else:
            print("  1k msgs/s: no on-screen change was painted (probe saw none)")
        print(f"  RSS after the stream: {rss_mb():.0f} MB; rows held: {app.mirror.sad.total}")


async def bench_monitor() -> None:
    kernel = StandInKernel([header_only(MsgType.DUMP, 0, pid=PID, errno=ENOENT).encode(LINUX)])
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


def main() -> None:
    """Run the three measurements and print the figures."""
    t = time.perf_counter()
    kernel = StandInKernel(dump_replies(COUNT))
    print(f"  (building {COUNT} kernel replies for the stand-in took {time.perf_counter() - t:.1f} s)")
    probe = PaintProbe()
    asyncio.run(bench_table(kernel, probe))
    del kernel
    asyncio.run(bench_monitor())
    print(f"  peak RSS of the whole run: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
