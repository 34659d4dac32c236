"""The live link between the app and the kernel: connection, dumps, the listener's queue, requests.

At start a worker thread asks the kernel for REGISTER, DUMP and SPDDUMP through a :class:`KeyService`; the
:class:`Listener` thread reads a promiscuous socket and pushes events on a queue; a 50 ms timer drains the
queue in one batch (mirror updated per key, monitor fed in one write). The tables only change because the
kernel said so. Kernel requests (add, delete, flush) run in worker threads, one at a time, so the screen
never waits for the kernel. A loss (ENOBUFS) reloads both tables; messages seen while a dump is in flight
are applied again after it, so that no change is lost.
"""

from __future__ import annotations

import gc
import queue
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from textual import work

from setkey_tui.kernel.base import Transport, TransportError
from setkey_tui.listener import Event, FailedEvent, Listener, LostEvent, MessageEvent
from setkey_tui.mirror import Mirror, SARow
from setkey_tui.pfkey.extensions import Alg
from setkey_tui.pfkey.message import Message
from setkey_tui.pfkey.platform import Platform
from setkey_tui.service import KernelReplyError, KeyService, TrafficInputError, describe_traffic
from setkey_tui.tui.masking import message_keys
from setkey_tui.tui.traffic import Packet, TrafficRun
from setkey_tui.tui.widgets.badge import Badge
from setkey_tui.tui.widgets.monitor import Captured, MonitorPane
from setkey_tui.tui.widgets.table_pane import TablePane

if TYPE_CHECKING:
    from textual.app import App

    _Base = App[int]
else:
    _Base = object

DRAIN_INTERVAL = 0.05
DRAIN_MAX = 50_000  # events taken per drain at most, so that one drain never stalls the screen
MAX_FOLLOWUPS = 2  # reloads in a row caused by losses during or right after a reload
RESYNC_PAUSE = 0.5  # seconds before a reload asked for during a reload
RESYNC_GRACE = 3.0  # a loss this soon after a reload is counted as caused by it
HELD_MAX = 200_000  # kernel messages kept to re-apply after a reload

Opener = Callable[[], Transport]


def default_opener(kernel_spec: str, platform: Platform | None) -> tuple[Opener, Transport]:
    """An opener for ``kernel_spec`` (every call: a new socket on the same kernel) and the first transport,
    opened now so that a bad spec fails before the screen starts."""
    from setkey_tui.kernel.select import open_transport

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


class KernelLink(_Base):
    """Mixin for the app: everything between the screen and the kernel (see the module docstring)."""

    opener: Opener
    platform: Platform
    now: Callable[[], float]
    listen: bool
    replay: bool
    pid: int | None
    kernel_label: str | None

    def init_link(self) -> None:
        """The link's state (called from the app's ``__init__``)."""
        self.mirror = Mirror()
        self.events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self.service: KeyService | None = None
        self.listener: Listener | None = None
        self.supported: tuple[tuple[Alg, ...], tuple[Alg, ...]] | None = None
        self.kernel_description = self.kernel_label or "connecting to the kernel…"
        self.status = "starting"
        self.status_style = ""
        self._service_lock = threading.Lock()
        self.loaded = threading.Event()
        self.resyncs = 0
        self._resyncing = False  # a dump is in flight
        self._resync_again = False  # messages were lost while it was
        self._followups = 0
        self._reload_ended = -1e9
        self._held: list[Message] = []  # kernel messages seen while a dump is in flight
        self.last_batch_applied = 0
        self.drained_at = 0.0
        self.link_broken = False  # the kernel socket or the listener failed: ``r`` connects again

    # -- start and stop ------------------------------------------------------------------------------
    def on_mount(self) -> None:
        """Connect, dump, listen; start the drain and clock timers."""
        self.drain_timer = self.set_interval(DRAIN_INTERVAL, self.drain)
        self.set_interval(1.0, self._tick)
        self.update_badge()
        self._connect()

    def on_unmount(self) -> None:
        """Stop the listener thread and close the kernel socket."""
        if self.listener is not None:
            self.listener.stop()
        if self.service is not None:
            try:
                self.service.close()
            except (OSError, TransportError):
                pass

    @work(thread=True, exclusive=True, group="connect", exit_on_error=False)
    def _connect(self) -> None:
        if self.replay:
            self._connect_replay()
            return
        self._drop_connection()
        try:
            transport = self.opener()
            service = KeyService(transport, pid=self.pid)
        except (TransportError, OSError) as exc:
            self.call_from_thread(self._failed, f"cannot open the kernel: {exc}")
            return
        except Exception as exc:  # an unexpected failure: shown, the app goes on
            self.call_from_thread(self._failed, f"cannot open the kernel: {type(exc).__name__}: {exc}")
            return
        self.service = service
        self.kernel_description = self.kernel_label or service.description
        try:
            with self._service_lock:
                self.supported = service.register()
        except (KernelReplyError, TransportError, OSError) as exc:
            self.call_from_thread(self.notify, f"REGISTER failed: {exc}; forms check keys by the Linux table",
                                  severity="warning", markup=False)
        if self.listen:
            self.listener = Listener(self.opener, self.events, clock=self.now)
            self.listener.start()
            self.listener.ready.wait(5.0)
        self.call_from_thread(self._begin_resync)
        self._resync_in_thread(first=True)

    def _drop_connection(self) -> None:
        """Stop the listener and close the service of a failed connection (in the connect worker)."""
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

    def reconnect(self) -> None:
        """Open the kernel again after a failure: new socket, REGISTER, listener and dump."""
        self.link_broken = False
        self.status = "connecting again…"
        self.status_style = ""
        self.update_badge()
        self._connect()

    def _connect_replay(self) -> None:
        """A recording: no kernel to ask; the listener plays the messages and the tables follow them."""
        self.listener = Listener(self.opener, self.events, clock=self.now)
        self.listener.start()
        self.kernel_description = self.kernel_label or "replay of a recording (read-only)"
        self.call_from_thread(self._loaded, [], [], False)

    def _resync_in_thread(self, *, first: bool = False) -> None:
        service = self.service
        if service is None:
            return
        try:
            with self._service_lock:
                service.discard_pending()
                sas = service.dump()
                sps = service.spddump()
        except (KernelReplyError, TransportError, OSError) as exc:
            self.call_from_thread(self._failed, f"dump failed: {exc}")
            return
        except Exception as exc:  # a reply that does not decode, …: shown, the app goes on
            self.call_from_thread(self._failed, f"dump failed: {type(exc).__name__}: {exc}")
            return
        self.call_from_thread(self._loaded, sas, sps, first)

    def _begin_resync(self) -> None:
        self._resyncing = True
        self._held = []

    def request_resync(self, *, by_user: bool = False) -> None:
        """Reload both tables with a fresh dump, one at a time. A loss reported during a reload or soon after
        it (the dump's own copies can overflow the listener) asks for one more, twice at most in a row; then
        the badge says so and ``r`` reloads: a large SAD cannot make the app reload forever."""
        if self.replay:
            if by_user:
                self.notify("This is a replay of a recording: there is no kernel to dump.", markup=False)
            return
        if self.link_broken:
            if by_user:
                self.reconnect()
            return
        if self.service is None:
            if by_user:
                self.notify("Still connecting to the kernel.", markup=False)
            return
        if self._resyncing:
            self._resync_again = self._resync_again or not by_user
            return
        if by_user:
            self._followups = 0
        elif time.monotonic() - self._reload_ended < RESYNC_GRACE:
            if self._followups >= MAX_FOLLOWUPS:
                self.status = "messages were lost during the reload: r reloads"
                self.status_style = "bold yellow"
                self.update_badge()
                return
            self._followups += 1
        else:
            self._followups = 0
        self._begin_resync()
        self.resyncs += 1
        self.status = "reloading…" if by_user else "resynchronising…"
        self.update_badge()
        self._resync_worker()

    def _end_resync(self) -> None:
        self._resyncing = False
        self._reload_ended = time.monotonic()
        held, self._held = self._held, []
        if held:
            self.mirror.apply_batch(held)
        if self._resync_again:
            self._resync_again = False
            self.set_timer(RESYNC_PAUSE, self.request_resync)

    def _loaded(self, sas: list[Message], sps: list[Message], first: bool) -> None:
        empty = not sas and not sps
        self.mirror.load_sad(sas)
        self.mirror.load_spd(sps)
        del sas, sps
        # The rows are long-lived and free of reference cycles: keep the cyclic GC from rescanning them.
        gc.freeze()
        self.status = "live" if self.listen else "no listener (refresh with r)"
        self.status_style = ""
        self._end_resync()
        self._sync_tables()
        self.loaded.set()
        if first and empty and "simulat" in self.kernel_description.lower():
            self.notify("This is a simulated kernel, empty for now. Press l to load the example scenario "
                        "(SAs with short lifetimes that expire as you watch), a to add an SA, ? for help.",
                        title="Welcome", timeout=15)

    def _failed(self, reason: str) -> None:
        self.link_broken = True
        self._resyncing = False
        self._held = []
        self.status = f"{reason} (r connects again)"
        self.status_style = "bold red"
        self.update_badge()
        self.notify(reason, severity="error", timeout=10, markup=False)

    # -- the drain -----------------------------------------------------------------------------------
    def drain(self) -> None:
        """Take every waiting event, apply them in one batch, feed the monitor once."""
        items: list[Message] = []
        captured: list[Captured] = []
        resync = False
        taken = 0
        get = self.events.get_nowait
        while taken < DRAIN_MAX:
            try:
                ev = get()
            except queue.Empty:
                break
            taken += 1
            if isinstance(ev, MessageEvent):
                m = ev.msg
                keys = tuple(message_keys(m)) if m is not None else ()
                captured.append(Captured(ev.data, ev.when, m.type if m else None, m.satype if m else None, keys))
                if m is not None:
                    items.append(m)
            elif isinstance(ev, LostEvent):
                resync = True
                self.notify(f"Kernel messages were lost ({ev.reason}); reloading the SAD and SPD.",
                            severity="warning", markup=False)
            elif isinstance(ev, FailedEvent):
                self.status = f"listener stopped: {ev.reason}" + ("" if self.replay else " (r connects again)")
                self.status_style = "bold red"
                self.link_broken = not self.replay
                self.notify(f"The kernel listener stopped: {ev.reason}", severity="error", timeout=10, markup=False)
        if not taken:
            return
        if items and self._resyncing:
            if len(self._held) + len(items) > HELD_MAX:
                self._resync_again = True
            else:
                self._held.extend(items)
        if items and self.loaded.is_set():
            self.last_batch_applied = self.mirror.apply_batch(items)
        if captured:
            self.query_one(MonitorPane).feed(captured)
        self._sync_tables()
        self.drained_at = time.perf_counter()
        if resync:
            self.request_resync()

    @work(thread=True, group="kernel", exit_on_error=False)
    def _resync_worker(self) -> None:
        self._resync_in_thread()

    def _tick(self) -> None:
        for table in self.query("EntryTable"):
            table.refresh()

    def _sync_tables(self) -> None:
        for pane in self.query(TablePane):
            pane.entry_table.sync()
            pane.update_summary()
        self.update_badge()

    def update_badge(self) -> None:
        """Redraw the badge with the current counts and status."""
        try:
            badge = self.query_one(Badge)
        except Exception:
            return
        badge.show(kernel=self.kernel_description, platform=self.platform.name,
                   sa_counts=self.mirror.sa_counts(), sp_counts=self.mirror.sp_counts(), status=self.status,
                   status_style=self.status_style)

    # -- kernel requests -----------------------------------------------------------------------------
    def kernel_requests(self, msgs: Iterable[Message]) -> list[str]:
        """Send requests one after the other (in a worker thread); the setkey-worded errors, if any."""
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

    def traffic_unavailable(self) -> str:
        """Why traffic cannot be simulated here ("" when it can)."""
        if self.service is None:
            what = "a replay of a recording" if self.replay else "not connected yet"
            return f"traffic can only be simulated on the simulated kernel (this is: {what})"
        if not self.service.can_simulate_traffic:
            return f"traffic can only be simulated on the simulated kernel (this is: {self.service.description})"
        return ""

    def send_traffic(self, packet: Packet, count: int) -> TrafficRun:
        """Send ``count`` packets through the simulated kernel (in a worker thread) and tell what each did:
        the policy that matched (from the SPD table, else SADB_X_SPDGET) and the SAs that carried it with
        their byte counts (SADB_GET)."""
        run = TrafficRun()
        service = self.service
        reason = self.traffic_unavailable()
        if service is None or reason:
            run.error = reason
            return run
        by_spi: dict[int, list[Message]] | None = None
        with self._service_lock:
            try:
                service.discard_pending()
                for _ in range(count):
                    verdict = service.simulate_traffic(packet.src, packet.dst, packet.proto, sport=packet.sport,
                                                       dport=packet.dport, size=packet.size)
                    spis = list(verdict.get("sa_spis") or ())
                    carried: list[Message] = []
                    if spis:
                        if by_spi is None:
                            by_spi = self._sas_by_spi()
                        known = [m for spi in spis for m in by_spi.get(spi, ())]
                        carried = service.carriers(spis, known)
                        for m in carried:
                            run.sa_states[SARow(m).key] = m
                    policy = self._policy_message(service, verdict.get("policy_id"))
                    run.verdicts[str(verdict.get("verdict"))] += 1
                    run.lines.append(describe_traffic(verdict, policy=policy, sas=carried))
            except TrafficInputError as exc:
                run.error = str(exc)
            except (KernelReplyError, TransportError, OSError) as exc:
                run.error = f"the kernel failed: {exc}"
        return run

    def _sas_by_spi(self) -> dict[int, list[Message]]:
        out: dict[int, list[Message]] = {}
        for row in list(self.mirror.sad.rows.values()):
            out.setdefault(row.spi, []).append(row.msg)
        return out

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
            self._sync_tables()
        return n

    @work(thread=True, group="kernel", exit_on_error=False)
    def _send_worker(self, msgs: list[Message], done: str) -> None:
        errors = self.kernel_requests(msgs)
        if errors:
            shown = "\n".join(errors[:5]) + (f"\n… and {len(errors) - 5} more" if len(errors) > 5 else "")
            self.call_from_thread(self.notify, shown, title="The kernel refused", severity="error", timeout=10,
                                  markup=False)
        else:
            self.call_from_thread(self.notify, done)

