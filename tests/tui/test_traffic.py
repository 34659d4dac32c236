"""Simulate traffic from the TUI: the dialog, its verdicts in words, ACQUIRE in the monitor, byte counts."""

from __future__ import annotations

import pytest
from textual.widgets import Log, Static

from setkey_tui.kernel.replay import ReplayTransport
from setkey_tui.packet import Packet, PacketError, PacketVerdict, TraceResult, Verdict
from setkey_tui.pfkey.constants import MsgType
from setkey_tui.pfkey.platform import LINUX
from setkey_tui.scenarios.sim import PID
from setkey_tui.tui.app import SetkeyApp
from setkey_tui.tui.screens.help import help_markdown
from setkey_tui.tui.screens.traffic import TrafficScreen
from setkey_tui.tui.traffic_run import TrafficRun, packet_from_form
from tests.tui.helpers import error_at, fill, wait_for

SIZE = (150, 45)
REQUIRE_NO_SA = "spdadd 10.1.0.0/16 10.2.0.0/16 any -P out ipsec esp/transport//require ;\n"
WITH_SA = (
    "spdadd 10.5.0.1 10.6.0.1 tcp -P out ipsec esp/transport//require ;\n"
    "add 10.5.0.1 10.6.0.1 esp 0x1001 -m transport -bs 300 -bh 500 "
    "-E aes-cbc 0x00112233445566778899aabbccddeeff ;\n"
)


async def started(pilot, app) -> None:
    assert await wait_for(pilot, app.loaded.is_set), app.status


def result_text(screen: TrafficScreen) -> str:
    return str(screen.query_one("#traffic-result", Static).render())


def sa_bytes(app, spi: int) -> int | None:
    from setkey_tui.pfkey.constants import ExtType

    for row in app.mirror.sad.rows.values():
        if row.spi == spi:
            return row.msg.get(ExtType.LIFETIME_CURRENT).bytes
    return None


async def send(pilot, screen: TrafficScreen, **values: str) -> str:
    before = screen.last_run
    await fill(pilot, **values)
    await pilot.press("ctrl+s")
    assert await wait_for(pilot, lambda: screen.last_run is not before)
    return result_text(screen)


async def test_acquire_for_a_require_policy_without_sa(env) -> None:
    env.apply(REQUIRE_NO_SA)
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        await pilot.press("t")
        screen = app.screen
        assert isinstance(screen, TrafficScreen)
        text = await send(pilot, screen, src="10.1.0.7", dst="10.2.0.9")
        assert "(out ipsec): 10.1.0.0/16[any] -> 10.2.0.0/16[any] any matched" in text
        assert "no SA: the kernel raised ACQUIRE" in text
        # the ACQUIRE (type 6) reaches the monitor through the listener
        log = app.get_screen_main().query_one("#monitor-log", Log)
        acquire = f"type={MsgType.ACQUIRE} errno=0 satype=3"
        assert await wait_for(pilot, lambda: any(acquire in line for line in log.lines))
        text = await send(pilot, screen)
        assert "an ACQUIRE is already pending" in text


async def test_bytes_counted_then_soft_and_hard_expiry(env) -> None:
    env.apply(WITH_SA)
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        assert sa_bytes(app, 0x1001) == 0
        await pilot.press("t")
        screen = app.screen
        text = await send(pilot, screen, src="10.5.0.1", dst="10.6.0.1", proto="tcp", dport="443", size="100")
        assert text == ("policy 1 (out ipsec): 10.5.0.1[any] -> 10.6.0.1[any] tcp matched: carried by esp SA "
                        "0x00001001 10.5.0.1 -> 10.6.0.1, now 100 bytes (1 packet)")
        assert sa_bytes(app, 0x1001) == 100  # the table shows the kernel's answer to SADB_GET
        text = await send(pilot, screen, count="5")
        assert text.startswith("5 packets: 4 protected, 1 expired")
        assert "now 500 bytes (5 packets)" in text
        assert "its SA reached a hard lifetime" in text.splitlines()[-1]
        log = app.get_screen_main().query_one("#monitor-log", Log)
        expire = f"type={MsgType.EXPIRE} errno=0 satype=3"
        assert await wait_for(pilot, lambda: sum(expire in line for line in log.lines) >= 2)  # soft, hard
        assert await wait_for(pilot, lambda: sa_bytes(app, 0x1001) is None)  # gone after its hard expiry


async def test_policy_mismatch_and_field_errors(env) -> None:
    env.apply(WITH_SA)
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        await pilot.press("t")
        screen = app.screen
        text = await send(pilot, screen, src="10.5.0.1", dst="10.6.0.1", proto="udp")
        assert text == "no policy matched: sent in the clear"
        run = screen.last_run
        # a field refused: the send action answers at once (no worker starts), so nothing is sent
        await fill(pilot, src="10.5.0.300")
        await pilot.press("ctrl+s")
        assert error_at(screen, "src") == "source: 10.5.0.300 is not an IP address"
        assert result_text(screen) == "Not sent: fix the field marked in red."
        await fill(pilot, src="10.5.0.1", dst="fd00::1")
        await pilot.press("ctrl+s")
        assert error_at(screen, "src") == ""
        assert error_at(screen, "dst") == ("destination: fd00::1 is IPv6 but the source 10.5.0.1 is IPv4: both must "
                                           "be of one version")
        await fill(pilot, dst="10.6.0.1", dport="http")
        await pilot.press("ctrl+s")
        assert error_at(screen, "dport") == "destination port: 'http' is not a number"
        assert screen.last_run is run
        await pilot.press("escape")
        assert not isinstance(app.screen, TrafficScreen)


async def test_dialog_starts_from_the_cursor_sa_and_is_in_the_palette(env) -> None:
    env.apply(WITH_SA)
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Simulate traffic  [t]" in titles
        await pilot.press("t")
        screen = app.screen
        assert (screen.values()["src"], screen.values()["dst"]) == ("10.5.0.1", "10.6.0.1")


async def test_not_available_on_a_replay(env, tmp_path) -> None:
    rec = tmp_path / "r.rec"
    rec.write_text("")
    app = SetkeyApp(lambda: ReplayTransport(str(rec), LINUX), replay=True, now=env.clock,
                    pid=PID)
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(pilot, app.loaded.is_set)
        assert app.check_action("simulate_traffic", ()) is False  # a read-only kernel hides it (issue 11 item 3)
        assert "t" not in app.screen.active_bindings
        assert app.traffic_unavailable().startswith("traffic can only be simulated on the simulated kernel")
        await pilot.press("t")
        assert not isinstance(app.screen, TrafficScreen)


def test_in_help_footer_and_palette() -> None:
    assert "| `t` | **Simulate traffic**" in help_markdown()
    from setkey_tui.tui.app import ACTIONS, FOOTER_SHOWN

    assert ("simulate_traffic", "t") in [(a, k) for a, k, *_ in ACTIONS] and "simulate_traffic" in FOOTER_SHOWN


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"src": "", "dst": "10.0.0.1"}, "src"),
        ({"src": "10.0.0.1", "dst": "10.0.0.2", "sport": "70000"}, "sport"),
        ({"src": "10.0.0.1", "dst": "10.0.0.2", "size": "0"}, "size"),
        ({"src": "10.0.0.1", "dst": "10.0.0.2", "count": "many"}, "count"),
        ({"src": "10.0.0.1", "dst": "10.0.0.2", "count": "10001"}, "count"),  # the dialog's own bound
        ({"src": "10.0.0.1", "dst": "10.0.0.2", "proto": "xyz"}, "proto"),
    ],
)
def test_form_values_checked(values: dict[str, str], field: str) -> None:
    with pytest.raises(PacketError) as exc:
        packet_from_form(values)
    assert exc.value.field == field


def test_form_defaults_and_summary() -> None:
    packet, count = packet_from_form({"src": " 10.0.0.1 ", "dst": "10.0.0.2", "proto": "udp", "sport": "any",
                                      "dport": "0x35", "size": "", "count": "3"})
    assert packet == Packet.parse("10.0.0.1", "10.0.0.2", 17, 0, 53, 64) and count == 3
    assert str(packet.src) == "10.0.0.1"
    run = TrafficRun()
    for i in range(12):
        verdict = PacketVerdict(Verdict.PROTECTED if i < 10 else Verdict.ACQUIRE, 7, (), 1)
        run.add(TraceResult(verdict))
    lines = run.summary().splitlines()
    assert lines[0] == "12 packets: 10 protected, 2 acquire"
    assert lines[1] == "… 8 earlier packets not shown" and len(lines) == 6
    assert lines[2] == "#9: policy 7 matched: carried by SA " and lines[-1].startswith("#12: policy 7 matched: no SA")


def test_a_single_packet_run_is_its_line_and_an_error_follows() -> None:
    run = TrafficRun()
    assert run.summary() == "no packet was sent"
    run.add(TraceResult(PacketVerdict(Verdict.NO_POLICY)))
    run.error = "the kernel failed: gone"
    assert run.summary() == "no policy matched: sent in the clear\nthe kernel failed: gone"
