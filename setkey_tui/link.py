"""The link between a screen and the kernel: transport, service, listener and mirror, in one plain class.

No Textual here. Background threads (connect, dump, kernel requests, the listener) never touch the screen: they
put events on :attr:`KernelLink.events`; the app calls :meth:`KernelLink.drain` on a timer (every ~50 ms), which
applies everything waiting in one batch and tells the app what changed by *posting* small messages —
:class:`MirrorChanged`, :class:`LinkStatus`, :class:`MonitorBatch`, :class:`Notice` — to the ``post`` callable it
was given. Widgets react to those (see ``tui/app.py``).

The first dump streams: the dump thread reads the replies as they arrive, builds table rows straight from their
bytes (:mod:`setkey_tui.rowscan`) and hands them over in batches, so rows are on screen while the dump is still
arriving. The listener counts the promiscuous copies of the dump's replies without decoding them. Kernel messages
seen while a dump is in flight are applied at once and again after it, so that no change is lost. A loss
(ENOBUFS) reloads both tables; a loss seen while a reload's dump runs, or right after a reload, asks for one more
at most, then says so (a loss seen before the reload asked for its dump is covered by that dump).
"""

from __future__ import annotations

import gc
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from setkey_tui.kernel.base import Transport, TransportError
from setkey_tui.listener import Event, FailedEvent, Listener, LostEvent, MessageEvent, OwnDumpEvent
from setkey_tui.mirror import Mirror, SARow, SPRow
from setkey_tui.packet import Packet, PacketError
from setkey_tui.pfkey.constants import MsgType
from setkey_tui.pfkey.extensions import Alg
from setkey_tui.pfkey.message import Message, decode
from setkey_tui.pfkey.platform import Platform
from setkey_tui.pfkey.wire import DecodeError
from setkey_tui.rowscan import RowScanner
from setkey_tui.service import InFlight, KernelReplyError, KeyService, TrafficUnavailable
from setkey_tui.tui.masking import message_keys
from setkey_tui.tui.traffic_run import TrafficRun

DRAIN_MAX = 50_000  # events taken per drain at most, so that one drain never stalls the screen
DRAIN_BUDGET = 0.04  # seconds one drain may spend applying dump rows before it lets the screen paint
LOAD_APPLY_INTERVAL = 0.5  # during a dump, rows go into the tables (and on screen) at most this often
FIRST_BATCH = 500  # rows of the first batch of a dump (on screen at once), then up to BATCH_MAX
BATCH_MAX = 10_000
BATCH_INTERVAL = 0.05  # a batch leaves the dump thread at least this often while replies arrive
FIRST_PAINT_HOLD = 1.0  # seconds the first dump may wait, after its first batch, for the screen to show it
MAX_FOLLOWUPS = 1  # reloads in a row caused by losses during or right after a reload (or the first load)
RESYNC_PAUSE = 0.5  # seconds before a reload asked for during a reload
RESYNC_GRACE = 3.0  # a loss this soon after a reload is counted as caused by it
HELD_MAX = 200_000  # kernel messages kept to re-apply after a reload
TABLE_NAMES = {"sad": "SAD", "spd": "SPD"}

Opener = Callable[[], Transport]


def default_opener(kernel_spec: str, platform: Platform | None) -> tuple[Opener, Transport]:
    """An opener for ``kernel_spec`` (every call: a new socket on the same kernel) and the first transport,
    opened now so that a bad spec fails before the screen starts."""
    from setkey_tui.kernel.choose import open_transport

    first = open_transport(kernel_spec, platform=platform)
    lock = threading.Lock()
    handed: list[Transport] = []

    def opener() -> Transport:
        with lock:
            if not handed:
                handed.append(first)
                return first
        return open_transport(kernel_spec, platform=platform)

    return opener, first


# -- what the link posts -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Captured:
    """One message as it arrived: its bytes, arrival time, and header type/satype (None if unreadable)."""

    data: bytes
    when: float
    msg_type: int | None
    satype: int | None
    keys: tuple[bytes, ...] = ()


@dataclass(frozen=True, slots=True)
class Loading:
    """A dump in flight: which table, how many rows so far, and the total when the kernel tells it."""

    table: str  # "SAD" or "SPD"
    count: int
    total: int | None = None


@dataclass(frozen=True, slots=True)
class MirrorChanged:
    """The tables changed (rows, counts or the loading state)."""

    sa_counts: Counter[str]
    sp_counts: Counter[str]
    loading: bool


@dataclass(frozen=True, slots=True)
class LinkStatus:
    """What the badge says about the link."""

    kernel: str
    status: str
    style: str = ""  # "" (fine), "warning" or "error"
    loading: Loading | None = None
    read_only: bool = False


@dataclass(frozen=True, slots=True)
class MonitorBatch:
    """Messages for the monitor, in arrival order: a :class:`Captured` message or a line of text."""

    items: list[Captured | str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Notice:
    """A notification for the user."""

    text: str
    title: str = ""
    severity: str = "information"
    timeout: float = 5.0


LinkMessage = MirrorChanged | LinkStatus | MonitorBatch | Notice


# -- what the threads queue ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _LoadBegin:
    which: str
    generation: int


@dataclass(frozen=True, slots=True)
class _LoadRows:
    which: str
    rows: list[Any]
    count: int
    total: int | None
    generation: int


@dataclass(frozen=True, slots=True)
class _LoadEnd:
    which: str
    generation: int


@dataclass(frozen=True, slots=True)
class _Loaded:
    first: bool
    generation: int


@dataclass(frozen=True, slots=True)
class _Broken:
    reason: str
    generation: int


@dataclass(frozen=True, slots=True)
class _Call:
    fn: Callable[[], None]


# What the link's own threads queue beside the listener's events.
_Internal = _LoadBegin | _LoadRows | _LoadEnd | _Loaded | _Broken | _Call


def own_dump_line(ev: OwnDumpEvent) -> str:
    """``own SPDDUMP: 50,000 replies not shown``."""
    name = MsgType(ev.msg_type).name.removeprefix("X_")
    cut = "" if ev.complete else " (cut short: messages were lost)"
    return f"own {name}: {ev.count:,} replies not shown{cut}"


class KernelLink:
    """Everything between the screen and the kernel (see the module docstring)."""

    def __init__(
        self,
        opener: Opener,
        *,
        platform: Platform,
        post: Callable[[LinkMessage], None],
        pid: int | None = None,
        listen: bool = True,
        replay: bool = False,
        kernel_label: str | None = None,
        clock: Callable[[], float] = time.time,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self.opener = opener
        self.platform = platform
        self.post = post
        self.pid = pid
        self.listen = listen
        self.replay = replay
        self.kernel_label = kernel_label
        self.clock = clock  # wall time: when a message arrived
        # Seconds for the reload policy (RESYNC_GRACE, RESYNC_PAUSE); a test steps it. Pacing of dumps and
        # drains (batches, DRAIN_BUDGET, LOAD_APPLY_INTERVAL) stays on real time: it is about the screen.
        self.timer = timer
        self.mirror = Mirror()
        self.events: queue.SimpleQueue[Event | _Internal] = queue.SimpleQueue()
        self.service: KeyService | None = None
        self.listener: Listener | None = None
        self.in_flight: InFlight | None = None
        self.supported: tuple[tuple[Alg, ...], tuple[Alg, ...]] | None = None
        self.kernel_description = kernel_label or "connecting to the kernel…"
        self.status = "starting"
        self.status_style = ""
        self.loading: Loading | None = None  # the dump in flight, for the badge
        self.loaded = threading.Event()  # the first dump is complete
        # The first dump's first batch is handed over, then the dump thread waits (at most ``hold_first_batch``
        # seconds) until ``first_rows_shown`` is set: the screen starts up and paints those rows without a
        # thread competing for the interpreter; the kernel keeps the rest (a PF_KEY dump goes on as its reader
        # reads). 0: no wait (a caller that never sets the event).
        self.hold_first_batch = 0.0
        self.first_rows_shown = threading.Event()
        self.first_rows_applied = False  # a drain applied the first rows of the first dump
        self._pending_rows: dict[str, list[Any]] = {}  # dump rows read, not yet in the tables
        self._rows_applied_at = 0.0
        self.resyncs = 0
        self.link_broken = False  # the kernel socket or the listener failed: ``reconnect`` connects again
        self.last_batch_applied = 0
        self.drained_at = 0.0
        self._service_lock = threading.Lock()
        self._generation = 0  # of the connection and dump the queued results belong to
        self._resyncing = False  # a dump is in flight
        self._resync_again = False  # messages were lost while it was
        self._reload_dumping = False  # the reload in flight has asked the kernel for its dump
        self._resync_due: float | None = None
        self._followups = 0
        self._reload_ended = -1e9
        self._held: list[Message] = []  # kernel messages seen while a dump is in flight
        self._posted_status: LinkStatus | None = None
        self._after_loss = False  # the dump in flight was asked for because messages were lost
        self._changed = False
        self._threads: list[threading.Thread] = []

    # -- threads -------------------------------------------------------------------------------------
    def _spawn(self, target: Callable[..., None], *args: Any, name: str = "kernel-link") -> threading.Thread:
        t = threading.Thread(target=target, args=args, name=name, daemon=True)
        self._threads = [x for x in self._threads if x.is_alive()] + [t]
        t.start()
        return t

    def call_soon(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the draining thread at the next drain (from any thread)."""
        self.events.put(_Call(fn))

    def notify(self, text: str, *, title: str = "", severity: str = "information", timeout: float = 5.0) -> None:
        """Queue a notification (from any thread)."""
        note = Notice(text, title, severity, timeout)
        self.events.put(_Call(lambda: self.post(note)))

    # -- start and stop ------------------------------------------------------------------------------
    def start(self) -> None:
        """Connect, register, listen and dump, in a thread."""
        self._post_status()
        self._connect()

    def stop(self) -> None:
        """Stop the listener and close the kernel socket."""
        if self.listener is not None:
            self.listener.stop()
        if self.service is not None:
            try:
                self.service.close()
            except (OSError, TransportError):
                pass

    def _connect(self) -> None:
        self._generation += 1
        gen = self._generation
        self._resyncing = True
        self._reload_dumping = False
        self._held = []
        self._spawn(self._connect_thread, gen, name="kernel-connect")

    def _connect_thread(self, gen: int) -> None:
        if self.replay:
            self._connect_replay()
            return
        self._drop_connection()
        try:
            transport = self.opener()
            in_flight = InFlight(0)
            service = KeyService(transport, pid=self.pid, in_flight=in_flight)
            in_flight.pid = service.pid
        except (TransportError, OSError) as exc:
            self.events.put(_Broken(f"cannot open the kernel: {exc}", gen))
            return
        except Exception as exc:  # an unexpected failure: shown, the app goes on
            self.events.put(_Broken(f"cannot open the kernel: {type(exc).__name__}: {exc}", gen))
            return
        self.service = service
        self.in_flight = in_flight
        self.kernel_description = self.kernel_label or service.description
        try:
            with self._service_lock:
                self.supported = service.register()
        except (KernelReplyError, TransportError, OSError) as exc:
            self.notify(f"REGISTER failed: {exc}; forms check keys by the Linux table", severity="warning")
        if self.listen:
            self.listener = Listener(self.opener, self.events, clock=self.clock, in_flight=in_flight)
            self.listener.start()
            self.listener.ready.wait(5.0)
        self._dump_thread(gen, True)

    def _drop_connection(self) -> None:
        listener, service = self.listener, self.service
        self.listener = self.service = None
        if listener is not None:
            listener.stop()
        if service is not None:
            with self._service_lock:
                try:
                    service.close()
                except (OSError, TransportError):
                    pass

    def _connect_replay(self) -> None:
        """A recording: no kernel to ask; the listener plays the messages and the tables follow them."""
        self.listener = Listener(self.opener, self.events, clock=self.clock)
        self.listener.start()
        self.kernel_description = self.kernel_label or "replay of a recording (read-only)"
        self.events.put(_Loaded(True, self._generation))

    def reconnect(self) -> None:
        """Open the kernel again after a failure: new socket, REGISTER, listener and dump."""
        self.link_broken = False
        self._set_status("connecting again…")
        self._connect()

    # -- dumps ---------------------------------------------------------------------------------------
    def _dump_thread(self, gen: int, first: bool) -> None:
        service = self.service
        if service is None:
            return
        scanner = RowScanner(service.platform)
        put = self.events.put
        pace = first
        try:
            with self._service_lock:
                service.discard_pending()
                for which, mtype, scan, row_type in (("sad", MsgType.DUMP, scanner.sa_row, SARow),
                                                     ("spd", MsgType.X_SPDDUMP, scanner.sp_row, SPRow)):
                    put(_LoadBegin(which, gen))
                    batch: list[Any] = []
                    count = 0
                    total: int | None = None
                    limit = FIRST_BATCH
                    due = time.monotonic() + BATCH_INTERVAL
                    hold = self.hold_first_batch if pace else 0.0

                    def hand_over() -> None:  # the kernel pauses: show what came so far
                        nonlocal batch, hold
                        if batch:
                            put(_LoadRows(which, batch, count, total, gen))  # noqa: B023 - called in this loop
                            batch = []
                            if hold:
                                self.first_rows_shown.wait(hold)
                                hold = 0.0

                    for data in service.dump_stream(mtype, on_idle=hand_over, idle=BATCH_INTERVAL):
                        row = scan(data)
                        if row is None:
                            row = _row_of(data, service.platform, row_type)
                            if row is None:
                                continue
                        if count == 0:
                            seq = int.from_bytes(data[8:12], "little" if service.platform.byteorder == "<"
                                                 else "big")
                            total = seq + 1 if seq > 1 else None  # a dump counting down tells its size
                        batch.append(row)
                        count += 1
                        if len(batch) >= limit or (not count & 255 and time.monotonic() >= due):
                            put(_LoadRows(which, batch, count, total, gen))
                            batch = []
                            limit = BATCH_MAX
                            if hold:
                                self.first_rows_shown.wait(hold)
                                hold = 0.0
                            due = time.monotonic() + BATCH_INTERVAL
                    put(_LoadRows(which, batch, count, count, gen))
                    put(_LoadEnd(which, gen))
                    pace = pace and not count  # only the first rows shown wait for the screen
        except (KernelReplyError, TransportError, OSError) as exc:
            put(_Broken(f"dump failed: {exc}", gen))
            return
        except Exception as exc:  # a reply that does not decode, …: shown, the app goes on
            put(_Broken(f"dump failed: {type(exc).__name__}: {exc}", gen))
            return
        put(_Loaded(first, gen))

    def request_resync(self, *, by_user: bool = False) -> None:
        """Reload both tables with a fresh dump, one at a time. A loss reported during a reload or soon after
        it asks for one more, twice at most in a row; then the status says so and a reload by the user is
        needed: a large SAD cannot make the app reload forever."""
        if self.replay:
            if by_user:
                self.post(Notice("This is a replay of a recording: there is no kernel to dump."))
            return
        if self.link_broken:
            if by_user:
                self.reconnect()
            return
        if self.service is None:
            if by_user:
                self.post(Notice("Still connecting to the kernel."))
            return
        if self._resyncing:
            self._resync_again = self._resync_again or not by_user
            return
        if by_user:
            self._followups = 0
        elif self.timer() - self._reload_ended < RESYNC_GRACE:
            if self._followups >= MAX_FOLLOWUPS:
                self._set_status("messages were lost during the reload: r reloads", "warning")
                return
            self._followups += 1
        else:
            self._followups = 0
        self._resyncing = True
        self._reload_dumping = False
        self._held = []
        self.resyncs += 1
        self._after_loss = not by_user
        self._set_status("reloading…" if by_user else "messages were lost: reloading…")
        self._generation += 1
        self._spawn(self._dump_thread, self._generation, False, name="kernel-dump")

    def _end_resync(self) -> None:
        self._resyncing = False
        self._reload_ended = self.timer()
        held, self._held = self._held, []
        if held:
            self.mirror.apply_batch(held)
        if self._resync_again:
            self._resync_again = False
            self._resync_due = self.timer() + RESYNC_PAUSE

    # -- status --------------------------------------------------------------------------------------
    def _set_status(self, status: str, style: str = "") -> None:
        self.status = status
        self.status_style = style
        self._post_status()

    def repost(self) -> None:
        """Post the status and the tables' state again (for subscribers that came after they were posted)."""
        self._posted_status = None
        self._post_status()
        self.changed()

    def _post_status(self) -> None:
        msg = LinkStatus(self.kernel_description, self.status, self.status_style, self.loading, self.replay)
        if msg != self._posted_status:
            self._posted_status = msg
            self.post(msg)

    def _live_status(self) -> str:
        if self.replay:
            return "replay"
        return "live" if self.listen else "no listener (refresh with r)"

    # -- the drain -----------------------------------------------------------------------------------
    def drain(self) -> None:
        """Take every waiting event, apply them in one batch and post what changed (call on one thread)."""
        if self._resync_due is not None and self.timer() >= self._resync_due:
            self._resync_due = None
            self.request_resync()
        items: list[Message] = []
        monitor: list[Captured | str] = []
        resync = False
        taken = 0
        get = self.events.get_nowait
        started = time.perf_counter()
        while taken < DRAIN_MAX:
            try:
                ev = get()
            except queue.Empty:
                break
            taken += 1
            if isinstance(ev, MessageEvent):
                m = ev.msg
                keys = tuple(message_keys(m)) if m is not None else ()
                monitor.append(Captured(ev.data, ev.when, m.type if m else None, m.satype if m else None, keys))
                if m is not None:
                    items.append(m)
            elif isinstance(ev, _LoadRows):
                if ev.generation == self._generation:
                    self._pending_rows.setdefault(ev.which, []).extend(ev.rows)
                    self.loading = Loading(TABLE_NAMES[ev.which], ev.count, ev.total)
                if time.perf_counter() - started > DRAIN_BUDGET:
                    break  # let the screen paint the rows so far; the rest at the next drain
            elif isinstance(ev, OwnDumpEvent):
                monitor.append(own_dump_line(ev))
            elif isinstance(ev, LostEvent):
                if not self._resyncing:
                    resync = True
                elif self._reload_dumping:  # lost while the reload's dump runs: one more after it
                    self._resync_again = True
                # else the reload's dump was asked for after this loss was seen: it covers it
                self.post(Notice(f"Kernel messages were lost ({ev.reason}); reloading the SAD and SPD.",
                                 severity="warning"))
            elif isinstance(ev, FailedEvent):
                self.link_broken = not self.replay
                self._set_status(f"listener stopped: {ev.reason}" + ("" if self.replay else " (r connects again)"),
                                 "error")
                self.post(Notice(f"The kernel listener stopped: {ev.reason}", severity="error", timeout=10))
            else:
                self._internal(ev)
        if self._pending_rows and (not self.first_rows_applied
                                   or time.monotonic() - self._rows_applied_at >= LOAD_APPLY_INTERVAL):
            self._apply_rows()
        if items:
            if self._resyncing:
                if len(self._held) + len(items) > HELD_MAX:
                    self._resync_again = True
                else:
                    self._held.extend(items)
            self.last_batch_applied = self.mirror.apply_batch(items)
            self._changed = self._changed or bool(self.last_batch_applied)
        if monitor:
            self.post(MonitorBatch(monitor))
        if self._changed:
            self._changed = False
            self.post(MirrorChanged(self.mirror.sa_counts(), self.mirror.sp_counts(), self.mirror.loading))
        self._post_status()
        if taken:
            self.drained_at = time.perf_counter()
        if resync:
            self.request_resync()

    def _apply_rows(self, which: str | None = None) -> None:
        """Put the dump rows waiting (of ``which``, else all) into the tables. A dump's rows are merged into a
        table's sorted order every :data:`LOAD_APPLY_INTERVAL` seconds, not at every drain: each merge costs
        the size of the table, and 20 a second made the load quadratic (and repainted the screen as often)."""
        for name in [which] if which is not None else list(self._pending_rows):
            rows = self._pending_rows.pop(name, None)
            if rows:
                self.mirror.load_rows(name, rows)
                self.first_rows_applied = True
                self._changed = True
        self._rows_applied_at = time.monotonic()

    def _internal(self, ev: _Internal) -> None:
        if isinstance(ev, _Call):
            ev.fn()
            return
        if getattr(ev, "generation", self._generation) != self._generation:
            return  # a result of a connection or dump given up since
        if isinstance(ev, _LoadBegin):
            self._reload_dumping = self._resyncing
            self.mirror.begin_load(ev.which)
            self.loading = Loading(TABLE_NAMES[ev.which], 0)
            if not self.loaded.is_set():
                self.status = "loading"
            self._changed = True
        elif isinstance(ev, _LoadEnd):
            self._apply_rows(ev.which)
            self.mirror.end_load(ev.which)
            self._changed = True
        elif isinstance(ev, _Loaded):
            self.loading = None
            self.mirror.loaded_without_dump()
            self._end_resync()
            self.status = self._live_status()
            self.status_style = ""
            self._changed = True
            # The rows are long-lived and free of reference cycles: keep the cyclic GC from rescanning them.
            # bench/bench_tui.py measures it (1k msgs/s with 100k + 100k rows: repaint median 101 → 62 ms).
            gc.freeze()
            first_load = not self.loaded.is_set()
            self.loaded.set()
            empty = not self.mirror.sad.total and not self.mirror.spd.total
            if self._after_loss:
                self._after_loss = False
                self.post(Notice(f"Reloaded after lost kernel messages: the tables are exact again (SAD "
                                 f"{self.mirror.sad.total:,}, SPD {self.mirror.spd.total:,}).", severity="warning"))
            if ev.first and first_load and empty and "simulat" in self.kernel_description.lower():
                self.post(Notice("This is a simulated kernel, empty for now. Open the command palette (ctrl+p) "
                                 "and choose Load example for a scenario whose SAs expire as you watch; a adds "
                                 "an SA, ? helps.", title="Welcome", timeout=15))
        elif isinstance(ev, _Broken):
            self.link_broken = True
            self._resyncing = False
            self._held = []
            self.loading = None
            self._pending_rows.clear()
            self.mirror.abort_load()
            self._changed = True
            self._set_status(f"{ev.reason} (r connects again)", "error")
            self.post(Notice(ev.reason, severity="error", timeout=10))

    # -- kernel requests -----------------------------------------------------------------------------
    def kernel_requests(self, msgs: Iterable[Message]) -> list[str]:
        """Send requests one after the other (call in a worker thread); the setkey-worded errors, if any."""
        errors = []
        service = self.service
        if service is None:
            return ["not connected to a kernel"]
        with self._service_lock:
            try:
                service.discard_pending()
            except (TransportError, OSError) as exc:
                return [f"the kernel socket failed: {exc}"]
            for m in msgs:
                try:
                    service.request(m)
                except KernelReplyError as exc:
                    errors.append(f"{m.type_name}: {exc}.")
                except (TransportError, OSError) as exc:
                    errors.append(f"{m.type_name}: {exc}")
                except Exception as exc:  # e.g. a value the codec cannot encode: say it, never a traceback
                    errors.append(f"{m.type_name}: {type(exc).__name__}: {exc}")
        return errors

    def send(self, msgs: list[Message], done: str) -> None:
        """Send requests in a thread; a notice says how it went."""
        self._spawn(self._send_thread, msgs, done, name="kernel-request")

    def _send_thread(self, msgs: list[Message], done: str) -> None:
        errors = self.kernel_requests(msgs)
        if errors:
            shown = "\n".join(errors[:5]) + (f"\n… and {len(errors) - 5} more" if len(errors) > 5 else "")
            self.notify(shown, title="The kernel refused", severity="error", timeout=10)
        else:
            self.notify(done)

    def notes_for(self, msg: Message) -> list[str]:
        """The kernel's facts about an entry that PF_KEY cannot say (over XFRM), one line each; else []."""
        service = self.service
        return service.notes_for(msg) if service is not None else []

    def traffic_unavailable(self) -> str:
        """Why traffic cannot be simulated here ("" when it can)."""
        if self.service is None:
            return str(TrafficUnavailable("a replay of a recording" if self.replay else "not connected yet"))
        if not self.service.can_simulate_traffic:
            return str(TrafficUnavailable(self.service.description))
        return ""

    def send_traffic(self, packet: Packet, count: int) -> TrafficRun:
        """Send ``count`` packets through the simulated kernel (call in a worker thread) and tell what each did
        (:meth:`KeyService.trace`, the SAs and policies looked for in the tables first)."""
        run = TrafficRun()
        service = self.service
        reason = self.traffic_unavailable()
        if service is None or reason:
            run.error = reason
            return run
        with self._service_lock:
            try:
                for result in service.trace(packet, count,
                                            known_sas=lambda: [row.msg for row in list(self.mirror.sad.rows.values())],
                                            known_policy=lambda pid: self._policy_message(service, pid)):
                    run.add(result)
                    run.sa_states.update((SARow(m).key, m) for m in result.carriers)
            except PacketError as exc:
                run.error = str(exc)
            except (KernelReplyError, TransportError, OSError) as exc:
                run.error = f"the kernel failed: {exc}"
        return run

    def _policy_message(self, service: KeyService, policy_id: object) -> Message | None:
        if not isinstance(policy_id, int):
            return None
        key = self.mirror.spid_index.get(policy_id)
        row = self.mirror.spd.rows.get(key) if key is not None else None
        if row is not None:
            return row.msg
        try:
            return service.get_policy(policy_id)
        except KernelReplyError:
            return None

    def apply_sa_states(self, states: Iterable[Message]) -> int:
        """Show the SAs' state as the kernel just told it (SADB_GET answers: byte counts, …). Only rows still
        in the table are updated: an SA the kernel expired meanwhile stays gone. Returns how many."""
        n = 0
        for msg in states:
            row = SARow(msg)
            if row.key in self.mirror.sad.rows:
                self.mirror.sad.upsert(row)
                n += 1
        if n:
            self.changed()
        return n

    def changed(self) -> None:
        """The tables were changed from the draining thread: post :class:`MirrorChanged` now."""
        self._changed = False
        self.post(MirrorChanged(self.mirror.sa_counts(), self.mirror.sp_counts(), self.mirror.loading))


def _row_of(data: bytes, platform: Platform, row_type: type[SARow] | type[SPRow]) -> SARow | SPRow | None:
    """A row from the decoded message (for a reply the row scanner does not read); None when unusable."""
    try:
        return row_type(decode(data, platform))
    except (DecodeError, ValueError):
        return None
