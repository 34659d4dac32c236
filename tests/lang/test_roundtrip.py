"""Properties: statements built from the language's own vocabulary survive to_text → parse unchanged,
and no input whatsoever makes the parser raise anything but SetkeyParseError."""

from __future__ import annotations

import io
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from setkey_tui.lang import SetkeyParseError, parse, parse_one
from setkey_tui.lang.lexer import AUTH_WORDS, ENC_WORDS, KEYWORDS
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
from setkey_tui.script import run_script

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

v4 = st.ip_addresses(v=4).map(str)
v6 = st.ip_addresses(v=6).map(str)
host = v4 | v6
u32 = st.integers(0, 2**32 - 1)
u8 = st.integers(0, 255)
port = st.none() | st.just("any") | st.integers(0, 65535).map(str)
key = st.binary(min_size=0, max_size=40)
PROTOCOLS = ["esp", "esp-old", "ah", "ah-old", "ipcomp", "esp-udp", "tcp"]
PADS = ["zero-pad", "random-pad", "seq-pad", "nocyclic-seq"]
label = st.text(string.ascii_letters + "_:", min_size=0, max_size=12).map(str.encode)
ctx = st.builds(SecurityContext, st.integers(0, 255), st.integers(0, 255), label)


@st.composite
def sa_statements(draw: st.DrawFn) -> SAStatement:
    command = draw(st.sampled_from(["add", "get", "delete"]))
    six = draw(st.booleans())
    h = v6 if six else v4
    protocol = draw(st.sampled_from([None, *PROTOCOLS]))
    old = protocol in ("esp-old", "ah-old")
    options = SAOptions(
        mode=draw(st.sampled_from([None, "transport", "tunnel", "any"])),
        reqid=draw(st.none() | u32),
        replay=None if old else draw(st.none() | u8),
        flags=tuple(draw(st.lists(st.sampled_from(PADS), max_size=3))),
        hard_time=draw(st.none() | u32), soft_time=draw(st.none() | u32),
        hard_bytes=draw(st.none() | u32), soft_bytes=draw(st.none() | u32),
        ctx=draw(st.none() | ctx),
    )
    fields: dict[str, object] = {}
    if command == "add":
        kind = draw(st.sampled_from(["enc", "enc+auth", "auth", "comp"]))
        if kind.startswith("enc"):
            names = [n for n in ENC_WORDS if not (n == "des-deriv" and old) and not (n == "des-32iv" and not old)]
            enc = draw(st.sampled_from(names))
            fields["enc"] = enc
            fields["enc_key"] = None if enc in ("null", "simple") else draw(key)
        if kind in ("auth", "enc+auth"):
            auth = draw(st.sampled_from(sorted(AUTH_WORDS)))
            fields["auth"] = auth
            fields["auth_key"] = None if auth == "null" else draw(key)
        if kind == "comp":
            fields["comp"] = draw(st.sampled_from(["oui", "deflate", "lzs"]))
            fields["rawcpi"] = draw(st.booleans())
    return SAStatement(
        command, HostPort(draw(h), draw(port)), HostPort(draw(h), draw(port)), protocol, draw(u32),
        ai_flags=tuple(draw(st.lists(st.sampled_from(["-n", "-4" if not six else "-6", "-n4" if not six else "-6n"]),
                                     max_size=2))),
        natt_oa=draw(st.none() | h) if protocol == "esp-udp" else None,
        options=options, **fields,  # type: ignore[arg-type]
    )


@st.composite
def requests(draw: st.DrawFn, direction: str, action: str) -> PolicyRequest:
    mode = draw(st.sampled_from(["transport", "tunnel"]))
    slashes = draw(st.integers(0, 2))
    endpoints = src = dst = None
    sport = dport = None
    if slashes:
        choices = ["addr"]
        if not (action == "ipsec" and mode == "tunnel"):
            choices += ["none"] + (["me-any"] if direction == "out" else []) + (["any-me"] if direction == "in" else [])
        endpoints = draw(st.sampled_from(choices))
        if endpoints == "none":
            endpoints = None
        if endpoints == "addr":
            h = draw(st.sampled_from([v4, v6]))
            src, dst = draw(h), draw(h)
            if draw(st.booleans()):
                sport, dport = draw(st.integers(0, 65535)), draw(st.integers(0, 65535))
    elif action == "ipsec" and mode == "tunnel":
        mode = "transport"
    level = reqid = None
    if slashes == 2:
        level = draw(st.sampled_from(["default", "use", "require", "unique", None] if endpoints else
                                     ["default", "use", "require", "unique"]))
        if level == "unique" and draw(st.booleans()):
            reqid = draw(st.integers(0, 2**31))
    return PolicyRequest(draw(st.sampled_from(["esp", "ah", "ipcomp"])), mode, endpoints, src, dst, sport, dport,
                         level, reqid, slashes)


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    direction = draw(st.sampled_from(["in", "out", "fwd"]))
    if draw(st.integers(0, 5)) == 0:
        return Policy(direction)
    action = draw(st.sampled_from(["discard", "none", "ipsec", "entrust", "bypass"]))
    priority = draw(st.none() | st.builds(PolicyPriority, st.none(), st.sampled_from(["", "-"]),
                                          st.integers(0, 2**31 - 1))
                    | st.builds(PolicyPriority, st.sampled_from(["low", "def", "high"]), st.just(""), st.none())
                    | st.builds(PolicyPriority, st.sampled_from(["low", "def", "high"]), st.sampled_from(["+", "-"]),
                                st.integers(0, 0x3FFFFFFF)))
    reqs = draw(st.lists(requests(direction, action), max_size=3))
    return Policy(direction, action, priority, tuple(reqs))


@st.composite
def spd_statements(draw: st.DrawFn) -> SPDStatement:
    h = draw(st.sampled_from([v4, v6]))
    upper, misc = draw(st.sampled_from([("any", None), ("tcp", None), ("udp", None), ("17", None),
                                        ("icmp", "8,0"), ("icmp6", "135,0"), ("gre", "1.2.3.4"), ("ip4", None)]))
    return SPDStatement(
        draw(st.sampled_from(["spdadd", "spdupdate", "spddelete"])),
        AddressRange(draw(h), draw(st.none() | st.integers(0, 128)), draw(port)),
        AddressRange(draw(h), draw(st.none() | st.integers(0, 128)), draw(port)),
        upper, draw(policies()), misc=misc, ctx=draw(st.none() | ctx),
    )


protocol_or_none = st.sampled_from([None, *PROTOCOLS])
statements = st.one_of(
    sa_statements(),
    spd_statements(),
    st.builds(SPDTaggedStatement, st.sampled_from(["spdadd", "spdupdate"]),
              st.text(string.ascii_letters + string.digits + " -_", max_size=15), policies()),
    st.builds(DeleteAllStatement, v4, v4, protocol_or_none),
    st.builds(FlushStatement, protocol_or_none),
    st.builds(DumpStatement, protocol_or_none),
    st.just(SPDFlushStatement()),
    st.just(SPDDumpStatement()),
    st.builds(ExitStatement, st.sampled_from(["exit", "quit", "bye"])),
)


@SETTINGS
@given(statements)
def test_statement_text_round_trip(stmt: object) -> None:
    text = stmt.to_text()  # type: ignore[attr-defined]
    assert parse_one(text) == stmt


@SETTINGS
@given(st.lists(statements, min_size=1, max_size=5))
def test_scripts_round_trip(stmts: list[object]) -> None:
    body = [s for s in stmts if not isinstance(s, ExitStatement)]
    text = "\n".join(s.to_text() for s in body)  # type: ignore[attr-defined]
    assert parse(text) == body


VOCABULARY = sorted(KEYWORDS) + sorted(ENC_WORDS) + sorted(AUTH_WORDS) + [
    "-4", "-6", "-n", "-m", "-u", "-f", "-r", "-lh", "-ls", "-bh", "-bs", "-ctx", "-E", "-A", "-C", "-R", "-P",
    ";", "/", "[", "]", "10.0.0.1", "::1", "fe80::1%lo", "0x10", "0x", "42", "8,0", '"key"', '"', "#", "\n",
    "out", "in", "ipsec", "esp/transport//require", "prio", "+", "-", "unique:3", "localhost", "$", "\r", "é",
    "9" * 5000, "0" * 30 + "7", "0x" + "f" * 5000, "icmp", "gre", "1,2", "-" + "9" * 30 + ",5", "[" + "9" * 40 + "]",
    "unique:" + "9" * 5000, "esp/tunnel/1.1.1.1[" + "9" * 5000 + "]-2.2.2.2[1]/use",
]


@SETTINGS
@given(st.lists(st.sampled_from(VOCABULARY), max_size=30).map(" ".join))
def test_token_soup_only_gives_diagnostics(text: str) -> None:
    try:
        parse(text)
    except SetkeyParseError as exc:
        assert exc.message is not None and exc.line >= 1


@SETTINGS
@given(st.text(max_size=80) | st.binary(max_size=80).map(lambda b: b.decode("latin-1")))
def test_random_text_only_gives_diagnostics(text: str) -> None:
    try:
        parse(text)
    except SetkeyParseError:
        pass


@SETTINGS
@given(st.lists(st.sampled_from(VOCABULARY + ["0x" + "ab" * 9000]), max_size=30).map(" ".join), st.booleans())
def test_dry_run_of_any_input_never_raises(text: str, stdin_mode: bool) -> None:
    out, err = io.StringIO(), io.StringIO()
    status = run_script(text, None, dry_run=True, stdin_mode=stdin_mode, out=out, err=err)
    assert status in (0, 1)
