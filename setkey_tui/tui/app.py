"""The setkey-tui application: actions, the command palette and ``run()``.

Screens are in ``screens/`` (each holds its own bindings), widgets in ``widgets/``. The live link to the kernel
(connection, dumps, the listener's queue, requests in worker threads) is the plain
:class:`setkey_tui.link.KernelLink`: the app drains it every 50 ms and relays what it posts
(:class:`~setkey_tui.link.MirrorChanged`, :class:`~setkey_tui.link.LinkStatus`,
:class:`~setkey_tui.link.MonitorBatch`, :class:`~setkey_tui.link.Notice`) on :attr:`SetkeyApp.link_signal`,
to which the badge, the tables and the monitor subscribe.
"""

from __future__ import annotations

import asyncio
import io
import os
import signal as signal_mod
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.signal import Signal
from textual.timer import Timer
from textual.widgets import TabbedContent

from setkey_tui import scenarios
from setkey_tui.clock import display_clock
from setkey_tui.files import write_private
from setkey_tui.kernel.base import TransportError
from setkey_tui.link import FIRST_PAINT_HOLD, KernelLink, LinkMessage, Notice, Opener, default_opener
from setkey_tui.mirror import Mirror, SARow, SPRow
from setkey_tui.packet import Packet
from setkey_tui.pfkey.constants import Direction, ExtType, SAType
from setkey_tui.pfkey.extensions import AddressExt, PolicyExt
from setkey_tui.pfkey.platform import Platform
from setkey_tui.pfkey.platform import current as current_platform
from setkey_tui.tui.actions import ACTIONS, FOOTER_SHOWN, PALETTE_ONLY, WRITE_ACTIONS
from setkey_tui.tui.screens.dialogs import (
    ConfirmScreen,
    ExportScreen,
    FlushSADScreen,
    PathScreen,
    RecordingPathScreen,
)
from setkey_tui.tui.screens.main import MainScreen
from setkey_tui.tui.traffic_run import TrafficRun
from setkey_tui.tui.widgets.monitor import MonitorPane
from setkey_tui.tui.widgets.table_pane import TablePane

DRAIN_INTERVAL = 0.05

class SetkeyApp(App[int]):
    """setkey-tui: the SAD, the SPD and every PF_KEY message, live."""

    CSS_PATH = "app.tcss"
    TITLE = "setkey-tui"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "help", "Help"),
        Binding("question_mark", "help", "Help", show=False),
    ]

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
        self.example_path = example_path
        self.replay = replay
        self.pid = pid
        self.link_signal: Signal[LinkMessage] = Signal(self, "link")
        self.link = KernelLink(opener, platform=self.platform, post=self._relay, pid=pid, listen=listen,
                               replay=replay, kernel_label=kernel_label, clock=now)
        # The first dump waits after its first batch until the screen has painted it (see KernelLink).
        self.link.hold_first_batch = FIRST_PAINT_HOLD
        self._shown_pending = True
        self.drain_timer: Timer | None = None

    # -- the link --------------------------------------------------------------------------------------
    def on_load(self) -> None:
        """Start the link as the app starts (before the screen is built): the first rows are read meanwhile."""
        self.link.start()

    def on_mount(self) -> None:
        """Repaint the clocks in the tables every second; drain the link (see :meth:`start_draining`)."""
        self.set_interval(1.0, self._tick)
        self.call_after_refresh(self.start_draining)

    def start_draining(self) -> None:
        """Drain the link now and every 50 ms, once the main screen's widgets are mounted and subscribed (it
        calls this from its ``on_mount``, so that rows read already are in the first paint); once only."""
        if self.drain_timer is not None:
            return
        self.drain_timer = self.set_interval(DRAIN_INTERVAL, self.drain)
        self.link.repost()
        self.drain()

    def on_unmount(self) -> None:
        """Stop the listener thread and close the kernel socket."""
        self.link.stop()

    def drain(self) -> None:
        """Apply what the kernel said since the last drain (the link posts what changed). Once the first rows
        are applied, the link hears when they are painted (its first dump goes on then)."""
        self.link.drain()
        if self._shown_pending and self.link.first_rows_applied:
            self._shown_pending = False
            self.call_after_refresh(self.link.first_rows_shown.set)

    def _relay(self, message: LinkMessage) -> None:
        if isinstance(message, Notice):
            self.notify(message.text, title=message.title, severity=message.severity,  # type: ignore[arg-type]
                        timeout=message.timeout, markup=False)
            return
        self.link_signal.publish(message)

    def _tick(self) -> None:
        for table in self.query("EntryTable"):
            table.refresh()

    # Short names for the link's state, used by screens and tests.
    @property
    def mirror(self) -> Mirror:
        """The SAD and SPD as shown."""
        return self.link.mirror

    @property
    def loaded(self) -> threading.Event:
        """Set once the first dump is on screen."""
        return self.link.loaded

    @property
    def events(self) -> Any:
        """The link's queue (listener events and worker results)."""
        return self.link.events

    @property
    def status(self) -> str:
        """The link's status word (live, loading, reloading…, why it failed)."""
        return self.link.status

    @property
    def resyncs(self) -> int:
        """Reloads since the start."""
        return self.link.resyncs

    @property
    def link_broken(self) -> bool:
        """The kernel socket or the listener failed: r connects again."""
        return self.link.link_broken

    @property
    def service(self) -> Any:
        """The link's kernel conversation (None until connected)."""
        return self.link.service

    @property
    def listener(self) -> Any:
        """The link's listener thread (None without one)."""
        return self.link.listener

    @property
    def _resyncing(self) -> bool:
        return self.link._resyncing

    @property
    def supported(self) -> Any:
        """The kernel's algorithms from REGISTER (None until known)."""
        return self.link.supported

    def kernel_requests(self, msgs: Iterable[Any]) -> list[str]:
        """Send requests (in a worker thread); the setkey-worded errors."""
        return self.link.kernel_requests(msgs)

    def traffic_unavailable(self) -> str:
        """Why traffic cannot be simulated here ("" when it can)."""
        return self.link.traffic_unavailable()

    def send_traffic(self, packet: Packet, count: int) -> TrafficRun:
        """Simulated packets (in a worker thread), see :meth:`KernelLink.send_traffic`."""
        return self.link.send_traffic(packet, count)

    def apply_sa_states(self, states: Iterable[Any]) -> int:
        """Show SAs' state as the kernel just told it."""
        return self.link.apply_sa_states(states)

    def _send_worker(self, msgs: list[Any], done: str) -> None:
        self.link.send(msgs, done)

    def _sync_tables(self) -> None:
        self.link.changed()

    def request_resync(self, *, by_user: bool = False) -> None:
        """Reload both tables."""
        self.link.request_resync(by_user=by_user)

    @property
    def simulated(self) -> bool:
        """True on the simulated kernel (where the example scenario may be loaded)."""
        service = self.link.service
        return service is not None and service.can_simulate_traffic

    # -- screens ------------------------------------------------------------------------------------
    def get_default_screen(self) -> Screen[Any]:
        return MainScreen()

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
        """A read-only kernel (a replay) hides what it cannot do; the example loads only into the simulated
        kernel."""
        if self.replay and action in WRITE_ACTIONS:
            return False
        if action == "load_example" and not self.simulated:
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
        from setkey_tui.tui import ops  # on first use: it brings the setkey grammar (startup time)

        if not self._on_main():
            return
        table = self.active_pane().entry_table
        rows = table.marked_rows()
        if not rows:
            self.notify("Nothing to delete.")
            return
        kind = "SA" if isinstance(rows[0], SARow) else "policy"
        noun = kind if len(rows) == 1 else ("SAs" if kind == "SA" else "policies")
        msgs = [ops.delete_sa_message(r) if isinstance(r, SARow) else ops.delete_sp_message(r) for r in rows]
        sample = "\n".join(ops.delete_statement(r) for r in rows[:3]) + (
            f"\n… and {len(rows) - 3} more" if len(rows) > 3 else "")

        def answer(yes: bool | None) -> None:
            if yes:
                table.marked.clear()
                self._send_worker(msgs, f"Deleted {len(rows)} {noun}.")

        self.push_screen(ConfirmScreen(f"Delete {len(rows)} {noun}?", sample), answer)

    def action_flush_sad(self) -> None:
        """Flush the SAD (all or one protocol), after a confirmation that counts the SAs."""
        from setkey_tui.tui import ops  # on first use: it brings the setkey grammar (startup time)

        counts: dict[int, int] = {}
        for r in self.mirror.sad.rows.values():
            counts[r.satype] = counts.get(r.satype, 0) + 1

        def answer(satype: int | None) -> None:
            if satype is not None:
                name = "every" if satype == 0 else SAType(satype).name.lower()
                self._send_worker([ops.flush_sad_message(satype)], f"Flushed {name} SAs.")

        self.push_screen(FlushSADScreen(counts), answer)

    def action_flush_spd(self) -> None:
        """Flush the SPD, after a confirmation that counts the policies."""
        from setkey_tui.tui import ops  # on first use: it brings the setkey grammar (startup time)

        n = self.mirror.spd.total

        def answer(yes: bool | None) -> None:
            if yes:
                self._send_worker([ops.flush_spd_message()], "Flushed the SPD.")

        self.push_screen(ConfirmScreen(f"Flush the SPD? {n} policies go.", "spdflush;"), answer)

    def action_copy(self) -> None:
        """Copy the cursor entry as a setkey statement (keys masked unless revealed in its detail)."""
        from setkey_tui.tui import ops  # on first use: it brings the setkey grammar (startup time)

        if not self._on_main():
            return
        row = self.active_pane().entry_table.current_row
        if row is None:
            self.notify("No entry under the cursor.")
            return
        text = ops.statement_of(row, with_keys=False).strip()
        self.notify(f"{text}\n{ops.copy_text(self.copy_to_clipboard, text)}", title="Copy", markup=False)

    def action_export(self) -> None:
        """Export the SAD and/or SPD (the rows the filters show) as a setkey script."""
        from setkey_tui.tui import ops  # on first use: it brings the setkey grammar (startup time)

        sad, spd = self.mirror.sad, self.mirror.spd

        def answer(result: tuple[str, str, bool] | None) -> None:
            if result is None:
                return
            path, which, keys = result
            path = os.path.expanduser(path)
            sas = [sad.row_at(i) for i in range(len(sad))] if which in ("sad", "both") else []
            sps = [spd.row_at(i) for i in range(len(spd))] if which in ("spd", "both") else []
            try:
                write_private(path, ops.export_text(sas, sps, with_keys=keys))
            except OSError as exc:
                self.notify(f"Cannot write {path}: {exc.strerror or exc}", severity="error", markup=False)
                return
            self.notify(f"Wrote {len(sas)} SAs and {len(sps)} policies to {path} (mode 0600"
                        f"{', keys included' if keys else ', without keys'}).", markup=False)

        self.push_screen(ExportScreen(len(sad), len(spd)), answer)

    def action_apply_file(self) -> None:
        """Ask for a setkey file, then open its plan against this kernel (applied only on confirmation)."""

        def answer(path: str | None) -> None:
            if not path:
                return
            path = os.path.abspath(os.path.expanduser(path))
            try:
                with open(path, encoding="utf-8", errors="surrogateescape", newline="") as fh:
                    text = fh.read()
            except OSError as exc:
                self.notify(f"Cannot read {path}: {exc.strerror or exc}", severity="error", markup=False)
                return
            from setkey_tui.tui.screens.plan import PlanScreen

            self.push_screen(PlanScreen(self.opener, text, path))

        self.push_screen(PathScreen("Apply a setkey file (its plan is shown first)", "ipsec-tools.conf"), answer)

    def action_refresh(self) -> None:
        """Dump the SAD and SPD again."""
        self.request_resync(by_user=True)

    def action_simulate_traffic(self) -> None:
        """Open the traffic dialog (simulated kernel only; elsewhere say why not)."""
        from setkey_tui.tui.screens.traffic import TrafficScreen

        reason = self.traffic_unavailable()
        if reason:
            self.notify(reason, title="Simulate traffic", severity="warning", markup=False)
            return
        self.push_screen(TrafficScreen(*self._cursor_addresses()))

    def _cursor_addresses(self) -> tuple[str, str]:
        """Source and destination to start the traffic dialog with: the cursor's SA or outbound policy."""
        row = self.active_pane().entry_table.current_row
        if row is None:
            return "", ""
        if isinstance(row, SPRow):
            pol = row.msg.get(ExtType.X_POLICY)
            if not isinstance(pol, PolicyExt) or pol.dir != Direction.OUTBOUND:
                return "", ""
        src, dst = row.msg.get(ExtType.ADDRESS_SRC), row.msg.get(ExtType.ADDRESS_DST)
        return (str(src.sockaddr.ip) if isinstance(src, AddressExt) else "",
                str(dst.sockaddr.ip) if isinstance(dst, AddressExt) else "")

    def action_load_example(self) -> None:
        """Apply the example scenario through the kernel (as ``setkey -f`` would): simulated kernel only."""
        if not self.simulated:
            self.notify("The example scenario is only loaded into the simulated kernel (its keys are public).",
                        severity="warning", markup=False)
            return
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
            self.call_from_thread(self.notify, example_problems(problems) or f"exit status {rc}",
                                  title="Example scenario", markup=False, severity="warning", timeout=10)
        else:
            self.call_from_thread(self.notify, "Example scenario applied: watch the lifetimes count down; the "
                                  "SAs go dying, then away.", title="Example scenario")

    def example_text(self) -> str:
        """The example scenario's setkey script."""
        if self.example_path:
            with open(self.example_path, encoding="utf-8") as f:
                return f.read()
        return scenarios.example_text()

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
            path = os.path.expanduser(path)
            try:
                n = pane.save_recording(path)
            except OSError as exc:
                self.notify(f"Cannot write {path}: {exc.strerror or exc}", severity="error", markup=False)
                return
            self.notify(f"Saved {n} messages to {path}; replay with --kernel replay:{path}", markup=False)

        self.push_screen(RecordingPathScreen(), answer)

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

    def action_screenshot(self, filename: str | None = None, path: str | None = None) -> None:
        """Save an SVG of the screen in ``path``: by default the Downloads folder when there is one, else the
        current folder; the notification gives the full path."""
        if path is None:
            downloads = os.path.expanduser("~/Downloads")
            path = downloads if os.path.isdir(downloads) else os.getcwd()
        try:
            saved = self.save_screenshot(filename, path)
        except OSError as exc:
            self.notify(f"Cannot save the screenshot in {path}: {exc.strerror or exc}", severity="error",
                        markup=False)
            return
        self.notify(f"Screenshot saved to {os.path.abspath(saved)}", title="Screenshot", markup=False)

    def action_help(self) -> None:
        """Show the help screen."""
        from setkey_tui.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The command palette: every action of the app, then Textual's (themes, keys, screenshot)."""
        for action, key, title, help_text in ACTIONS:
            if action == "load_example" and not self.simulated:
                continue
            if self.replay and action in WRITE_ACTIONS:
                continue
            shown = "" if key == PALETTE_ONLY else f"  [{key}]"
            yield SystemCommand(f"{title}{shown}", help_text, self._palette_callback(action))
        yield from super().get_system_commands(screen)

    def _palette_callback(self, action: str) -> Callable[[], Any]:
        async def run_action() -> None:
            await self.run_action(action)

        return run_action


def example_problems(output: str, shown: int = 5) -> str:
    """What went wrong applying the example, short: "already loaded" when every entry existed, else the
    first ``shown`` lines of setkey's words and how many more."""
    lines = [line for line in output.splitlines() if line.strip()]
    if lines and all(line.endswith(": File exists.") for line in lines):
        return "The example is already loaded: every entry exists (f and F flush the SAD and SPD to start over)."
    more = len(lines) - shown
    return "\n".join(lines[:shown] + ([f"… and {more} more"] if more > 0 else []))


def run(kernel_spec: str = "auto", platform: Platform | None = None) -> int:
    """Run the TUI on ``kernel_spec`` (auto|pfkey|sim|sim@PATH|replay:FILE); the exit status.

    A bad ``SETKEY_TUI_NOW`` or a kernel that cannot be opened is said in one line on stderr, exit status 1,
    before the app starts."""
    try:
        now = display_clock()
        opener, first = default_opener(kernel_spec, platform)
    except (TransportError, OSError, ValueError) as exc:
        print(f"setkey-tui: {exc}", file=sys.stderr)
        return 1
    from setkey_tui.kernel.replay import ReplayTransport

    replay = isinstance(first, ReplayTransport)  # also when SETKEY_TUI_KERNEL chose it
    app = SetkeyApp(opener, platform=platform or first.platform, now=now, replay=replay)
    restore = exit_on_signals(app)
    try:
        result = app.run()
    finally:
        restore()
    return app.return_code or int(result or 0)


def exit_on_signals(app: App[Any]) -> Callable[[], None]:
    """SIGTERM and SIGHUP end the app the way q does, so that the terminal is restored (alternate screen left,
    echo and the cursor back, mouse reporting off). Returns a function that puts the old handlers back."""
    old: dict[int, Any] = {}

    def handler(signum: int, frame: object) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not running yet, or already stopped
            sys.exit(128 + signum)
        loop.call_soon_threadsafe(lambda: app.exit(return_code=128 + signum))

    for sig in (signal_mod.SIGTERM, signal_mod.SIGHUP):
        try:
            old[sig] = signal_mod.signal(sig, handler)
        except (ValueError, OSError):  # not the main thread, or not on this platform
            continue

    def restore() -> None:
        for sig, h in old.items():
            signal_mod.signal(sig, h)

    return restore


__all__ = ["ACTIONS", "FOOTER_SHOWN", "SetkeyApp", "example_problems", "exit_on_signals", "run"]
