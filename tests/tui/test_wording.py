"""Small words on the screens: singular counts, SPI width, priority words, columns that fit."""

from __future__ import annotations

from setkey_tui.mirror import SARow
from setkey_tui.pfkey.constants import ExtType, SAType
from setkey_tui.scenarios.synthetic import sa_message
from setkey_tui.tui.cells import fit_columns, sa_cells, short_priority
from setkey_tui.tui.screens.dialogs import policies, sas
from tests.tui.helpers import settle, wait_for
from tests.tui.test_snapshots import example_app


def test_counts_are_singular_for_one() -> None:
    assert (sas(1), sas(0), sas(3), policies(1), policies(2)) == ("1 SA", "0 SAs", "3 SAs", "1 policy",
                                                                  "2 policies")


async def test_flush_dialog_says_one_sa_in_the_singular() -> None:
    app = example_app()
    async with app.run_test(size=(140, 42)) as pilot:
        await settle(pilot)
        await pilot.press("f")
        select = app.screen.query_one("#flush-proto")
        select.value = int(SAType.AH)
        shown = select.query_one("SelectCurrent").query_one("Static")
        assert await wait_for(pilot, lambda: "ah (1 SA)" in str(shown.render()))


def test_every_spi_has_eight_digits() -> None:
    msg = sa_message(1)
    ipcomp = SARow(msg._replace(satype=SAType.IPCOMP, extensions=tuple(
        e._replace(spi=0x5001) if e.ext_type == ExtType.SA else e for e in msg.extensions)))
    assert sa_cells(ipcomp, 0)[3] == "0x00005001"


def test_priority_words_as_setkey_writes_them() -> None:
    assert [short_priority(p) for p in (0x80000000, 0x80000000 - 10, 0x80000000 + 5, 0x40000000, 0)] == [
        "def", "def+10", "def-5", "high", "0"]


def test_narrow_tables_keep_the_important_columns() -> None:
    names = ["src", "dst", "proto", "spi", "mode", "reqid", "enc", "auth", "state", "age", "soft", "hard", "bytes"]
    widths = [18, 18, 6, 10, 9, 6, 13, 14, 7, 8, 9, 9, 10]
    assert fit_columns(names, widths, 200) == list(enumerate(widths))
    shown = fit_columns(names, widths, 80)
    assert [names[i] for i, _ in shown] == ["src", "dst", "proto", "spi", "state", "soft", "hard"]
    assert sum(w + 1 for _, w in shown) + 2 <= 80


async def test_marked_rows_do_not_look_like_expiring_ones(env) -> None:
    from setkey_tui.scenarios import example_text
    from setkey_tui.tui.screens.help import help_markdown

    env.apply(example_text())
    app = env.app()
    async with app.run_test(size=(150, 45)) as pilot:
        await settle(pilot)
        table = app.query_one("#sad-table")
        warn = table.get_component_rich_style("entry-table--warn")
        marked = table.get_component_rich_style("entry-table--marked")
        assert marked.bgcolor is not None and marked.bgcolor != warn.bgcolor and marked.color != warn.color
        await pilot.press("space")
        assert table.cursor == 1 and len(table.marked) == 1  # marks, then moves down
        first = table.render_line(1)
        assert first.text.lstrip().startswith("*") and any(seg.style.bgcolor == marked.bgcolor for seg in first)
    assert "move down" in help_markdown() and "`*`" in help_markdown()


async def test_at_80x24_the_footer_keeps_help_and_quit_and_the_table_its_state_and_lifetimes() -> None:
    from textual.widgets import Footer

    app = example_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        keys = [k for k in app.screen.query_one(Footer).children if getattr(k, "action", None)]
        assert [k.action.removeprefix("app.") for k in keys[:2]] == ["help", "quit"]
        assert all(k.region.right <= 80 for k in keys[:2])
        header = app.query_one("#sad-table").render_line(0).text
        for title in ("Source", "Destination", "SPI", "State", "Soft in", "Hard in"):
            assert title in header, header
