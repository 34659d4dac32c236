"""The scanner and the grammar: tokens as flex makes them, statements, diagnostics with line/column/token."""

from __future__ import annotations

import pytest

from setkey_tui.lang import SetkeyParseError, parse, parse_one
from setkey_tui.lang.lexer import K, tokenize
from setkey_tui.lang.policy import Policy, PolicyPriority, PolicyRequest
from setkey_tui.lang.statements import (
    AddressRange,
    DeleteAllStatement,
    DumpStatement,
    ExitStatement,
    FlushStatement,
    HostPort,
    SAOptions,
    SAStatement,
    SecurityContext,
    SPDDumpStatement,
    SPDFlushStatement,
    SPDStatement,
    SPDTaggedStatement,
)


def kinds(text: str) -> list[tuple[str, str]]:
    return [(t.kind, t.text) for t in tokenize(text)][:-1]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("esp esp-old esp-udp esp-x", [(K.PR_ESP, "esp"), (K.PR_ESP, "esp-old"), (K.PR_ESPUDP, "esp-udp"),
                                       (K.STRING, "esp-x")]),
        ("add add.example.com", [(K.ADD, "add"), (K.STRING, "add.example.com")]),
        ("10 10.0.0.1 0x10 0X1f 0x 135,0", [(K.DECSTRING, "10"), (K.STRING, "10.0.0.1"), (K.HEXSTRING, "0x10"),
                                           (K.HEXSTRING, "0X1f"), (K.STRING, "0x"), (K.STRING, "135,0")]),
        ("-4 -n6 -m -lh -ctx", [(K.F_AIFLAGS, "-4"), (K.F_AIFLAGS, "-n6"), (K.F_MODE, "-m"),
                                (K.F_LIFETIME_HARD, "-lh"), (K.SECURITY_CTX, "-ctx")]),
        ("fe80::1%lo [any] 10/8", [(K.STRING, "fe80::1%lo"), (K.BLCL, "["), (K.ANY, "any"), (K.ELCL, "]"),
                                   (K.DECSTRING, "10"), (K.SLASH, "/"), (K.DECSTRING, "8")]),
        ('"a key" # comment\n;', [(K.QUOTEDSTRING, "a key"), (K.EOT, ";")]),
        ("-E null -A null", [(K.F_ENC, "-E"), (K.ALG_ENC_NOKEY, "null"), (K.F_AUTH, "-A"),
                             (K.ALG_AUTH_NOKEY, "null")]),
        ("-E aes-cbc aes-cbc", [(K.F_ENC, "-E"), (K.ALG_ENC, "aes-cbc"), (K.STRING, "aes-cbc")]),
        ("-A tcp-md5 x", [(K.F_AUTH, "-A"), (K.STRING, "x")]),  # no PF_KEY number on Linux: swallowed
        ("-P out ipsec esp/transport//require;", [(K.F_POLICY, "-P"),
                                                  (K.PL_REQUESTS, " out ipsec esp/transport//require"),
                                                  (K.EOT, ";")]),
        ("$", [(K.ERROR, "$")]),
    ],
)
def test_tokens(text: str, expected: list[tuple[str, str]]) -> None:
    assert kinds(text) == expected


def test_line_counting_follows_flex() -> None:
    toks = tokenize('a\n"x\ny"\nb -P out\n none\n;')
    lines = {t.text: t.line for t in toks}
    assert lines["a"] == 1
    assert lines["b"] == 3  # a newline inside quotes is not counted, as in setkey
    assert lines[" out\n none\n"] == 5


def test_every_statement_kind() -> None:
    text = """
    add 10.0.0.1 10.0.0.2 esp 0x1000 -m tunnel -u 5 -E aes-cbc 0x00112233445566778899aabbccddeeff;
    get 10.0.0.1 10.0.0.2 esp 4096; delete 10.0.0.1 10.0.0.2 esp 4096;
    deleteall 10.0.0.1 10.0.0.2 esp; flush; flush ah; dump esp;
    spdadd 10.0.0.0/24[any] 10.0.1.0/24[80] tcp -P out ipsec esp/transport//require;
    spdupdate tagged "web" -P in none; spddelete 10.0.0.0/24 10.0.1.0/24 any -P out;
    spdflush; spddump; bye; flush;
    """
    stmts = parse(text)
    assert [type(s) for s in stmts] == [SAStatement, SAStatement, SAStatement, DeleteAllStatement,
                                       FlushStatement, FlushStatement, DumpStatement, SPDStatement,
                                       SPDTaggedStatement, SPDStatement, SPDFlushStatement, SPDDumpStatement,
                                       ExitStatement]
    add = stmts[0]
    assert isinstance(add, SAStatement)
    assert add.options == SAOptions(mode="tunnel", reqid=5)
    assert add.enc == "aes-cbc" and add.enc_key == bytes.fromhex("00112233445566778899aabbccddeeff")
    spd = stmts[7]
    assert spd == SPDStatement("spdadd", AddressRange("10.0.0.0", 24, "any"), AddressRange("10.0.1.0", 24, "80"),
                               "tcp", Policy("out", "ipsec", None, (PolicyRequest("esp", "transport",
                                                                                   level="require"),)))


def test_several_statements_per_line_and_multiline() -> None:
    stmts = parse("flush; spdflush; # comment ; not a statement\nadd 10.0.0.1\n  10.0.0.2 esp\n 0x100\n -E null\n;")
    assert len(stmts) == 3
    assert stmts[2].source is not None and stmts[2].source.end.line == 6


def test_keys_hex_odd_digits_and_quoted() -> None:
    s = parse_one('add 10.0.0.1 10.0.0.2 esp 0x100 -E des-cbc 0x123 -A hmac-md5 "0123456789abcdef";')
    assert isinstance(s, SAStatement)
    assert s.enc_key == b"\x01\x23"
    assert s.auth_key == b"0123456789abcdef"


def test_extensions_any_order_last_wins() -> None:
    s = parse_one("add 10.0.0.1 10.0.0.2 esp 0x100 -u 1 -m transport -u 2 -f zero-pad -f nocyclic-seq -r 200 "
                  '-lh 10 -ls 5 -bh 100 -bs 50 -ctx 1 2 "system_u" -E null;')
    assert isinstance(s, SAStatement)
    assert s.options == SAOptions("transport", 2, 200, ("zero-pad", "nocyclic-seq"), 10, 5, 100, 50,
                                  SecurityContext(1, 2, b"system_u"))


def test_ipv6_scope_ports_and_natt_oa() -> None:
    s = parse_one("add fe80::1%lo[4500] fe80::2%lo[any] esp-udp 10.1.1.1 0x100 -E null;")
    assert isinstance(s, SAStatement)
    assert s.src == HostPort("fe80::1%lo", "4500") and s.dst == HostPort("fe80::2%lo", "any")
    assert s.natt_oa == "10.1.1.1"


def test_policy_priorities() -> None:
    def prio(text: str) -> int:
        s = parse_one(f"spdadd 10.0.0.1 10.0.0.2 any -P {text};")
        assert isinstance(s, SPDStatement)
        return s.policy.priority_value()

    assert prio("out none") == 0x80000000
    assert prio("out prio 10 none") == 0x7FFFFFF6
    assert prio("out priority - 5 none") == 0x80000005
    assert prio("out prio high none") == 0x40000000
    assert prio("out prio low - 1 none") == 0xC0000001
    assert prio("out prio def + 3 none") == 0x7FFFFFFD
    assert prio("out") == 0
    s = parse_one("spdadd 10.0.0.1 10.0.0.2 any -P out prio low + 7 discard;")
    assert isinstance(s, SPDStatement)
    assert s.policy.priority == PolicyPriority("low", "+", 7)


def error_of(text: str) -> SetkeyParseError:
    with pytest.raises(SetkeyParseError) as info:
        parse(text)
    return info.value


@pytest.mark.parametrize(
    ("text", "message", "token", "line", "column"),
    [
        ("flush;\nadd 10.0.0.1 10.0.0.2 esp 0x100 -E bogus 0x00;", "syntax error", "bogus", 2, 36),
        ("add tunnel 10.0.0.2 esp 1 -E null;", "syntax error", "tunnel", 1, 5),
        ("add 10.0.0.1 10.0.0.2 esp 0x100 -E null -A hmac-md5;", "syntax error", ";", 1, 52),
        ("add 10.0.0.1 10.0.0.2 esp-old 0x100 -r 4 -E null;", "replay prevention cannot be used with ah/esp-old",
         "4", 1, 40),
        ("add 10.0.0.1 10.0.0.2 esp 0x1ffffffff -E null;", "SPI too big.", "0x1ffffffff", 1, 27),
        ("add 10.0.0.1 10.0.0.2 esp 99999999999 -E null;", "SPI too big.", "99999999999", 1, 27),
        ("add 10.0.0.1 10.0.0.2 esp 1 -E null; @", "Syntax error", "@", 1, 38),
        ("spdadd 10.0.0.1 10.0.0.2 icmp x,y -P out none;", "syntax error", ",", 1, 32),
        ("spdadd 10.0.0.1 10.0.0.2 nosuchproto -P out none;", "invalid upper layer protocol", "nosuchproto", 1, 26),
        ("spdadd 10.0.0.1 10.0.0.2 any -P out ipsec esp/tunnel/1.1.1.1-::1/require;", "Family mismatch",
         " out ipsec esp/tunnel/1.1.1.1-::1/require", 1, 32),
        ("spdadd 10.0.0.1 10.0.0.2 any -P in ipsec esp/transport/me-any/require;", "Invalid direction",
         " in ipsec esp/transport/me-any/require", 1, 32),
        ("spdadd 10.0.0.1 10.0.0.2 any -P out prio high + 1073741825 none;",
         "Priority offset from base not in valid range [0, 1073741823] for negative offsets and "
         "[0, 1073741824] for positive offsets", " out prio high + 1073741825 none", 1, 32),
        ("spdadd 10.0.0.1 10.0.0.2 any -P out ipsec esp/tunnel/1.1.1.1-nohost/require;", "Name or service not known",
         " out ipsec esp/tunnel/1.1.1.1-nohost/require", 1, 32),
        ("delete localhost 10.0.0.2 esp 1;", "multiple address specified", ";", 1, 32),
    ],
)
def test_diagnostics(text: str, message: str, token: str, line: int, column: int) -> None:
    e = error_of(text)
    assert (e.message, e.token, e.line, e.column) == (message, token, line, column)
    assert e.caret().splitlines()[1].index("^") == column - 1


def test_fatal_lexer_error_is_marked() -> None:
    assert error_of('add 10.0.0.1 10.0.0.2 esp 1 -E des-cbc "12345678;').fatal


def test_policy_error_carries_libipsec_line() -> None:
    e = error_of("spdadd 10.0.0.1 10.0.0.2 any -P out ipsec gre/transport//require;")
    assert e.message == "Invalid argument"
    assert e.stderr_lines == ('libipsec: syntax error while parsing "gre"',)


def test_policy_priority_is_checked_before_a_later_syntax_error() -> None:
    e = error_of("spdadd 10.0.0.1 10.0.0.2 any -P out prio 99999999999 none gre/x;")
    assert e.message == "Priority offset not in valid range [-2147483647, 2147483648]"
    e = error_of("spdadd 10.0.0.1 10.0.0.2 any -P out prio 1 none gre/x;")
    assert e.message == "Invalid argument"


def test_parse_one_wants_exactly_one() -> None:
    with pytest.raises(SetkeyParseError):
        parse_one("flush; flush;")


def test_empty_keys_are_written_back_as_empty_quoted_strings() -> None:
    s = parse_one('add 10.0.0.1 10.0.0.2 esp 0x100 -E aes-cbc "" -A hmac-sha1 "";')
    assert isinstance(s, SAStatement)
    assert (s.enc_key, s.auth_key) == (b"", b"")
    assert s.to_text() == 'add 10.0.0.1 10.0.0.2 esp 0x100 -E aes-cbc "" -A hmac-sha1 "";'
    assert parse_one(s.to_text()) == s
