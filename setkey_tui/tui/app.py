"""The setkey-tui application: live SAD and SPD, forms, detail, monitor.

Data flow (see docs/design.md): at start a worker thread asks the kernel for REGISTER, DUMP and SPDDUMP
through a :class:`KeyService`; the :class:`Listener` thread reads a promiscuous socket and pushes events on a
queue; a 50 ms timer drains the queue in one batch (mirror updated per key, monitor fed in one write). The
tables only change because the kernel said so. Kernel requests (add, delete, flush) run in worker threads,
one at a time, so the screen never waits for the kernel.
"""

from __future__ import annotations

import gc
import io
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterable
from importlib import resources
from typing import Any, ClassVar

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import TabbedContent

from setkey_tui.kernel.base import MessagesLost, Transport, TransportError
from setkey_tui.listener import Event, FailedEvent, Listener, LostEvent, MessageEvent
from setkey_tui.mirror import Mirror, SARow, SPRow
from setkey_tui.pfkey.constants import SAType
from setkey_tui.pfkey.extensions import Alg
from setkey_tui.pfkey.message import Message
from setkey_tui.pfkey.platform import Platform
from setkey_tui.pfkey.platform import current as current_platform
from setkey_tui.service import KernelReplyError, KeyService
from setkey_tui.tui.masking import message_keys
from setkey_tui.tui.ops import (
    delete_sa_message,
    delete_sp_message,
    export_text,
    flush_sad_message,
    flush_spd_message,
    statement_of,
    write_private,
)
from setkey_tui.tui.screens.dialogs import ConfirmScreen, ExportScreen, FlushSADScreen, PathScreen
from setkey_tui.tui.screens.main import MainScreen
from setkey_tui.tui.widgets.badge import Badge
from setkey_tui.tui.widgets.monitor import Captured, MonitorPane
from setkey_tui.tui.widgets.table_pane import TablePane

DRAIN_INTERVAL = 0.05
DRAIN_MAX = 50_000  # events taken per drain at most, so that one drain never stalls the screen
EXAMPLE_SCENARIO = "example.conf"
MAX_FOLLOWUPS = 2  # reloads in a row caused by losses during or right after a reload
RESYNC_PAUSE = 0.5  # seconds before a reload asked for during a reload
RESYNC_GRACE = 3.0  # a loss this soon after a reload is counted as caused by it
HELD_MAX = 200_000  # kernel messages kept to re-apply after a reload

Opener = Callable[[], Transport]

# (action, key shown, title, help) — the footer, the help screen and the command palette all read this.
ACTIONS: tuple[tuple[str, str, str, str], ...] = (
    ("add_sa", "a", "Add SA", "Open the form that adds a security association"),
    ("add_policy", "p", "Add policy", "Open the form that adds a security policy"),
    ("detail", "enter", "Detail", "Every field, the statement, -x decoding and hex of the entry under the cursor"),
    ("delete", "d", "Delete", "Delete the marked entries (space marks) or the one under the cursor"),
    ("flush_sad", "f", "Flush SAD", "Remove every SA, or those of one protocol (asks first)"),
    ("flush_spd", "F", "Flush SPD", "Remove every policy (asks first)"),
    ("filter", "slash", "Filter", "Filter the table: free text and field:value (spi:0x1000, dst:10.0.0.0/8 …)"),
    ("copy", "y", "Copy statement", "Copy the entry under the cursor as a setkey statement"),
    ("export", "e", "Export", "Write the SAD/SPD as a setkey script (mode 0600; keys only if asked)"),
    ("refresh", "r", "Refresh", "Dump the SAD and SPD again"),
    ("load_example", "l", "Load example", "Apply the example scenario (SAs, policies, short lifetimes)"),
    ("show_tab('sad-tab')", "1", "SAD tab", "Show the SAD"),
    ("show_tab('spd-tab')", "2", "SPD tab", "Show the SPD"),
    ("monitor_pause", "z", "Pause monitor", "Pause or resume the monitor pane (messages wait, bounded)"),
    ("monitor_timestamps", "x", "-x / -xx", "Monitor timestamps: time of day (-x) or epoch seconds (-xx)"),
    ("monitor_hex", "h", "Hex dump", "Monitor: add the -h hex dump before each decoding"),
    ("monitor_clear", "c", "Clear monitor", "Empty the monitor pane"),
    ("monitor_save", "w", "Save recording", "Save the monitored messages as a replayable recording"),
    ("toggle_monitor", "m", "Monitor size", "Grow, shrink or hide the monitor pane"),
    ("help", "f1", "Help", "Every binding and the filter syntax"),
)
MAIN_ONLY = {a for a, *_ in ACTIONS if a not in ("help",)} | {"show_tab"}
FOOTER_SHOWN = {"add_sa", "add_policy", "delete", "filter", "flush_sad", "refresh", "load_example", "help",
                "monitor_pause"}


def _bindings() -> list[BindingType]:
    out: list[BindingType] = []
    for action, key, title, _ in ACTIONS:
        if action == "detail":
            continue  # the table's own enter binding
        out.append(Binding(key, action, title, show=action in FOOTER_SHOWN))
    out.append(Binding("question_mark", "help", "Help", show=False))
    out.append(Binding("q", "quit", "Quit"))
    return out


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


class SetkeyApp(App[int]):
    """setkey-tui: the SAD, the SPD and every PF_KEY message, live."""

    CSS_PATH = "app.tcss"
    TITLE = "setkey-tui"
    BINDINGS: ClassVar[list[BindingType]] = _bindings()

    def __init__(
        self,
        opener: Opener,
        *,
        platform: Platform | None = None,
        now: Callable[[], float] = time.time,
        listen: bool = True,
        example_path: str | None = None,
        kernel_label: str | None = None,
        replay: bool = False,
        pid: int | None = None,
    ) -> None:
        super().__init__()
        self.opener = opener
        self.platform = platform or current_platform()
        self.now = now
        self.listen = listen
        self.example_path = example_path
        self.kernel_label = kernel_label
        self.replay = replay
        self.pid = pid
        self.mirror = Mirror()
        self.events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self.service: KeyService | None = None
        self.listener: Listener | None = None
        self.supported: tuple[tuple[Alg, ...], tuple[Alg, ...]] | None = None
        self.kernel_description = kernel_label or "connecting to the kernel…"
        self.status = "starting"
        self.status_style = ""
        self._service_lock = threading.Lock()
        self.loaded = threading.Event()
        self.resyncs = 0
        self._resyncing = False  # a dump is in flight
        self._resync_again = False  # messages were lost while it was
        self._followups = 0
        self._reload_ended = -1e9
        self._held: list[tuple[Message, bytes | None]] = []  # kernel messages seen while a dump is in flight
        self.last_batch_applied = 0
        self.drained_at = 0.0

    # -- start and stop ------------------------------------------------------------------------------
    def get_default_screen(self) -> Screen[Any]:
        return MainScreen()

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
                self.discard_backlog(service)
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
        self._resyncing = False
        self._held = []
        self.status = reason
        self.status_style = "bold red"
        self.update_badge()
        self.notify(reason, severity="error", timeout=10, markup=False)

    # -- the drain -----------------------------------------------------------------------------------
    def drain(self) -> None:
        """Take every waiting event, apply them in one batch, feed the monitor once."""
        items: list[tuple[Message, bytes | None]] = []
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
                    items.append((m, ev.data))
            elif isinstance(ev, LostEvent):
                resync = True
                self.notify(f"Kernel messages were lost ({ev.reason}); reloading the SAD and SPD.",
                            severity="warning", markup=False)
            elif isinstance(ev, FailedEvent):
                self.status = f"listener stopped: {ev.reason} (r reloads)"
                self.status_style = "bold red"
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
    @staticmethod
    def discard_backlog(service: KeyService, limit: int = 100_000) -> int:
        """Empty the request socket of the broadcasts that piled up since the last request (the listener
        has them already), so that a full receive buffer (ENOBUFS) is not taken for the answer."""
        n = 0
        while n < limit:
            try:
                if service.transport.recv(0) is None:
                    break
            except MessagesLost:
                pass
            n += 1
        return n

    def kernel_requests(self, msgs: Iterable[Message]) -> list[str]:
        """Send requests one after the other (in a worker thread); the setkey-worded errors, if any."""
        errors = []
        service = self.service
        if service is None:
            return ["not connected to a kernel"]
        with self._service_lock:
            try:
                self.discard_backlog(service)
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

    @work(thread=True, group="kernel", exit_on_error=False)
    def _send_worker(self, msgs: list[Message], done: str) -> None:
        errors = self.kernel_requests(msgs)
        if errors:
            shown = "\n".join(errors[:5]) + (f"\n… and {len(errors) - 5} more" if len(errors) > 5 else "")
            self.call_from_thread(self.notify, shown, title="The kernel refused", severity="error", timeout=10,
                                  markup=False)
        else:
            self.call_from_thread(self.notify, done)

    # -- helpers for actions -------------------------------------------------------------------------
    def active_kind(self) -> str:
        """``sad`` or ``spd``: the table shown."""
        try:
            active = self.screen.query_one("#tabs", TabbedContent).active
        except Exception:
            return "sad"
        return "spd" if active == "spd-tab" else "sad"

    def active_pane(self) -> TablePane:
        """The table pane shown."""
        return self.get_screen_main().query_one(f"#{self.active_kind()}-pane", TablePane)

    def get_screen_main(self) -> Screen[Any]:
        """The main screen (the bottom of the stack)."""
        return self.screen_stack[0]

    def _on_main(self) -> bool:
        return isinstance(self.screen, MainScreen)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Main-screen actions are off (and out of the footer) while a form, detail or dialog is shown."""
        if action in MAIN_ONLY and not self._on_main():
            return False
        return True

    # -- actions -------------------------------------------------------------------------------------
    def action_show_tab(self, tab: str) -> None:
        """Show the SAD or SPD tab."""
        if self._on_main():
            self.screen.query_one("#tabs", TabbedContent).active = tab

    def action_add_sa(self) -> None:
        """Open the Add SA form."""
        from setkey_tui.tui.screens.forms import AddSAScreen

        self.push_screen(AddSAScreen())

    def action_add_policy(self) -> None:
        """Open the Add policy form."""
        from setkey_tui.tui.screens.forms import AddPolicyScreen

        self.push_screen(AddPolicyScreen())

    def action_detail(self) -> None:
        """Open the entry under the cursor."""
        row = self.active_pane().entry_table.current_row
        if row is not None:
            self.open_detail(row)

    def open_detail(self, row: SARow | SPRow) -> None:
        """Push the detail screen of ``row``."""
        from setkey_tui.tui.screens.detail import DetailScreen

        self.push_screen(DetailScreen(row))

    def on_entry_table_selected(self, event: Any) -> None:
        """Enter or a double click on a row opens its detail."""
        self.open_detail(event.row)

    def action_filter(self) -> None:
        """Open the `/` filter of the table shown."""
        if self._on_main():
            self.active_pane().open_filter()

    def action_delete(self) -> None:
        """Delete the marked entries (or the cursor's), after confirmation."""
        if not self._on_main():
            return
        table = self.active_pane().entry_table
        rows = table.marked_rows()
        if not rows:
            self.notify("Nothing to delete.")
            return
        kind = "SA" if isinstance(rows[0], SARow) else "policy"
        noun = kind if len(rows) == 1 else ("SAs" if kind == "SA" else "policies")
        msgs = [delete_sa_message(r) if isinstance(r, SARow) else delete_sp_message(r) for r in rows]
        sample = "\n".join(statement_of(r, with_keys=False).strip() for r in rows[:3])

        def answer(yes: bool | None) -> None:
            if yes:
                table.marked.clear()
                self._send_worker(msgs, f"Deleted {len(rows)} {noun}.")

        self.push_screen(ConfirmScreen(f"Delete {len(rows)} {noun}?", sample), answer)

    def action_flush_sad(self) -> None:
        """Flush the SAD (all or one protocol), after a confirmation that counts the SAs."""
        counts: dict[int, int] = {}
        for r in self.mirror.sad.rows.values():
            counts[r.satype] = counts.get(r.satype, 0) + 1

        def answer(satype: int | None) -> None:
            if satype is not None:
                name = "every" if satype == 0 else SAType(satype).name.lower()
                self._send_worker([flush_sad_message(satype)], f"Flushed {name} SAs.")

        self.push_screen(FlushSADScreen(counts), answer)

    def action_flush_spd(self) -> None:
        """Flush the SPD, after a confirmation that counts the policies."""
        n = self.mirror.spd.total

        def answer(yes: bool | None) -> None:
            if yes:
                self._send_worker([flush_spd_message()], "Flushed the SPD.")

        self.push_screen(ConfirmScreen(f"Flush the SPD? {n} policies go.", "spdflush;"), answer)

    def action_copy(self) -> None:
        """Copy the cursor entry as a setkey statement (keys masked unless revealed in its detail)."""
        if not self._on_main():
            return
        row = self.active_pane().entry_table.current_row
        if row is None:
            self.notify("No entry under the cursor.")
            return
        text = statement_of(row, with_keys=False).strip()
        self.copy_to_clipboard(text)
        self.notify(text, title="Copied", markup=False)

    def action_export(self) -> None:
        """Export the SAD and/or SPD (the rows the filters show) as a setkey script."""
        sad, spd = self.mirror.sad, self.mirror.spd

        def answer(result: tuple[str, str, bool] | None) -> None:
            if result is None:
                return
            path, which, keys = result
            sas = [sad.row_at(i) for i in range(len(sad))] if which in ("sad", "both") else []
            sps = [spd.row_at(i) for i in range(len(spd))] if which in ("spd", "both") else []
            try:
                write_private(path, export_text(sas, sps, with_keys=keys))
            except OSError as exc:
                self.notify(f"Cannot write {path}: {exc.strerror or exc}", severity="error", markup=False)
                return
            self.notify(f"Wrote {len(sas)} SAs and {len(sps)} policies to {path} (mode 0600"
                        f"{', keys included' if keys else ', without keys'}).", markup=False)

        self.push_screen(ExportScreen(len(sad), len(spd)), answer)

    def action_refresh(self) -> None:
        """Dump the SAD and SPD again."""
        self.request_resync(by_user=True)

    def action_load_example(self) -> None:
        """Apply the example scenario through the kernel (as ``setkey -f`` would)."""
        self._load_example_worker()

    @work(thread=True, group="kernel", exit_on_error=False)
    def _load_example_worker(self) -> None:
        from setkey_tui.script import run_script

        text = self.example_text()
        out, err = io.StringIO(), io.StringIO()
        try:
            transport = self.opener()
        except (TransportError, OSError) as exc:
            self.call_from_thread(self.notify, f"cannot open the kernel: {exc}", severity="error", markup=False)
            return
        try:
            rc = run_script(text, transport, stdin_mode=False, verbose=False, dry_run=False, kernel_mode=False,
                            out=out, err=err, now=self.now, pid=self.pid)
        finally:
            transport.close()
        problems = (out.getvalue() + err.getvalue()).strip()
        if rc or problems:
            self.call_from_thread(self.notify, problems or f"exit status {rc}", title="Example scenario", markup=False,
                                  severity="warning", timeout=10)
        else:
            self.call_from_thread(self.notify, "Example scenario applied: watch the lifetimes count down; the "
                                  "SAs go dying, then away.", title="Example scenario")

    def example_text(self) -> str:
        """The example scenario's setkey script."""
        if self.example_path:
            with open(self.example_path, encoding="utf-8") as f:
                return f.read()
        return resources.files("setkey_tui.scenarios").joinpath(EXAMPLE_SCENARIO).read_text(encoding="utf-8")

    def action_monitor_pause(self) -> None:
        """Pause or resume the monitor."""
        self.get_screen_main().query_one(MonitorPane).toggle_pause()

    def action_monitor_timestamps(self) -> None:
        """Switch -x / -xx."""
        self.get_screen_main().query_one(MonitorPane).toggle_timestamps()

    def action_monitor_hex(self) -> None:
        """Toggle the -h hex dump."""
        self.get_screen_main().query_one(MonitorPane).toggle_hex()

    def action_monitor_clear(self) -> None:
        """Empty the monitor pane."""
        self.get_screen_main().query_one(MonitorPane).clear()

    def action_monitor_save(self) -> None:
        """Save the monitored messages as a replayable recording."""
        pane = self.get_screen_main().query_one(MonitorPane)

        def answer(path: str | None) -> None:
            if not path:
                return
            try:
                n = pane.save_recording(path)
            except OSError as exc:
                self.notify(f"Cannot write {path}: {exc.strerror or exc}", severity="error", markup=False)
                return
            self.notify(f"Saved {n} messages to {path}; replay with --kernel replay:{path}", markup=False)

        self.push_screen(PathScreen("Save the monitor as a recording", "setkey-monitor.rec"), answer)

    def action_toggle_monitor(self) -> None:
        """Cycle the monitor pane: normal → large → hidden."""
        pane = self.get_screen_main().query_one(MonitorPane)
        if pane.has_class("large"):
            pane.remove_class("large")
            pane.add_class("hidden")
        elif pane.has_class("hidden"):
            pane.remove_class("hidden")
        else:
            pane.add_class("large")

    def action_help(self) -> None:
        """Show the help screen."""
        from setkey_tui.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The command palette: every action of the app, then Textual's (themes, keys, screenshot)."""
        for action, key, title, help_text in ACTIONS:
            yield SystemCommand(f"{title}  [{key}]", help_text, self._palette_callback(action))
        yield from super().get_system_commands(screen)

    def _palette_callback(self, action: str) -> Callable[[], Any]:
        async def run_action() -> None:
            await self.run_action(action)

        return run_action


def clock_from_env() -> Callable[[], float]:
    """``SETKEY_TUI_NOW=SECONDS`` fixes the display clock (reproducible screens); else the real time."""
    fixed = os.environ.get("SETKEY_TUI_NOW", "").strip()
    if fixed:
        try:
            value = float(fixed)
        except ValueError:
            return time.time
        return lambda: value
    return time.time


def run(kernel_spec: str = "auto", platform: Platform | None = None) -> int:
    """Run the TUI on ``kernel_spec`` (auto|pfkey|sim|sim@PATH|replay:FILE); the exit status."""
    try:
        opener, first = default_opener(kernel_spec, platform)
    except (TransportError, OSError, ValueError) as exc:
        print(f"setkey-tui: {exc}", file=sys.stderr)
        return 1
    from setkey_tui.kernel.replay import ReplayTransport

    replay = isinstance(first, ReplayTransport)  # also when SETKEY_TUI_KERNEL chose it
    app = SetkeyApp(opener, platform=platform or first.platform, now=clock_from_env(), replay=replay)
    result = app.run()
    return int(result or 0)
