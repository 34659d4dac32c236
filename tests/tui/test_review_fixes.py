"""Rough edges found by using the TUI: empty filtered views, bad filters on Enter, form checks while other
fields are still wrong, the monitor's resume and recording file, protocol names."""

from __future__ import annotations

import os
import stat

from textual.widgets import Input, Label, Log

from setkey_tui.mirror import IPPROTO_NAMES, SARow, SPRow
from setkey_tui.scenarios import example_text
from setkey_tui.tui.filters import parse_filter
from setkey_tui.tui.formtext import SAForm, build_sa
from setkey_tui.tui.screenshots import apply_script
from setkey_tui.tui.widgets.monitor import FORMAT_PER_BATCH, MonitorPane
from tests.tui.conftest import wait_for
from tests.tui.test_flows import SA1, SIZE, started


def _line_text(table: object, y: int) -> str:
    return "".join(seg.text for seg in table.render_line(y))  # type: ignore[attr-defined]


async def test_filter_hiding_every_row_and_enter_on_a_bad_filter(env) -> None:
    apply_script(env.host, SA1)
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        table = app.query_one("#sad-table")
        pane = app.query_one("#sad-pane")
        assert "10.0.0.1" in _line_text(table, 1)
        pane.apply_filter("spi:0x9999")
        await pilot.pause()
        line = _line_text(table, 1)
        assert "No entry matches the filter (1 hidden" in line and "SAD is empty" not in line
        pane.apply_filter("")
        await pilot.pause()
        assert "10.0.0.1" in _line_text(table, 1)
        # Enter on a filter that does not parse keeps the input open, with the reason
        await pilot.press("slash", *"spi:zz", "enter")
        assert app.focused is not None and app.focused.id == "sad-filter"
        assert pane.has_class("filtering") and pane.has_class("filter-bad")
        assert "spi wants a number" in str(pane.query_one(".filter-error", Label).render())
        await pilot.press("backspace", "backspace", *"0x1001", "enter")
        assert app.focused is not None and app.focused.id == "sad-table"
        assert not pane.has_class("filter-bad") and len(app.mirror.sad) == 1


async def test_policy_form_shows_a_grammar_error_while_another_field_is_empty(env) -> None:
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        await pilot.press("p")
        form = app.screen
        form.fill(src="10.0.0.0/33x")  # the destination is still empty
        err = {fid: str(form.query_one(f"#err-{fid}", Label).render()) for fid in form.FIELD_IDS}
        assert "destination address is required" in err["dst"]
        assert err["src"].startswith("setkey: ") and "at [" in err["src"], err
        form.fill(src="10.0.0.0/8")
        assert str(form.query_one("#err-src", Label).render()) == ""


def test_sa_form_lifetime_beyond_64_bits_is_refused() -> None:
    form = SAForm(src="10.0.0.1", dst="10.0.0.2", spi="0x1000", enc="null", auth="none", soft="1",
                  hard=str(2**64))
    assert "0 to 18446744073709551615" in build_sa(form, ((), ())).errors["hard"]
    form.hard = str(2**64 - 1)
    assert "hard" not in build_sa(form, ((), ())).errors


async def test_resume_shows_what_waited_beyond_one_drain(env) -> None:
    apply_script(env.host, example_text())
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        monitor = app.query_one(MonitorPane)
        await pilot.press("c", "z")
        apply_script(env.host, ("flush ;\nspdflush ;\n" + example_text()) * 3)  # more than one drain formats
        assert await wait_for(pilot, lambda: len(monitor.waiting) > FORMAT_PER_BATCH)
        waiting = len(monitor.waiting)
        await pilot.press("z")
        lines = list(app.query_one(Log).lines)
        assert sum(line.startswith("sadb_msg{") for line in lines) == waiting
        assert "not shown" not in monitor.status_text()
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        await commands["Load example"].callback()  # the example again: one short sentence, not a line per entry
        assert await wait_for(pilot, lambda: any("already loaded" in n.message for n in app._notifications))


async def test_recording_and_export_are_private_even_over_an_existing_file(env, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    apply_script(env.host, SA1)
    rec, exported = tmp_path / "rec.txt", tmp_path / "out.conf"
    for p in (rec, exported):
        p.write_text("old")
        os.chmod(p, 0o644)
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        await pilot.press("w")
        app.screen.query_one("#path", Input).value = "~/rec.txt"
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("e")
        app.screen.query_one("#export-path", Input).value = "~/out.conf"
        await pilot.click("#yes")
        await pilot.pause()
    for p in (rec, exported):
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o600, p
        assert p.read_text() != "old"


def test_upper_layer_names_as_the_language_spells_them() -> None:
    assert IPPROTO_NAMES[47] == "gre" and IPPROTO_NAMES[58] == "icmp6" and IPPROTO_NAMES[255] == "any"
    assert IPPROTO_NAMES[0] == "ip" and IPPROTO_NAMES[132] == "sctp"


def test_spd_filter_by_upper_name() -> None:
    from setkey_tui.pfkey.extensions import AddressExt
    from setkey_tui.scenarios.synthetic import sp_message

    def with_upper(i: int, proto: int) -> SPRow:
        m = sp_message(i)
        return SPRow(m._replace(extensions=tuple(e._replace(proto=proto) if isinstance(e, AddressExt) else e
                                                 for e in m.extensions)))

    rows = [with_upper(1, 47), with_upper(2, 6), with_upper(3, 132)]
    pred = parse_filter("upper:gre", "spd")
    assert pred is not None and [r.upper_name for r in rows if pred(r)] == ["gre"]
    pred = parse_filter("upper:sctp", "spd")
    assert pred is not None and [r.upper for r in rows if pred(r)] == [132]


async def test_r_connects_again_after_the_kernel_socket_failed(env) -> None:
    apply_script(env.host, SA1)
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        old_service, old_listener = app.service, app.listener
        old_service.transport.close()  # the kernel connection breaks under the app
        await pilot.press("r")
        assert await wait_for(pilot, lambda: "dump failed" in app.status, 10), app.status
        assert app.link_broken and "r connects again" in app.status
        apply_script(env.host, SA1.replace("0x1001", "0x1002"))  # changes the app cannot see now
        await pilot.press("r")
        assert await wait_for(pilot, lambda: app.status == "live" and app.mirror.sad.total == 2, 10), app.status
        assert not app.link_broken
        assert app.service is not old_service and app.listener is not old_listener
        apply_script(env.host, SA1.replace("0x1001", "0x1003"))  # the new listener is live
        assert await wait_for(pilot, lambda: app.mirror.sad.total == 3, 10)


async def test_r_on_a_replay_says_there_is_nothing_to_dump(env, tmp_path) -> None:
    from setkey_tui.kernel.replay import ReplayTransport
    from setkey_tui.pfkey.platform import LINUX
    from setkey_tui.tui.app import SetkeyApp

    rec = tmp_path / "rec.txt"
    rec.write_text("")
    app = SetkeyApp(lambda: ReplayTransport(rec, LINUX), replay=True, now=env.clock)
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(pilot, app.loaded.is_set)
        await pilot.press("r")
        await pilot.pause()
        assert app.status != "reloading…" and not app._resyncing
        assert any("replay of a recording" in n.message for n in app._notifications)


async def test_detail_follows_the_entry_and_says_when_it_is_gone(env) -> None:
    from setkey_tui.tui.screens.detail import DetailScreen

    apply_script(env.host, SA1.replace("-u 5", "-u 5 -lh 100 -ls 50"))
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        await pilot.press("enter")
        detail = app.screen
        assert isinstance(detail, DetailScreen)
        def title() -> str:  # the screen follows every second; follow now rather than wait for the timer
            detail.follow()
            return str(detail.query_one(".detail-title", Label).render())

        assert "(mature)" in title()
        env.clock.t += 60  # past the soft lifetime: the kernel sends the soft EXPIRE
        assert await wait_for(pilot, lambda: "(dying)" in title(), 4), title()
        assert "state=dying" in str(detail.query_one("#detail-dump").render())
        env.clock.t += 60  # past the hard lifetime: the SA goes
        assert await wait_for(pilot, lambda: "gone from the kernel" in title(), 4), title()
        await pilot.press("k")  # the last known state can still be read
        assert "0x00112233445566778899aabbccddeeff" in str(detail.query_one("#detail-statement").render())


def test_example_problems_are_short() -> None:
    from setkey_tui.tui.app import example_problems

    twice = "\n".join(f"The result of line {n}: File exists." for n in range(1, 20))
    assert example_problems(twice).startswith("The example is already loaded")
    mixed = "\n".join(f"The result of line {n}: Invalid argument." for n in range(1, 9))
    assert example_problems(mixed).splitlines() == [*mixed.splitlines()[:5], "… and 3 more"]
    assert example_problems("line 3: syntax error at [x]") == "line 3: syntax error at [x]"


def _odd_rows() -> tuple[SARow, SPRow]:
    from setkey_tui.pfkey.extensions import PolicyExt, SAExt
    from setkey_tui.scenarios.synthetic import sa_message, sp_message

    sa = sa_message(1)
    sa = sa._replace(extensions=tuple(e._replace(auth=99) if isinstance(e, SAExt) else e for e in sa.extensions))
    sp = sp_message(1)
    sp = sp._replace(extensions=tuple(e._replace(dir=0) if isinstance(e, PolicyExt) else e for e in sp.extensions))
    return SARow(sa), SPRow(sp)


def test_entries_the_language_cannot_express_become_comments() -> None:
    from setkey_tui.tui.ops import export_text, statement_of

    sa, sp = _odd_rows()
    assert statement_of(sa, with_keys=True) == ("# no setkey statement can recreate this entry: authentication "
                                                "algorithm 99 has no setkey name\n")
    assert "policy direction 0" in statement_of(sp, with_keys=False)
    text = export_text([sa], [sp], with_keys=False)
    assert all(line.startswith("#") for line in text.splitlines())


async def test_detail_copy_and_delete_of_an_inexpressible_entry_do_not_crash(env) -> None:
    from setkey_tui.tui.screens.detail import DetailScreen
    from setkey_tui.tui.screens.dialogs import ConfirmScreen

    sa, _ = _odd_rows()
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        app.mirror.sad.upsert(sa)
        app._sync_tables()
        await pilot.press("y")
        assert any("no setkey statement" in n.message for n in app._notifications)
        await pilot.press("enter")
        assert isinstance(app.screen, DetailScreen)
        assert "no setkey statement" in str(app.screen.query_one("#detail-statement").render())
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n", "escape")
        assert app.is_running
