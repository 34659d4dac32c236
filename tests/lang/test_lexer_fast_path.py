"""``Scanner.statement``'s fast path gives exactly the tokens ``Scanner.next`` gives, state for state."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from setkey_tui.lang.lexer import K, Scanner, Token

_PIECES = ["add", "spdadd", "get", "esp", "ah", "-E", "-A", "-C", "-P", "-m", "-u", "-4", "aes-cbc", "null",
           "hmac-sha256", "tcp-md5", "deflate", "tunnel", "out", "ipsec", "esp/tunnel/1.2.3.4-5.6.7.8/require",
           "10.0.0.1", "::1", "fe80::1%lo", "0x1000", "4096", "1,2", "0xZZ", "[500]", "/24", ";", '"quoted"',
           '"open', "#comment", "\n", " ", "\t", "any", "-", "é", "@",
           "-n46", "-4-", "-l", "-lh", "-ctx", "-Ex", "%x", ".x", ":x", "-f", "pad", "zero-pad", "3des-cbc", "  ",
           "des-deriv", "null;", ";;", "-P;", "x;y", "0x", "00", "12:34"]


def _by_next(text: str) -> list[list[Token]]:
    scanner, out, cur = Scanner(text), [], []
    while True:
        tok = scanner.next()
        cur.append(tok)
        if tok.kind in (K.EOT, K.EOF, K.ERROR):
            out.append(cur)
            cur = []
            if tok.kind == K.EOF:
                return out


def _by_statement(text: str) -> list[list[Token]]:
    scanner, out = Scanner(text), []
    while True:
        toks = scanner.statement()
        out.append(toks)
        if toks[-1].kind == K.EOF:
            return out


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=30), st.lists(st.sampled_from([" ", "", "\n", "  ", "\t"]), max_size=30))
def test_statement_agrees_with_next(pieces: list[str], seps: list[str]) -> None:
    text = "".join(p + (seps[i] if i < len(seps) else " ") for i, p in enumerate(pieces))
    assert _by_statement(text) == _by_next(text)


def test_a_common_script_agrees() -> None:
    text = ("add 10.0.0.1 10.0.0.2 esp 0x1000 -m tunnel -u 5 -E aes-cbc 0x0011 -A hmac-sha256 0x22;\n"
            "spdadd 10.0.0.0/24[any] 10.0.1.0/24 any -P out ipsec esp/tunnel/10.0.0.1-10.0.0.2/require;\n"
            "add 10.0.0.1 10.0.0.2 ah 4096 -A  tcp-md5 \"k\" ;  # done\n")
    assert _by_statement(text) == _by_next(text)


@pytest.mark.parametrize("text", [
    "add -4n 10.0.0.1 10.0.0.2 tcp 0x1000 -A tcp-md5 0x1234 ;add ::1 ::2 esp 5 -E null -A hmac-md5 0x12;\n",
    "add 1.1.1.1 1.1.1.2 esp 7 -m transport -f zero-pad -E des-deriv 0x1 -A null;get 1 2 esp 5 -E;\n",
    "add 1.1.1.1 1.1.1.2 esp 7 -E aes-cbc -A;-n- - -l %x .x :x;deleteall 1 2 esp;",
])
def test_plain_statements_agree(text: str) -> None:
    assert _by_statement(text) == _by_next(text)

