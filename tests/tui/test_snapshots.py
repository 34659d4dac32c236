"""Snapshot tests (pytest-textual-snapshot): every screen in a fixed state (fixed clock, fixed pid, example
scenario, no blinking cursor), at 140x42 and at 80x24. Update with ``pytest tests/tui --snapshot-update``
after a deliberate change, and look at the SVGs."""

from __future__ import annotations

from setkey_tui.scenarios import example_text
from setkey_tui.tui.app import SetkeyApp
from tests.tui.conftest import Env
from tests.tui.helpers import fill, settle, shown, wait_for

SIZE = (140, 42)
SMALL = (80, 24)


def example_env() -> Env:
    env = Env()
    env.apply(example_text())
    return env


def example_app() -> SetkeyApp:
    return example_env().app()


def test_snapshot_sad(snap_compare) -> None:
    assert snap_compare(example_app(), terminal_size=SIZE, run_before=settle)


def test_snapshot_spd(snap_compare) -> None:
    async def before(pilot) -> None:
        await settle(pilot)
        await pilot.press("2")
        await shown(pilot)

    assert snap_compare(example_app(), terminal_size=SIZE, run_before=before)


def test_snapshot_detail(snap_compare) -> None:
    async def before(pilot) -> None:
        await settle(pilot)
        await pilot.press("enter")
        await shown(pilot)

    assert snap_compare(example_app(), terminal_size=SIZE, run_before=before)


def test_snapshot_add_sa_form(snap_compare) -> None:
    async def before(pilot) -> None:
        await settle(pilot)
        await pilot.press("a")
        await fill(pilot, src="10.0.0.1", dst="fd00::2", spi="0x3000", enc_key="0x0011")
        await shown(pilot)

    assert snap_compare(example_app(), terminal_size=(140, 60), run_before=before)


def test_snapshot_add_policy_form(snap_compare) -> None:
    async def before(pilot) -> None:
        await settle(pilot)
        await pilot.press("p")
        await fill(pilot, src="10.1.0.0/16", dst="10.2.0.0/16", req_mode="tunnel", tsrc="192.0.2.1",
                   tdst="192.0.2.2")
        await shown(pilot)

    assert snap_compare(example_app(), terminal_size=(140, 60), run_before=before)


def test_snapshot_help(snap_compare) -> None:
    async def before(pilot) -> None:
        await settle(pilot)
        await pilot.press("f1")
        await shown(pilot)

    assert snap_compare(example_app(), terminal_size=SIZE, run_before=before)


def test_snapshot_filter_and_flush_dialog(snap_compare) -> None:
    async def before(pilot) -> None:
        await settle(pilot)
        await pilot.press("slash", *"dst:10.0.0.0/8", "enter", "f")
        await shown(pilot)

    assert snap_compare(example_app(), terminal_size=SIZE, run_before=before)


def test_snapshot_monitor_hex(snap_compare) -> None:
    env = example_env()

    async def before(pilot) -> None:
        await settle(pilot)
        await pilot.press("m", "c", "h", "x")
        env.apply("delete 10.0.0.1 10.0.0.2 esp 0x1001 ;\n")
        monitor = pilot.app.query_one("MonitorPane")
        await wait_for(pilot, lambda: pilot.app.mirror.sad.total == 7 and monitor.log_widget.line_count > 0)
        await shown(pilot)

    assert snap_compare(env.app(), terminal_size=SIZE, run_before=before)


def test_snapshot_traffic_dialog(snap_compare) -> None:
    async def before(pilot) -> None:
        await settle(pilot)
        await pilot.press("t")
        screen = pilot.app.screen
        await fill(pilot, src="10.1.0.5", dst="10.2.0.9", size="1400", count="3")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: screen.last_run is not None)
        await wait_for(pilot, lambda: pilot.app.events.empty())
        await shown(pilot)

    assert snap_compare(example_app(), terminal_size=SIZE, run_before=before)


def test_snapshot_small_sad(snap_compare) -> None:
    assert snap_compare(example_app(), terminal_size=SMALL, run_before=settle)


def test_snapshot_small_add_sa_form(snap_compare) -> None:
    async def before(pilot) -> None:
        await settle(pilot)
        await pilot.press("a")
        await fill(pilot, src="10.0.0.1", dst="10.0.0.2")
        await shown(pilot)

    assert snap_compare(example_app(), terminal_size=SMALL, run_before=before)


def test_snapshot_small_add_policy_form(snap_compare) -> None:
    async def before(pilot) -> None:
        await settle(pilot)
        await pilot.press("p")
        await fill(pilot, src="10.1.0.0/16")
        await shown(pilot)

    assert snap_compare(example_app(), terminal_size=SMALL, run_before=before)
