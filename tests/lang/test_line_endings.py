"""A carriage return is not a blank in setkey's lexer: CRLF or a lone CR is a fatal ``Syntax error`` at the
first CR, on every input path (``-f FILE``, ``-f -``, ``-c``), as the recorded case ``crlf`` shows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from setkey_tui.lang import SetkeyParseError, parse
from setkey_tui.lang.lexer import K, tokenize
from tests.lang.conftest import run

CRLF = b"flush;\r\nspdflush;\r\n"
LONE_CR = b"flush;\rspdflush;\n"
FLUSH_HEX = "02090000020000000000000000000000"


def test_the_scanner_has_no_rule_for_a_carriage_return() -> None:
    toks = tokenize("flush;\r\n")
    assert [(t.kind, t.text) for t in toks] == [(K.FLUSH, "flush"), (K.EOT, ";"), (K.ERROR, "\r"), (K.EOF, "")]
    # Inside a quoted string it is part of the string, as in flex's rule.
    assert tokenize('"a\r\nb"')[0].text == "a\r\nb"
    # Inside -P policy text too it is no blank.
    with pytest.raises(SetkeyParseError) as exc:
        parse("spdadd 10.0.0.1 10.0.0.2 any -P out\r\n none;")
    assert (exc.value.message, exc.value.token, exc.value.fatal) == ("Syntax error", "\r", True)


@pytest.mark.parametrize("text", [CRLF, LONE_CR], ids=["crlf", "lone-cr"])
def test_script_text_with_a_carriage_return_stops_at_it(text: bytes) -> None:
    r = run(text.decode())
    assert (r.status, r.out) == (1, "line 1: Syntax error at [\r]\n")
    assert len(r.sent) == 1  # the flush before the CR was sent, as setkey does


def _setkey_tui(*args: str, stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "setkey_tui", "-d", *args], input=stdin, capture_output=True,
                          timeout=60, check=False)


@pytest.mark.parametrize("text", [CRLF, LONE_CR], ids=["crlf", "lone-cr"])
@pytest.mark.parametrize(
    "path",
    [
        "file",
        "stdin-file",
        "stdin-c",
    ],
)
def test_every_input_path_agrees(path: str, text: bytes, tmp_path: Path) -> None:
    script = tmp_path / "crlf.conf"
    script.write_bytes(text)
    args = {"file": ("-f", str(script)), "stdin-file": ("-f", "-"), "stdin-c": ("-c",)}[path]
    done = _setkey_tui(*args, stdin=b"" if path == "file" else text)
    out = done.stdout.decode()
    assert out.startswith(FLUSH_HEX + "\n")
    assert "Syntax error at [\r]\n" in out
    assert "spdflush" not in out and "02130000" not in out  # nothing after the CR was run
    assert done.returncode == 1
