"""The shipped table of statement/policy shapes is exactly what the pyparsing grammars give today."""

from __future__ import annotations

from pathlib import Path

import pytest

from setkey_tui.lang import shape_cache
from setkey_tui.lang.grammar import parse_with_grammar
from setkey_tui.lang.policy import parse_policy_shape


def test_regenerating_gives_the_shipped_table() -> None:
    shipped = shape_cache.TABLE_PATH.read_text(encoding="utf-8")
    assert shape_cache.generate() == shipped, "run: python -m setkey_tui.lang.shape_cache"


def test_shipped_entries_are_the_grammars_parses() -> None:
    assert shape_cache.statement("a" + "ss" + "e#" + "45#" + ";") == parse_with_grammar("asse#45#;")
    assert shape_cache.policy("daP/m//l") == parse_policy_shape("daP/m//l")


def test_a_shape_not_shipped_is_none() -> None:
    assert shape_cache.statement("aa;") is None
    assert shape_cache.statement("x\t;") is None
    assert isinstance(parse_with_grammar("aa;"), int)


def test_a_table_from_other_sources_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = tmp_path / "shape_table.txt"
    stale.write_text("fingerprint 0\nS\tx;\t{\"cmd\": 99}\n", encoding="utf-8")
    monkeypatch.setattr(shape_cache, "TABLE_PATH", stale)
    assert shape_cache.statement("x;") is None
    monkeypatch.undo()
    assert shape_cache.statement("x;") == parse_with_grammar("x;")
