"""Pilot-driven flows of the TUI against the in-process simulated kernel."""

from __future__ import annotations

import os
import stat

from textual.widgets import Input, Label, Log, OptionList, Select, Static

from setkey_tui.link import RESYNC_GRACE, RESYNC_PAUSE
from setkey_tui.listener import FailedEvent, LostEvent
from setkey_tui.scenarios import example_text
from setkey_tui.scenarios.sim import Clock, sim_host
from setkey_tui.tui.screens.detail import DetailScreen
from setkey_tui.tui.screens.dialogs import ConfirmScreen, ExportScreen, FlushSADScreen
from setkey_tui.tui.screens.forms import AddPolicyScreen, AddSAScreen
from setkey_tui.tui.screens.help import HelpScreen
from setkey_tui.tui.screens.main import EssentialsFooter
from setkey_tui.tui.widgets.badge import Badge
from setkey_tui.tui.widgets.monitor import MonitorPane
from tests.tui.helpers import error_at, fill, settle, wait_for

SIZE = (150, 45)
SA1 = ("add 10.0.0.1 10.0.0.2 esp 0x1001 -m transport -u 5 -E aes-cbc 0x00112233445566778899aabbccddeeff "
       "-A hmac-sha256 0x0011223344556677889900112233445566778899001122334455667788990011 ;\n")


async def started(pilot, app) -> None:
    assert await wait_for(pilot, app.loaded.is_set), app.status


async def test_start_shows_dump_and_badge(env) -> None:
    env.apply(example_text())
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        assert app.mirror.sad.total == 8
        assert app.mirror.spd.total == 8  # 6 spdadd + the fwd copies of the 2 "in" policies
        badge = str(app.query_one(Badge).render())
        assert "simulated kernel (test)" in badge and "SAD 8 (mature 8)" in badge
        assert "in 2" in badge and "out 4" in badge and "fwd 2" in badge


async def test_add_sa_through_form_row_comes_from_kernel_broadcast(env) -> None:
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        await pilot.press("a")
        assert isinstance(app.screen, AddSAScreen)
        form = app.screen
        await fill(pilot, src="10.9.0.1", dst="10.9.0.2", spi="0x2345", mode="transport")
        await pilot.press("ctrl+r")  # random keys of the right length
        enc_key = form.query_one("#f-enc_key", Input).value
        assert len(enc_key) == 2 + 32  # aes-cbc: 128 bits
        preview = str(form.query_one("#preview", Static).render())
        assert preview.startswith("add 10.9.0.1 10.9.0.2 esp 0x2345 -m transport -E aes-cbc ")
        assert enc_key[2:] not in preview  # keys masked in the preview
        await pilot.press("ctrl+s")
        assert await wait_for(pilot, lambda: any(r.spi == 0x2345 for r in app.mirror.sad.rows.values()))
        assert not isinstance(app.screen, AddSAScreen)


async def test_without_listener_no_row_appears_by_local_guess(env) -> None:
    app = env.app(listen=False)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        await pilot.press("a")
        await fill(pilot, src="10.9.0.1", dst="10.9.0.2", spi="0x2345")
        await pilot.press("ctrl+r")
        await pilot.press("ctrl+s")
        assert await wait_for(pilot, lambda: not isinstance(app.screen, AddSAScreen))
        assert len(env.host.kernel.sas) == 1  # the kernel has it (the form closes once it answered) …
        assert app.mirror.sad.total == 0  # … but only a kernel message may add a row
        await pilot.press("r")
        assert await wait_for(pilot, lambda: app.mirror.sad.total == 1)


async def test_form_errors_at_their_fields(env) -> None:
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        await pilot.press("a")
        form = app.screen
        await fill(pilot, src="10.0.0.1", dst="fd00::2", spi="0x10", enc_key="0x0011", auth_key="0x00")
        assert "one family" in error_at(form, "dst")
        assert "0x100" in error_at(form, "spi")
        assert "aes-cbc takes a key of 128 to 256 bits; this one has 16" in error_at(form, "enc_key")
        assert "hmac-sha256" in error_at(form, "auth_key") and "256" in error_at(form, "auth_key")
        await fill(pilot, dst="10.0.0.2", spi="0x1000", enc_key="0x" + "11" * 16, auth_key="0x" + "22" * 32,
                   soft="30")
        assert error_at(form, "hard") == ""  # not left yet: no error shown there …
        await pilot.press("ctrl+s")  # … until a submit
        assert "hard limit when there is a soft one" in error_at(form, "hard")
        # an address is checked on its own, its error under its own field
        await fill(pilot, soft="", src="10.0.0.1 junk")
        assert error_at(form, "src") == "10.0.0.1 junk is not an IPv4 or IPv6 address (the form takes numeric addresses)"
        assert error_at(form, "dst") == ""
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, AddSAScreen)
        assert "Not sent: Source: 10.0.0.1 junk is not" in str(form.query_one("#form-error", Label).render())


async def test_kernel_error_in_setkey_words_form_stays_filled(env) -> None:
    env.apply(SA1)
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        await pilot.press("a")
        form = app.screen
        await fill(pilot, src="10.0.0.1", dst="10.0.0.2", spi="0x1001", enc_key="0x" + "11" * 16,
                  auth_key="0x" + "22" * 32)
        await pilot.press("ctrl+s")
        label = form.query_one("#form-error", Label)
        assert await wait_for(pilot, lambda: "File exists" in str(label.render()))
        assert isinstance(app.screen, AddSAScreen)
        assert form.query_one("#f-spi", Input).value == "0x1001"


async def test_add_policy_form(env) -> None:
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        await pilot.press("p")
        form = app.screen
        assert isinstance(form, AddPolicyScreen)
        await fill(pilot, src="10.1.0.0/16", dst="10.2.0.0/16", req_mode="tunnel", tsrc="192.0.2.1", tdst="192.0.2.2")
        preview = str(form.query_one("#preview", Static).render())
        assert preview == ("spdadd 10.1.0.0/16[any] 10.2.0.0/16[any] any -P out ipsec "
                           "esp/tunnel/192.0.2.1-192.0.2.2/require ;")
        await pilot.press("ctrl+s")
        assert await wait_for(pilot, lambda: app.mirror.spd.total == 1)
        row = app.mirror.spd.row_at(0)
        assert row.dir_name == "out" and "esp/tunnel/192.0.2.1-192.0.2.2/require" in row.requests


async def test_delete_marked_rows(env) -> None:
    env.apply(example_text())
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        await pilot.press("space", "space")  # mark the first two rows
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmScreen)
        assert "Delete 2 SAs?" in app.screen.question
        await pilot.press("y")
        assert await wait_for(pilot, lambda: app.mirror.sad.total == 6)


async def test_flush_sad_per_protocol_then_all(env) -> None:
    env.apply(example_text())
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        await pilot.press("f")
        dialog = app.screen
        assert isinstance(dialog, FlushSADScreen)
        assert "8 SAs go" in str(dialog.query_one("#flush-question", Label).render())
        dialog.query_one("#flush-proto", Select).value = 2  # ah
        question = dialog.query_one("#flush-question", Label)
        assert await wait_for(pilot, lambda: "every ah SA: 1 SA goes" in str(question.render()))
        await pilot.click("#yes")
        assert await wait_for(pilot, lambda: app.mirror.sad.total == 7)
        assert all(r.proto != "ah" for r in app.mirror.sad.rows.values())
        await pilot.press("F")
        assert isinstance(app.screen, ConfirmScreen) and "8 policies go" in app.screen.question
        await pilot.press("y")
        assert await wait_for(pilot, lambda: app.mirror.spd.total == 0)


async def test_filter_and_sort(env) -> None:
    env.apply(example_text())
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        sad = app.mirror.sad
        await pilot.press("slash", *"spi:0x2001")
        assert len(sad) == 1 and sad.row_at(0).spi == 0x2001
        await pilot.press("enter")
        assert app.focused is not None and app.focused.id == "sad-table"
        await pilot.press("slash")
        app.query_one("#sad-filter", Input).value = "dst:10.0.0.0/8 state:mature"
        assert await wait_for(pilot, lambda: len(sad) == 5)
        pane = app.query_one("#sad-pane")
        assert "state is one of larval, mature, dying, dead" in pane.apply_filter("state:bogus")
        assert pane.has_class("filter-bad") and len(sad) == 0  # not the results of an older text
        await pilot.press("escape")
        assert len(sad) == 8
        await pilot.press("s", "i")  # "Sort by…", then SPI's key
        assert sad.sort_column.name == "spi"
        spis = [sad.row_at(i).spi for i in range(len(sad))]
        assert spis == sorted(spis)
        await pilot.press("S")
        assert [sad.row_at(i).spi for i in range(len(sad))] == sorted(spis, reverse=True)
        await pilot.click("#sad-table", offset=(3, 0))  # the header of the first column
        assert sad.sort_column.name == "src"
        await pilot.click("#sad-table", offset=(3, 3))  # the third row
        table = app.query_one("#sad-table")
        assert table.cursor == 2
        await pilot.click("#sad-table", offset=(3, 4), times=2)  # a double click opens the detail
        assert isinstance(app.screen, DetailScreen) and app.screen.row is sad.row_at(3)


async def test_tab_in_a_form_keeps_the_footer_keys(env) -> None:
    """Moving from field to field changes the focus, not the keys: the footer is not rebuilt (each rebuild
    restyled and laid out the whole screen)."""
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        await pilot.press("a")
        assert isinstance(app.screen, AddSAScreen)
        footer = app.screen.query_one(EssentialsFooter)
        assert await wait_for(pilot, lambda: len(footer.children) > 2)
        kept = 0
        for _ in range(8):
            before, keys = app.focused, list(footer.children)
            await pilot.press("tab")
            await settle(pilot)
            assert app.focused is not before
            if isinstance(before, Input) and isinstance(app.focused, Input):  # the same keys: kept
                assert list(footer.children) == keys and all(k.is_attached for k in keys)
                kept += 1
        assert kept >= 3


async def test_detail_masks_keys_until_revealed(env) -> None:
    env.apply(SA1)
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        await pilot.press("enter")
        assert isinstance(app.screen, DetailScreen)
        detail = app.screen
        texts = lambda: " ".join(str(w.render()) for w in detail.query(Static))  # noqa: E731
        assert "00112233445566778899aabbccddeeff" not in texts()
        assert "0011 2233" not in texts() and "00 11 22 33 44 55" not in texts()
        assert "••••••••" in texts()
        await pilot.press("k")
        assert "0x00112233445566778899aabbccddeeff" in texts()
        assert "00112233 44556677" in texts()
        await pilot.press("escape")
        assert not isinstance(app.screen, DetailScreen)
        await pilot.press("enter")
        again = app.screen
        assert isinstance(again, DetailScreen) and again is not detail
        reopened = " ".join(str(w.render()) for w in again.query(Static))
        assert "00112233445566778899aabbccddeeff" not in reopened  # revealed for that visit only


async def test_detail_links_sa_and_policies(env) -> None:
    env.apply(example_text())
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        await pilot.press("2")
        app.query_one("#spd-pane").apply_filter("dst:10.2.0.0/16 dir:out")
        await pilot.press("enter")
        detail = app.screen
        assert isinstance(detail, DetailScreen)
        linked = detail.query_one("#detail-linked", OptionList)
        assert [str(o.prompt) for o in linked.options] == [
            "SA esp 192.0.2.1 → 198.51.100.1  spi 0x00003001  (mature)"]
        assert "10.2.0.0/16[any]" in str(detail.query_one(".detail-title", Label).render())
        statement = str(detail.query_one("#detail-statement", Static).render())
        assert statement.startswith("spdadd 10.1.0.0/16") and "-P out" in statement and "unique:200" in statement


async def test_export_writes_0600_keys_only_when_asked(env, tmp_path) -> None:
    env.apply(SA1 + "spdadd 10.0.0.1 10.0.0.2 any -P out ipsec esp/transport//require ;\n")
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        for keys, name in ((False, "plain.conf"), (True, "keys.conf")):
            await pilot.press("e")
            dialog = app.screen
            assert isinstance(dialog, ExportScreen)
            dialog.query_one("#path", Input).value = str(tmp_path / name)
            dialog.query_one("#export-keys").value = keys
            await pilot.pause()  # the dialog shows the new path (its layout may change) before the click
            await pilot.click("#yes")
            path = tmp_path / name
            assert await wait_for(pilot, path.exists)
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
            text = path.read_text()
            assert "spdadd 10.0.0.1" in text and "add 10.0.0.1 10.0.0.2 esp 0x1001" in text
            assert ("00112233445566778899aabbccddeeff" in text) is keys


async def test_monitor_pause_hex_filter_clear_save(env, tmp_path) -> None:
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        monitor = app.query_one(MonitorPane)
        await settle(pilot)  # every message of the start is in the monitor before `c`: none comes after it
        await pilot.press("c")
        await pilot.press("z")
        assert monitor.paused
        env.apply(SA1)
        assert await wait_for(pilot, lambda: len(monitor.waiting) >= 2)
        assert "PAUSED" in monitor.status_text() and "waiting" in monitor.status_text()
        assert await wait_for(pilot, lambda: app.mirror.sad.total == 1)  # the tables stay live meanwhile
        assert monitor.log_widget.line_count == 0
        await pilot.press("z")
        assert not monitor.paused and len(monitor.waiting) == 0
        lines = list(app.query_one(Log).lines)
        assert any("sadb_msg{ version=2 type=3" in line for line in lines)
        assert any("key= ••••••••" in line for line in lines)
        assert not any("8899aabb" in line for line in lines)  # keys masked in the monitor
        assert not lines[0].startswith("1700000000.")
        await pilot.press("x")  # -xx: the latest messages are shown again with epoch timestamps
        assert list(app.query_one(Log).lines)[0].startswith("1700000000.000000")
        await pilot.press("x")
        await pilot.press("c", "h", "x")
        assert monitor.hexdump and monitor.tflag == 2
        monitor.query_one("#monitor-type", Select).value = 4  # DELETE only
        await pilot.pause()
        env.apply("spdadd 10.0.0.1 10.0.0.2 any -P out none ;\n")
        assert await wait_for(pilot, lambda: app.mirror.spd.total == 1)
        env.apply("delete 10.0.0.1 10.0.0.2 esp 0x1001 ;\nspdflush ;\n")
        assert await wait_for(pilot, lambda: app.mirror.spd.total == 0)  # the flush came after the delete
        lines = list(app.query_one(Log).lines)
        assert lines[0].startswith("1700000000.000000")
        assert any(line.startswith("00000000: 02 04 ") for line in lines)
        assert not any("type=19" in line.split("sadb_msg{")[-1] for line in lines if "sadb_msg{" in line)
        await pilot.press("w")
        app.screen.query_one("#path", Input).value = str(tmp_path / "rec.txt")
        await pilot.press("enter")
        assert await wait_for(pilot, (tmp_path / "rec.txt").exists)
        rec = (tmp_path / "rec.txt").read_text().splitlines()
        assert 0 < len(rec) == monitor.seen - monitor.cleared_at  # what came after `c` only
        when, hexdata = rec[-1].split(" ")
        assert when == "1700000000.000000" and bytes.fromhex(hexdata)[0] == 2


async def test_monitor_pause_buffer_is_bounded(env) -> None:
    from setkey_tui.tui.widgets import monitor as monitor_mod

    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        pane = app.query_one(MonitorPane)
        pane.toggle_pause()
        item = monitor_mod.Captured(bytes.fromhex("0200000200000000" + "00" * 8), 1.0, 2, 0)
        pane.feed([item] * (monitor_mod.PAUSE_BUFFER + 7))
        assert len(pane.waiting) == monitor_mod.PAUSE_BUFFER and pane.dropped == 7
        assert "7 dropped" in pane.status_text()


async def test_lost_messages_resync_and_failed_listener(env) -> None:
    env.apply(SA1)
    app = env.app(listen=False)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        env.apply(SA1.replace("0x1001", "0x1002"))
        assert app.mirror.sad.total == 1
        app.events.put(LostEvent("1 message(s) lost"))
        assert await wait_for(pilot, lambda: app.mirror.sad.total == 2)
        assert app.resyncs == 1
        notes = env.notes
        assert any("lost" in n and "reloading" in n for n in notes)
        app.events.put(FailedEvent("socket closed"))
        assert await wait_for(pilot, lambda: "listener stopped" in app.status)
        assert "socket closed" in str(app.query_one(Badge).render())
        await pilot.press("r")
        assert await wait_for(pilot, lambda: app.mirror.sad.total == 2)


async def test_help_palette_and_copy(env) -> None:
    env.apply(SA1)
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        commands = {c.title.split("  [")[0]: c for c in app.get_system_commands(app.screen)}
        titles = list(commands)
        await commands["Flush SPD"].callback()
        assert await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "Flush the SPD?" in app.screen.question
        await pilot.press("n")
        for needed in ("Add SA", "Add policy", "Delete", "Flush SAD", "Flush SPD", "Export", "Filter",
                       "Pause monitor", "Save recording", "Load example", "Theme"):
            assert any(t.startswith(needed) for t in titles), needed
        await pilot.press("y")
        notes = env.notes
        assert any("add 10.0.0.1 10.0.0.2 esp 0x1001" in n for n in notes)


async def test_newcomer_loads_example_with_one_key(env) -> None:
    app = env.app(kernel_label="simulated kernel (no PF_KEY here)")
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        assert any("load example" in n.lower() for n in env.notes)
        assert "l" not in app.screen.active_bindings  # never a bare key (issue 11 item 1)
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        await commands["Load example"].callback()
        assert await wait_for(pilot, lambda: app.mirror.sad.total == 8 and app.mirror.spd.total == 8)


async def test_lifetimes_count_down_and_expire(env) -> None:
    env.apply("add 10.0.0.1 10.0.0.2 esp 0x2001 -ls 30 -lh 60 -E aes-cbc 0x" + "11" * 16
                 + " -A hmac-sha1 0x" + "22" * 20 + " ;\n")
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        from setkey_tui.tui.cells import sa_cells, sa_condition

        row = app.mirror.sad.row_at(0)
        assert sa_cells(row, env.clock())[10:12] == ["30s", "1m00s"]
        assert sa_condition(row, env.clock()) == "warn"
        env.clock.t += 31
        env.host.tick()
        assert await wait_for(pilot, lambda: app.mirror.sad.row_at(0).state_name == "dying")
        env.clock.t += 30
        env.host.tick()
        assert await wait_for(pilot, lambda: app.mirror.sad.total == 0)


async def test_recording_replays_into_the_tables(env, tmp_path) -> None:
    from setkey_tui.kernel.replay import ReplayTransport
    from setkey_tui.pfkey.platform import LINUX
    from setkey_tui.tui.app import SetkeyApp

    app = env.app()
    path = tmp_path / "session.rec"
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        env.apply(SA1 + "spdadd 10.0.0.1 10.0.0.2 any -P out ipsec esp/transport//require ;\n")
        assert await wait_for(pilot, lambda: app.mirror.spd.total == 1)
        app.query_one(MonitorPane).save_recording(str(path))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    replay = SetkeyApp(lambda: ReplayTransport(path, LINUX), replay=True, now=env.clock)
    async with replay.run_test(size=SIZE) as pilot:
        assert await wait_for(pilot, lambda: replay.mirror.sad.total == 1 and replay.mirror.spd.total == 1)
        assert "replay" in str(replay.query_one(Badge).render())
        assert replay.mirror.sad.row_at(0).spi == 0x1001


async def test_full_receive_buffers_lose_nothing(env) -> None:
    """Small socket buffers: a burst of broadcasts overflows the request socket (ENOBUFS) and the listener's;
    the tables resynchronise with every row, and the next request still gets its answer."""
    env.host = sim_host(env.clock, rcvbuf=6000)
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        adds = "".join(SA1.replace("0x1001", hex(0x2000 + i)) for i in range(60))
        deletes = "".join(f"delete 10.0.0.1 10.0.0.2 esp {hex(0x2000 + i)} ;\n" for i in range(5, 60))
        env.apply(adds + deletes)

        def exact() -> bool:
            return app.status == "live" and app.mirror.sad.total == 5

        # The app reloads by itself once; when its own reload overflows the tiny buffers too it stops and says
        # so ("r reloads") rather than reload forever, and r (pressed at most three times) gets exact tables.
        assert await wait_for(pilot, lambda: app.resyncs >= 1 and (exact() or "r reloads" in app.status))
        for _ in range(3):
            if exact():
                break
            assert "r reloads" in app.status, app.status
            await pilot.press("r")
            assert await wait_for(pilot, lambda: exact() or "r reloads" in app.status)
        assert exact(), (app.resyncs, app.mirror.sad.total, app.status)
        await pilot.press("a")
        await fill(pilot, src="10.9.0.1", dst="10.9.0.2", spi="0x2345")
        await pilot.press("ctrl+r", "ctrl+s")
        assert await wait_for(pilot, lambda: not isinstance(app.screen, AddSAScreen))
        assert await wait_for(pilot, lambda: app.mirror.sad.total == 6)


async def test_reloads_do_not_loop_when_each_dump_overflows(env) -> None:
    """A dump whose own copies overflow the listener asks for a reload again: once at most, then it says so."""
    env.host = sim_host(env.clock, rcvbuf=100_000)
    env.apply("".join(SA1.replace("0x1001", hex(0x2000 + i)) for i in range(60)))
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        app.link.timer = timer = Clock(1000.0)  # the reload policy's seconds, stepped below
        for _ in range(6):  # losses one after the other, each taken and settled before the next
            app.events.put(LostEvent("test"))
            assert await wait_for(pilot, app.events.empty)
            assert await wait_for(pilot, lambda: app.status == "live" or "r reloads" in app.status), app.status
            timer.t += RESYNC_PAUSE  # a reload asked for during a reload is due
        assert RESYNC_GRACE > 5 * RESYNC_PAUSE  # the last loss comes 5 pauses after the first reload
        assert await wait_for(pilot, lambda: "r reloads" in app.status), app.status
        assert app.resyncs == 1 and app.mirror.sad.total == 60  # one reload after the loss, then no more
        assert "lost during the reload" in str(app.query_one(Badge).render())
        await pilot.press("r")
        assert await wait_for(pilot, lambda: app.status == "live") and app.resyncs == 2
