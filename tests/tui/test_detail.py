"""The detail screen: follows its entry, says when it is gone, reads like `ip xfrm state`; entries the
language cannot express."""

from __future__ import annotations

from textual.widgets import Label

from setkey_tui.mirror import IPPROTO_NAMES, SARow, SPRow
from tests.tui.helpers import wait_for
from tests.tui.test_flows import SA1, SIZE, started


def test_upper_layer_names_as_the_language_spells_them() -> None:
    assert IPPROTO_NAMES[47] == "gre" and IPPROTO_NAMES[58] == "icmp6" and IPPROTO_NAMES[255] == "any"
    assert IPPROTO_NAMES[0] == "ip" and IPPROTO_NAMES[132] == "sctp"


async def test_detail_follows_the_entry_and_says_when_it_is_gone(env) -> None:
    from setkey_tui.tui.screens.detail import DetailScreen

    env.apply(SA1.replace("-u 5", "-u 5 -lh 100 -ls 50"))
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
        assert any("no setkey statement" in n for n in env.notes)
        await pilot.press("enter")
        assert isinstance(app.screen, DetailScreen)
        assert "no setkey statement" in str(app.screen.query_one("#detail-statement").render())
        await pilot.press("d")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n", "escape")
        assert app.is_running
