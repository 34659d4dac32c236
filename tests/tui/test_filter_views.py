"""The `/` filter: an empty filtered view says why, a filter that does not parse shows where, names of
upper-layer protocols."""

from __future__ import annotations

from textual.widgets import Label

from setkey_tui.mirror import SPRow
from setkey_tui.tui.filters import FilterError, parse_filter
from setkey_tui.tui.widgets.table_pane import marked_error
from tests.tui.helpers import wait_for
from tests.tui.test_flows import SA1, SIZE, started


def _line_text(table: object, y: int) -> str:
    return "".join(seg.text for seg in table.render_line(y))  # type: ignore[attr-defined]


async def test_filter_hiding_every_row_and_enter_on_a_bad_filter(env) -> None:
    env.apply(SA1)
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        table = app.query_one("#sad-table")
        pane = app.query_one("#sad-pane")
        assert "10.0.0.1" in _line_text(table, 1)
        pane.apply_filter("spi:0x9999")
        assert await wait_for(pilot, lambda: "No entry matches the filter (1 hidden" in _line_text(table, 1))
        assert "SAD is empty" not in _line_text(table, 1)
        pane.apply_filter("")
        assert await wait_for(pilot, lambda: "10.0.0.1" in _line_text(table, 1))
        # Enter on a filter that does not parse keeps the input open, with the reason
        await pilot.press("slash", *"spi:zz", "enter")
        assert app.focused is not None and app.focused.id == "sad-filter"
        assert pane.has_class("filtering") and pane.has_class("filter-bad")
        assert "spi wants a number" in str(pane.query_one(".filter-error", Label).render())
        await pilot.press("backspace", "backspace", *"0x1001", "enter")
        assert app.focused is not None and app.focused.id == "sad-table"
        assert not pane.has_class("filter-bad") and len(app.mirror.sad) == 1


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


async def test_a_filter_that_does_not_parse_shows_its_faulty_word_and_no_stale_rows(env) -> None:
    from setkey_tui.scenarios import example_text

    env.apply(example_text())
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        await pilot.press("2", "slash", *"dir:sideways")  # "dir" alone matched rows a keystroke before
        pane = app.query_one("#spd-pane")
        table = app.query_one("#spd-table")
        assert pane.has_class("filter-bad") and len(app.mirror.spd) == 0
        error = pane.query_one(".filter-error", Label).render()
        assert str(error) == "dir:sideways  ← dir:sideways: dir is one of in, out, fwd, any"
        marked = marked_error("dir:sideways", FilterError("x"))
        assert str(marked) == "x"  # no word known: the reason alone
        try:
            parse_filter("!dir:out dir:sideways", "spd")
        except FilterError as exc:
            marked = marked_error("!dir:out dir:sideways", exc)
        assert [(str(marked)[sp.start:sp.end], str(sp.style)) for sp in marked.spans] == [("dir:sideways",
                                                                                          "bold reverse")]
        assert "The filter does not parse: dir:sideways" in _line_text(table, 1)
        assert "does not parse: no rows shown" in str(pane.query_one(".filter-summary", Label).render())
        await pilot.press(*["backspace"] * 8, *"out")
        assert not pane.has_class("filter-bad") and len(app.mirror.spd) == 4


async def test_sort_by_any_column_with_one_key_or_from_the_palette(env) -> None:
    from setkey_tui.scenarios import example_text
    from setkey_tui.tui.screens.sort import SortCommands, SortScreen, column_keys

    assert column_keys(["Source", "Destination", "Proto", "SPI", "State", "Soft in", "Hard in"]) == [
        "s", "d", "p", "i", "t", "o", "h"]
    env.apply(example_text())
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        sad = app.mirror.sad
        await pilot.press("s")
        assert isinstance(app.screen, SortScreen)
        assert "h  Hard in" in [str(o.prompt) for o in app.screen.query_one("#sort-columns").options]
        await pilot.press("h")
        assert sad.sort_column.name == "hard" and not sad.reverse
        await pilot.press("s", "h")  # the same column again: reversed
        assert sad.sort_column.name == "hard" and sad.reverse
        provider = SortCommands(app.screen)
        hits = [hit async for hit in provider.search("sort spd by priority")]
        assert hits and str(hits[0].text) == "Sort SPD by Priority"
        hits[0].command()
        assert app.mirror.spd.sort_column.name == "prio"


async def test_n_and_shift_n_walk_the_filter_matches(env) -> None:
    from setkey_tui.scenarios import example_text

    env.apply(example_text())
    app = env.app()
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, app)
        table = app.query_one("#sad-table")
        pane = app.query_one("#sad-pane")
        await pilot.press("n")
        assert table.cursor == 0  # no filter: n does nothing
        await pilot.press("slash", *"proto:esp", "enter")
        assert len(app.mirror.sad) == 6
        await pilot.press("n", "n")
        assert table.cursor == 2
        assert "match 3 of 6 (8 in all" in str(pane.query_one(".filter-summary", Label).render())
        await pilot.press("N", "N", "N")
        assert table.cursor == 5  # round the start to the last match
