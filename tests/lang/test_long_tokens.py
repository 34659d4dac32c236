"""An error about a huge token (a 10 MB line) echoes a cut token and a cut source line, with a marker."""

from __future__ import annotations

from setkey_tui.lang.errors import TOKEN_SHOWN_MAX, SetkeyParseError, clip
from tests.lang.conftest import run

HUGE = 10_000_000


def test_syntax_error_on_a_10mb_token_is_short() -> None:
    r = run("flush;\nflush " + "x" * HUGE + " ;\n")
    assert r.status == 1
    shown = "x" * TOKEN_SHOWN_MAX + f"...({HUGE - TOKEN_SHOWN_MAX} more characters)"
    assert r.out == f"line 2: syntax error at [{shown}]\nparse failed, line 2.\n"
    assert len(r.err) < 2000
    picture = r.err.splitlines()
    assert picture[-2].startswith("flush xxx") and picture[-2].endswith(f"...({HUGE + 8 - 512} more characters)")
    assert picture[-1] == " " * 6 + "^"


def test_policy_error_on_a_10mb_word_is_short() -> None:
    r = run("spdadd 10.0.0.1 10.0.0.2 any -P out " + "y" * HUGE + ";")
    assert r.status == 1
    assert r.out.startswith("line 1: Invalid argument at [ out yyy")
    assert r.out.endswith(" more characters)]\nparse failed, line 1.\n")
    assert len(r.out) < 1000 and len(r.err) < 3000
    assert f'libipsec: syntax error while parsing "{"y" * TOKEN_SHOWN_MAX}...(' in r.err


def test_caret_under_a_token_deep_in_a_long_line() -> None:
    line = "a" * 5000 + " bad"
    exc = SetkeyParseError("syntax error", 1, 5002, "bad", source_line=line)
    text, caret = exc.caret().split("\n")
    assert text.startswith("...(4937 characters) ") and text[caret.index("^"):].startswith("bad")
    assert len(text) < 700


def test_short_tokens_are_echoed_whole() -> None:
    assert clip("x" * TOKEN_SHOWN_MAX) == "x" * TOKEN_SHOWN_MAX
    exc = SetkeyParseError("syntax error", 1, 3, "bad", source_line="a bad")
    assert exc.describe() == "line 1: syntax error at [bad]"
    assert exc.caret() == "a bad\n  ^"
