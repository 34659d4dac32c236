"""The -f fast path: its bytes are the general path's for every statement it takes, and a script reads the
same (output, diagnostics, line numbers) whichever path each statement took."""

from __future__ import annotations

import io
import socket

from hypothesis import given, settings
from hypothesis import strategies as st

from setkey_tui.kernel.choose import open_transport
from setkey_tui.lang.compile import compile_statement
from setkey_tui.lang.fastpath import ADD, SPDADD, FastAdd, FastSpdAdd
from setkey_tui.lang.grammar import build
from setkey_tui.lang.lexer import Scanner
from setkey_tui.pfkey.message import encode
from setkey_tui.pfkey.platform import LINUX
from setkey_tui.script import run_script
from tests.lang.conftest import PID, run

ENC = {"aes-cbc": (16, 24, 32), "3des-cbc": (24,), "rijndael-cbc": (16, 32), "aes-ctr": (20, 28, 36),
       "twofish-cbc": (16, 32), "cast128-cbc": (5, 16), "blowfish-cbc": (5, 56)}
AUTH = {"hmac-sha1": (20,), "hmac-sha256": (32,), "hmac-md5": (16,), "hmac-sha512": (64,)}


def general(text: str) -> list[bytes]:
    """The general path's messages for one statement."""
    toks = Scanner(text).statement()
    stmt = build(toks, text)
    return [encode(m, LINUX, pid=PID) for m in compile_statement(stmt, platform=LINUX)]


blank = st.text(alphabet=" \t\n", min_size=1, max_size=3)
ipv4 = st.integers(0, 2**32 - 1).map(lambda n: socket.inet_ntoa(n.to_bytes(4, "big")))
spi = st.integers(256, 2**32 - 1)


@st.composite
def statement_pairs(draw: st.DrawFn) -> tuple[str, str]:
    """Two statements of one shape (protocol, algorithms, key lengths), with different fields."""
    proto = draw(st.sampled_from(["esp", "ah"]))
    enc = draw(st.sampled_from(sorted(ENC))) if proto == "esp" else None
    enc_len = draw(st.sampled_from(ENC[enc])) if enc else 0
    auth = draw(st.sampled_from(sorted(AUTH))) if proto == "ah" or draw(st.booleans()) else None
    auth_len = draw(st.sampled_from(AUTH[auth])) if auth else 0

    def one() -> str:
        b = [draw(blank) for _ in range(8)]
        value = draw(spi)
        spi_text = hex(value) if draw(st.booleans()) else str(value)
        lead = draw(st.sampled_from(["", " ", "\n"]))
        text = f"{lead}add{b[0]}{draw(ipv4)}{b[1]}{draw(ipv4)}{b[2]}{proto}{b[3]}{spi_text}"
        if enc:
            text += f"{b[4]}-E{b[5]}{enc}{b[6]}0x{draw(st.binary(min_size=enc_len, max_size=enc_len)).hex()}"
        if auth:
            key = draw(st.binary(min_size=auth_len, max_size=auth_len)).hex()
            text += f"{b[7]}-A {auth} 0x{key.upper() if draw(st.booleans()) else key}"
        return text + draw(st.sampled_from(["", " ", "\n"])) + ";"

    return one(), one()


@settings(max_examples=300, deadline=None)
@given(statement_pairs())
def test_the_fast_path_sends_the_general_paths_bytes(pair: tuple[str, str]) -> None:
    first, second = pair
    fast = FastAdd(LINUX)
    m1, m2 = ADD.match(first), ADD.match(second)
    assert m1 is not None and m2 is not None and m1.end() == len(first) and m2.end() == len(second)
    assert fast.message(m1) is None  # no template before the first of its shape
    assert fast.learn(m1, general(first))
    assert fast.message(m2) == general(second)[0]


def test_forms_it_does_not_take_go_the_general_way() -> None:
    for text in ("add 10.0.0.01 10.0.0.2 esp 4096 -E aes-cbc 0x00112233445566778899aabbccddeeff;",  # octal-ish
                 "add 10.0.0.1 10.0.0.2 esp 4096 -m tunnel -E aes-cbc 0x00112233445566778899aabbccddeeff;",
                 "add 10.0.0.1 10.0.0.2 esp 4096 -E aes-cbc \"0123456789abcdef\";",
                 "add 10.0.0.1 10.0.0.2 esp 4096 -E aes-cbc 0x0011223;",  # odd digits
                 "add 10.0.0.1 10.0.0.2 esp 4096\r -E aes-cbc 0x00112233445566778899aabbccddeeff;",
                 "add 10.0.0.1 10.0.0.2 esp 0x00001000 -E aes-cbc 0x00112233445566778899aabbccddeeffaa;"):
        m = ADD.match(text)
        assert m is None or m.end() != len(text) or FastAdd(LINUX).message(m) is None


KEY = "0x00112233445566778899aabbccddeeff"


def test_a_script_mixing_both_paths_says_what_setkey_says_at_the_right_lines() -> None:
    lines = [f"add 10.0.0.1 10.0.0.{i} esp {4096 + i} -E aes-cbc {KEY};" for i in range(1, 5)]
    lines.insert(2, "# a comment\nadd 10.0.0.1\n 10.0.0.9 esp 0x10 -E aes-cbc " + KEY + ";")  # lines 3-4, warned
    lines.append(f"add 10.0.0.1 10.0.0.7 esp 5000 -E aes-cbc {KEY[:-2]};")  # line 8: bad key length
    r = run("\n".join(lines) + "\n")
    assert r.status == 1
    assert r.out == f"line 8: Invalid key length at [{KEY[:-2]}]\nparse failed, line 8.\n"
    assert "warning: line 5: SPI 16 is in the reserved range" in r.err
    assert len(r.sent) == 5
    assert r.sent == [general(s.replace("# a comment\n", ""))[0] for s in lines[:5]]


def test_kernel_errors_of_fast_statements_name_the_line_of_their_semicolon() -> None:
    text = (f"add 10.0.0.1 10.0.0.2 esp 4096 -E aes-cbc {KEY};\nadd 10.0.0.1 10.0.0.3 esp 4097 -E aes-cbc {KEY};\n"
            f"add 10.0.0.1 10.0.0.2 esp 4096\n -E aes-cbc {KEY};\n")
    kernel = open_transport("sim", platform=LINUX)
    out, err = io.StringIO(), io.StringIO()
    try:
        status = run_script(text, kernel, out=out, err=err, pid=PID)
    finally:
        kernel.close()
    assert (status, out.getvalue(), err.getvalue()) == (0, "The result of line 4: File exists.\n", "")


POLICIES = ["none", "discard", "ipsec esp/transport//require", "ipsec ah/transport//use esp/transport//require",
            "ipsec esp/tunnel/192.0.2.1-192.0.2.2/unique:7", "ipsec esp/transport//require  "]


@st.composite
def spdadd_pairs(draw: st.DrawFn) -> tuple[str, str]:
    """Two ``spdadd`` statements of one shape (direction, policy text) with different addresses."""
    direction = draw(st.sampled_from(["in", "out", "fwd"]))
    policy = draw(st.sampled_from(POLICIES))

    def one() -> str:
        b = [draw(blank) for _ in range(6)]
        return f"spdadd{b[0]}{draw(ipv4)}{b[1]}{draw(ipv4)}{b[2]}any{b[3]}-P{b[4]}{direction}{b[5]}{policy};"

    return one(), one()


def general_spd(text: str, kernel_mode: bool) -> list[bytes]:
    toks = Scanner(text).statement()
    stmt = build(toks, text)
    return [encode(m, LINUX, pid=PID)
            for m in compile_statement(stmt, platform=LINUX, kernel_mode=kernel_mode)]


@settings(max_examples=200, deadline=None)
@given(spdadd_pairs(), st.booleans())
def test_the_fast_spdadd_sends_the_general_paths_bytes(pair: tuple[str, str], kernel_mode: bool) -> None:
    first, second = pair
    fast = FastSpdAdd(LINUX)
    m1, m2 = SPDADD.match(first), SPDADD.match(second)
    assert m1 is not None and m2 is not None and m1.end() == len(first) and m2.end() == len(second)
    assert fast.messages(m1) is None
    assert fast.learn(m1, general_spd(first, kernel_mode), 0)
    made = fast.messages(m2)
    assert made is not None and made[0] == general_spd(second, kernel_mode)


def test_a_script_of_fast_spdadds_sends_what_the_general_path_sends() -> None:
    lines = [f"spdadd 10.0.0.1 10.0.1.{i} any -P in ipsec esp/transport//require;" for i in range(1, 5)]
    r = run("\n".join(lines) + "\nspdadd 10.0.0.1 10.0.2.1 any -P in ipsec bogus;\n")
    assert r.status == 1 and "line 5" in r.out
    assert r.sent == [m for s in lines for m in general_spd(s, False)]
