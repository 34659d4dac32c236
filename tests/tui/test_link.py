"""The kernel link seen from the screen: progressive load, own dump copies summarised, read-only replay, keys
that belong to forms, the badge on one line, and the terminal restored on SIGTERM/SIGHUP."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections import deque

import pytest
from textual.widgets import Input, Log

from setkey_tui.kernel.sim.transport import SimTransport
from setkey_tui.pfkey.constants import MsgType
from setkey_tui.pfkey.message import decode, header_only
from setkey_tui.pfkey.platform import LINUX
from setkey_tui.scenarios import example_text
from setkey_tui.scenarios.synthetic import sa_message
from setkey_tui.tui.app import SetkeyApp
from setkey_tui.tui.screens.forms import AddSAScreen
from setkey_tui.tui.screenshots import PID, apply_script
from setkey_tui.tui.widgets.badge import Badge
from setkey_tui.tui.widgets.monitor import MonitorPane
from tests.tui.conftest import wait_for

SIZE = (160, 45)


class GatedKernel:
    """A kernel whose SA dump stops after ``shown`` replies until :attr:`gate` is set (SPD empty); replies are
    copied to promiscuous sockets first, as Linux does."""

    def __init__(self, total: int, shown: int) -> None:
        self.replies = [sa_message(i, seq=i + 1 if i < total - 1 else 0, pid=PID).encode(LINUX)
                        for i in range(total)]
        self.shown = shown
        self.gate = threading.Event()
        self.sockets: list[GatedSocket] = []
        self.lock = threading.Lock()

    def open(self) -> GatedSocket:
        s = GatedSocket(self)
        with self.lock:
            self.sockets.append(s)
        return s

    def broadcast(self, data: bytes, to: GatedSocket | None = None) -> None:
        with self.lock:
            targets = [s for s in self.sockets if s.promisc]
        for s in targets:
            s.put(data)
        if to is not None:
            to.put(data)

    def dump(self, to: GatedSocket) -> None:
        for i, r in enumerate(self.replies):
            if i == self.shown:
                self.gate.wait(30)
            self.broadcast(r, to)


class GatedSocket:
    platform = LINUX
    description = "gated kernel (test)"

    def __init__(self, kernel: GatedKernel) -> None:
        self.kernel = kernel
        self.queue: deque[bytes] = deque()
        self.cond = threading.Condition()
        self.promisc = False

    def put(self, data: bytes) -> None:
        with self.cond:
            self.queue.append(data)
            self.cond.notify()

    def send(self, data: bytes) -> None:
        msg = decode(data, LINUX)
        if msg.type == MsgType.X_PROMISC:
            self.promisc = bool(msg.satype)
            return
        self.kernel.broadcast(data)  # the request's copy
        if msg.type == MsgType.DUMP:
            threading.Thread(target=self.kernel.dump, args=(self,), daemon=True).start()
        else:  # REGISTER, SPDDUMP: nothing here
            self.put(header_only(msg.type, 0, seq=msg.seq, pid=msg.pid, errno=2).encode(LINUX))

    def recv(self, timeout: float | None = None) -> bytes | None:
        with self.cond:
            if not self.queue:
                self.cond.wait(timeout)
            return self.queue.popleft() if self.queue else None

    def set_promisc(self, on: bool) -> None:
        self.send(header_only(MsgType.X_PROMISC, 1 if on else 0).encode(LINUX))

    def close(self) -> None:
        with self.kernel.lock:
            if self in self.kernel.sockets:
                self.kernel.sockets.remove(self)


def badge_text(app: SetkeyApp) -> str:
    return str(app.query_one(Badge).render())


async def test_rows_show_while_the_dump_arrives_and_the_badge_says_loading() -> None:
    kernel = GatedKernel(total=3000, shown=1200)
    app = SetkeyApp(kernel.open, pid=PID, now=lambda: 1_700_000_100.0)
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(pilot, lambda: app.mirror.sad.total == 1200), app.mirror.sad.total
        assert app.link.first_rows_shown.is_set()  # the app said the first batch was painted
        assert not app.loaded.is_set() and app.mirror.sad.loading  # the dump is still in flight
        assert "loading SAD 1,200…" in badge_text(app)
        table = app.screen.query_one("#sad-table")
        lines = [table.render_line(y).text for y in range(1, 4)]
        assert all("esp" in line for line in lines), lines  # rows on screen, not "The SAD is empty"
        await pilot.press("j", "j", "enter")  # the cursor and the detail screen work during the load
        assert await wait_for(pilot, lambda: type(app.screen).__name__ == "DetailScreen")
        await pilot.press("escape")
        kernel.gate.set()
        assert await wait_for(pilot, lambda: app.loaded.is_set() and app.mirror.sad.total == 3000)
        assert await wait_for(pilot, lambda: "· live" in badge_text(app)), badge_text(app)
        assert "SAD 3,000 (mature 3000)" in badge_text(app) and not app.mirror.sad.loading
        log = app.query_one(MonitorPane).query_one(Log)
        assert await wait_for(pilot, lambda: any("own DUMP: 3,000 replies not shown" in line
                                                 for line in log.lines))
        assert app.link.listener is not None and app.link.listener.decoded <= 3  # promisc echo, REGISTER


async def test_a_change_by_another_process_during_the_load_is_kept() -> None:
    kernel = GatedKernel(total=500, shown=100)
    app = SetkeyApp(kernel.open, pid=PID, now=lambda: 1_700_000_100.0)
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(pilot, lambda: app.mirror.sad.total == 100)
        # Another process deletes SA 400 (not dumped yet) and adds SA 9000, while the dump waits.
        kernel.broadcast(sa_message(400, msg_type=MsgType.DELETE, pid=999, seq=1).encode(LINUX))
        kernel.broadcast(sa_message(9000, msg_type=MsgType.ADD, pid=999, seq=2).encode(LINUX))
        assert await wait_for(pilot, lambda: app.mirror.sad.total == 101)
        kernel.replies[400] = sa_message(400, seq=401, pid=PID).encode(LINUX)  # the dump still had it
        kernel.gate.set()
        assert await wait_for(pilot, app.loaded.is_set)
        spis = {r.spi for r in app.mirror.sad.rows.values()}
        assert 0x1000 + 9000 in spis and 0x1000 + 400 not in spis and len(spis) == 500


async def test_monitor_summarises_own_dumps_on_the_simulated_kernel(env) -> None:
    apply_script(env.host, example_text())
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(pilot, app.loaded.is_set)
        log = app.query_one(MonitorPane).query_one(Log)
        assert await wait_for(pilot, lambda: any("own SPDDUMP: 8 replies not shown" in line for line in log.lines))
        assert any("own DUMP: 8 replies not shown" in line for line in log.lines)
        assert not any("sadb_msg_type=SADB_DUMP" in line or "SADB_DUMP" in line.split("own")[0]
                       for line in log.lines if "own DUMP" not in line)


async def test_q_in_a_form_is_typed_not_quit(env) -> None:
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(pilot, app.loaded.is_set)
        assert "q" in app.screen.active_bindings
        await pilot.press("a")
        assert await wait_for(pilot, lambda: isinstance(app.screen, AddSAScreen))
        assert "q" not in app.screen.active_bindings  # no "q Quit" in the form's footer
        focused = app.focused
        assert isinstance(focused, Input)
        await pilot.press("q")
        assert isinstance(app.screen, AddSAScreen) and app.is_running
        assert focused.value.endswith("q")


async def test_a_replay_is_read_only_and_says_so(env, tmp_path) -> None:
    from setkey_tui.kernel.replay import ReplayTransport

    rec = tmp_path / "r.rec"
    rec.write_text("")
    app = SetkeyApp(lambda: ReplayTransport(str(rec), LINUX), replay=True, now=env.clock)
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(pilot, app.loaded.is_set)
        assert await wait_for(pilot, lambda: badge_text(app).rstrip().endswith("replay")), badge_text(app)
        hidden = ("a", "p", "d", "f", "F", "t")
        assert not any(key in app.screen.active_bindings for key in hidden)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert not any(t.startswith(("Add SA", "Load example", "Delete", "Simulate")) for t in titles)


class NoTrafficTransport:
    """A socket on the simulated kernel without its TrafficSimulator capability, as a real PF_KEY socket."""

    def __init__(self, host) -> None:  # type: ignore[no-untyped-def]
        self._socket = SimTransport(host)
        self.platform = self._socket.platform
        self.description = "real PF_KEY (test)"
        self.send, self.recv = self._socket.send, self._socket.recv
        self.set_promisc, self.close = self._socket.set_promisc, self._socket.close


async def test_load_example_is_not_offered_on_a_real_kernel(env) -> None:
    app = SetkeyApp(lambda: NoTrafficTransport(env.host), now=env.clock, pid=PID)
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(pilot, app.loaded.is_set)
        assert not app.simulated
        assert not any(c.title.startswith("Load example") for c in app.get_system_commands(app.screen))
        assert app.check_action("load_example", ()) is False


async def test_badge_stays_one_line_at_160_columns_with_dying_sas(env) -> None:
    script = "".join(f"add 10.0.{i}.1 10.0.{i}.2 esp {0x3000 + i:#x} -ls 5 -lh 500 -E aes-cbc 0x{'11' * 16} ;\n"
                     for i in range(12))
    apply_script(env.host, script + example_text())
    app = env.app(kernel_label="simulated kernel (no PF_KEY here: embedded, in this process)")
    async with app.run_test(size=(160, 45)) as pilot:
        assert await wait_for(pilot, app.loaded.is_set)
        env.clock.t += 10
        env.host.tick()
        assert await wait_for(pilot, lambda: app.mirror.sa_counts().get("dying", 0) >= 12)
        await pilot.pause()
        badge = app.query_one(Badge)
        assert badge.size.height == 1 and badge.region.y == 0
        assert app.screen.query_one("#tabs").region.y == 1  # the layout did not shift


def _read_until(fd: int, needle: bytes, timeout: float) -> bytes:
    out = b""
    deadline = time.monotonic() + timeout
    while needle not in out and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    return out


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_signals_restore_the_terminal(signum: int, tmp_path) -> None:
    """The TUI in a real pty: SIGTERM/SIGHUP make it leave the alternate screen, show the cursor and stop mouse
    reporting before it exits."""
    import pty

    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40",
           "SETKEY_TUI_KERNEL": "sim", "HOME": str(tmp_path)}
    pid, fd = pty.fork()
    if pid == 0:
        os.execvpe(sys.executable, [sys.executable, "-m", "setkey_tui"], env)
    try:
        started = _read_until(fd, b"\x1b[?1049h", 30)
        assert b"\x1b[?1049h" in started  # the alternate screen is on
        assert b"SAD" in _read_until(fd, b"SAD", 30) or b"SAD" in started
        os.kill(pid, signum)
        rest = _read_until(fd, b"\x1b[?1049l", 20)
        assert b"\x1b[?1049l" in rest  # back to the normal screen
        assert b"\x1b[?1000l" in rest or b"\x1b[?1003l" in rest  # mouse reporting off
        deadline = time.monotonic() + 20
        status = None
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            _read_until(fd, b"\0", 0.2)
        assert status is not None and os.WIFEXITED(status), status
        assert os.WEXITSTATUS(status) == 128 + signum
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(fd)


class RecordedEvent(threading.Event):
    """An Event that records the first wait on it: how many replies the waiter's socket still held."""

    def __init__(self, kernel: GatedKernel) -> None:
        super().__init__()
        self.kernel = kernel
        self.waiting = threading.Event()
        self.left: int | None = None

    def wait(self, timeout: float | None = None) -> bool:
        if self.left is None:
            self.left = max(len(s.queue) for s in self.kernel.sockets if not s.promisc)
            self.waiting.set()
        return super().wait(timeout)


def test_the_first_dump_waits_after_its_first_batch_until_the_screen_shows_it() -> None:
    from setkey_tui.link import FIRST_BATCH, KernelLink

    kernel = GatedKernel(total=3000, shown=3000)
    link = KernelLink(kernel.open, platform=LINUX, post=lambda m: None, pid=PID)
    link.hold_first_batch = 60.0
    link.first_rows_shown = RecordedEvent(kernel)
    link.start()
    try:
        assert link.first_rows_shown.waiting.wait(30)
        link.drain()
        first = link.mirror.sad.total
        assert 0 < first <= FIRST_BATCH and link.first_rows_applied
        assert link.first_rows_shown.left is not None and link.first_rows_shown.left > 0  # the rest is waiting
        link.drain()
        assert link.mirror.sad.total == first and not link.loaded.is_set()  # the dump thread is held
        link.first_rows_shown.set()
        deadline = time.monotonic() + 30
        while not link.loaded.is_set() and time.monotonic() < deadline:
            link.drain()
            time.sleep(0.01)  # polled: the assertion below says whether it loaded
        link.drain()
        assert link.loaded.is_set() and link.mirror.sad.total == 3000
    finally:
        link.first_rows_shown.set()
        link.stop()


def test_the_link_has_no_textual_import() -> None:
    code = ("import sys, setkey_tui.link, setkey_tui.listener, setkey_tui.service, setkey_tui.mirror; "
            "print(any(m.split('.')[0] == 'textual' for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


async def test_monitor_follows_the_tail_pauses_when_scrolled_up_and_searches(env) -> None:
    from setkey_tui.tui.widgets.monitor import MonitorLog

    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(pilot, app.loaded.is_set)
        pane = app.query_one(MonitorPane)
        log = pane.query_one(MonitorLog)
        script = "".join(f"add 10.1.0.{i} 10.2.0.{i} esp {0x5000 + i:#x} -E aes-cbc 0x{'22' * 16} ;\n"
                         for i in range(1, 40))
        apply_script(env.host, script)
        assert await wait_for(pilot, lambda: app.mirror.sad.total == 39 and log.line_count > log.size.height)
        await pilot.pause()
        assert log.following and log.scroll_offset.y == log.max_scroll_y  # the newest line is in view
        log.focus()
        await pilot.press("pageup")
        assert not log.following and "End to follow" in pane.status_text()
        apply_script(env.host, script.replace("esp 0x5", "esp 0x6").replace("10.1.0.", "10.3.0."))
        assert await wait_for(pilot, lambda: app.mirror.sad.total == 78)
        await pilot.pause()
        assert log.scroll_offset.y < log.max_scroll_y  # still where the user left it
        await pilot.press("end")
        assert log.following and log.scroll_offset.y == log.max_scroll_y
        assert "End to follow" not in pane.status_text()
        await pilot.press("slash")
        assert app.focused is pane.query_one("#monitor-search")
        await pilot.press(*"spi=24614")
        assert pane.query_one("#monitor-search").value == "spi=24614", pane.query_one("#monitor-search").value
        await pilot.press("enter")  # 0x6026 (the newest messages: shown whole)
        assert app.focused is log and log.match_line is not None
        assert "spi=24614" in log.lines[log.match_line]
        first = log.match_line
        await pilot.press("n")  # the request, its copy and the kernel's answer all name the SPI
        assert log.match_line != first and "spi=24614" in log.lines[log.match_line]
        await pilot.press("N")
        assert log.match_line == first


async def test_a_loss_reloads_once_and_says_what_happened(env) -> None:
    from setkey_tui.listener import LostEvent

    apply_script(env.host, example_text())
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(pilot, app.loaded.is_set)
        app.link.events.put(LostEvent("3 message(s) lost"))
        assert await wait_for(pilot, lambda: any("Reloaded after lost kernel messages" in n for n in env.notes))
        assert app.link.resyncs == 1 and app.mirror.sad.total == 8 and app.link.status == "live"
        notes = env.notes
        assert any("3 message(s) lost" in n and "reloading" in n for n in notes)


def _drain_until(link, cond, what: str) -> None:
    """Drain the link (as the app's timer does) until ``cond()`` holds; fail saying ``what`` otherwise."""
    deadline = time.monotonic() + 30
    while not cond():
        assert time.monotonic() < deadline, f"{what}: status {link.status!r}, {link.resyncs} reload(s)"
        link.drain()
        time.sleep(0.005)  # polled: the assertion above says whether it came


def test_the_reload_policy_runs_on_the_link_timer() -> None:
    """Losses within RESYNC_GRACE of a reload's end are follow-ups (MAX_FOLLOWUPS at most, then the status says
    so); one after the grace reloads again; a loss seen while a reload's dump runs reloads once more,
    RESYNC_PAUSE after it ends; a loss seen before the reload asked for its dump is covered by it. Time is the
    link's injected timer, stepped here: the outcome does not depend on how slow the machine is."""
    from setkey_tui.link import MAX_FOLLOWUPS, RESYNC_GRACE, RESYNC_PAUSE, KernelLink
    from setkey_tui.listener import LostEvent
    from setkey_tui.scenarios.sim import Clock

    kernel = GatedKernel(total=40, shown=10)
    kernel.gate.set()
    timer = Clock(1000.0)
    link = KernelLink(kernel.open, platform=LINUX, post=lambda m: None, pid=PID, timer=timer)
    link.start()
    try:
        _drain_until(link, link.loaded.is_set, "first load")
        live = link.status
        assert MAX_FOLLOWUPS == 1 and link.mirror.sad.total == 40
        link.events.put(LostEvent("a"))  # right after the first load: a follow-up, the only one allowed
        _drain_until(link, lambda: link.resyncs == 1 and link.status == live, "reload after a loss")
        link.events.put(LostEvent("b"))  # still within the grace: no more reloads, the status says so
        link.drain()
        assert link.resyncs == 1 and link.status == "messages were lost during the reload: r reloads"
        timer.t += RESYNC_GRACE  # the grace is over: a loss reloads again
        link.events.put(LostEvent("c"))
        _drain_until(link, lambda: link.resyncs == 2 and link.status == live, "reload after the grace")
        timer.t += RESYNC_GRACE
        link.events.put(LostEvent("d"))  # queued before the reload below asks for its dump: covered by it
        link.request_resync(by_user=True)
        _drain_until(link, lambda: link.status == live, "reload by the user")
        timer.t += RESYNC_PAUSE
        for _ in range(5):
            link.drain()
        assert link.resyncs == 3
        timer.t += RESYNC_GRACE
        kernel.gate.clear()  # the next dump stops after 10 replies until the gate opens
        link.request_resync(by_user=True)
        _drain_until(link, lambda: link.loading is not None and link.loading.count == 10, "a dump in flight")
        link.events.put(LostEvent("e"))  # seen while the dump runs: one more reload once it has ended
        link.drain()
        kernel.gate.set()
        _drain_until(link, lambda: link.status == live, "the reload")
        for _ in range(5):
            link.drain()
        assert link.resyncs == 4  # the pause has not passed on the timer: no reload yet
        timer.t += RESYNC_PAUSE
        _drain_until(link, lambda: link.resyncs == 5 and link.status == live, "reload after the pause")
        assert link.mirror.sad.total == 40
    finally:
        kernel.gate.set()
        link.stop()
