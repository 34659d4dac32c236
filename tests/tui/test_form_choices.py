"""Every word the Add SA and Add policy forms offer is a word of the setkey language, and it compiles to the
number the constants' table gives it (the choices are derived from those tables, not written twice)."""

from __future__ import annotations

import pytest

from setkey_tui.algorithms import LINUX_SUPPORTED_AUTH, LINUX_SUPPORTED_ENCRYPT, find_alg
from setkey_tui.lang.compile import compile_statement
from setkey_tui.lang.grammar import parse
from setkey_tui.pfkey.constants import (
    AUTH_ALGS,
    COMP_ALGS,
    DIRECTIONS,
    ENC_ALGS,
    IPSEC_PROTOS,
    LEVELS,
    MODES,
    POLICY_TYPES,
    SA_TYPES,
    ExtType,
    MsgType,
    SAType,
)
from setkey_tui.pfkey.extensions import PolicyExt, SA2Ext, SAExt
from setkey_tui.pfkey.message import Message
from setkey_tui.tui.formtext import (
    ACTION_WORDS,
    AUTH_CHOICES,
    AUTH_NONE,
    COMP_CHOICES,
    DIRECTION_WORDS,
    ENC_CHOICES,
    LEVEL_WORDS,
    REQUEST_MODE_WORDS,
    REQUEST_PROTOCOL_WORDS,
    SA_MODE_WORDS,
    SA_PROTOCOL_WORDS,
    UPPER_NAMES,
    SAForm,
    SPForm,
    build_sa,
    build_sp,
    random_key,
)

SUP = (LINUX_SUPPORTED_AUTH, LINUX_SUPPORTED_ENCRYPT)
ANY_KEY = "0x" + "ab" * 16  # for an algorithm this kernel table lacks: the grammar does not check its length


def _sa_form(**fields: str) -> SAForm:
    f = SAForm(**{"src": "10.0.0.1", "dst": "10.0.0.2", "spi": "0x1000", **fields})
    for which, algs in (("enc", LINUX_SUPPORTED_ENCRYPT), ("auth", LINUX_SUPPORTED_AUTH)):
        word = getattr(f, which)
        table = ENC_ALGS if which == "enc" else AUTH_ALGS
        number = table.value(word)
        supported = find_alg(algs, number) is not None
        setattr(f, f"{which}_key", (random_key(number, algs) if supported else ANY_KEY) or ANY_KEY)
    return f


def _compiled(text: str) -> list[Message]:
    return [m for st in parse(text) for m in compile_statement(st, supported=SUP, kernel_mode=False)]


def _sa_ext(msgs: list[Message]) -> SAExt:
    (msg,) = msgs
    assert msg.type == MsgType.ADD
    ext = msg.get(ExtType.SA)
    assert isinstance(ext, SAExt)
    return ext


@pytest.mark.parametrize("proto", SA_PROTOCOL_WORDS)
def test_each_sa_protocol_compiles_to_its_satype(proto: str) -> None:
    (msg,) = _compiled(build_sa(_sa_form(proto=proto), SUP).text)
    assert msg.satype == SA_TYPES.value(proto)


@pytest.mark.parametrize("mode", SA_MODE_WORDS)
def test_each_sa_mode_compiles_to_its_number(mode: str) -> None:
    (msg,) = _compiled(build_sa(_sa_form(mode=mode), SUP).text)
    sa2 = msg.get(ExtType.X_SA2)
    assert isinstance(sa2, SA2Ext) and sa2.mode == MODES.value(mode)


@pytest.mark.parametrize("enc", ENC_CHOICES)
def test_each_encryption_choice_compiles_to_its_number(enc: str) -> None:
    b = build_sa(_sa_form(enc=enc), SUP)
    assert not b.errors
    assert _sa_ext(_compiled(b.text)).encrypt == ENC_ALGS.value(enc)


@pytest.mark.parametrize("auth", [a for a in AUTH_CHOICES if find_alg(LINUX_SUPPORTED_AUTH, AUTH_ALGS.value(a))])
def test_each_authentication_choice_compiles_to_its_number(auth: str) -> None:
    b = build_sa(_sa_form(auth=auth), SUP)
    assert not b.errors
    assert _sa_ext(_compiled(b.text)).auth == AUTH_ALGS.value(auth)


@pytest.mark.parametrize("auth", [a for a in AUTH_CHOICES if not find_alg(LINUX_SUPPORTED_AUTH, AUTH_ALGS.value(a))])
def test_an_authentication_choice_linux_lacks_is_said_at_its_field(auth: str) -> None:
    b = build_sa(_sa_form(auth=auth), SUP)
    if auth == AUTH_NONE:  # no -A at all: ESP with encryption only
        assert not b.errors and " -A " not in b.text
        assert _sa_ext(_compiled(b.text)).auth == AUTH_ALGS.value(auth)
    else:  # keyed-md5, keyed-sha1, tcp-md5: the Linux REGISTER table has none of them
        assert b.errors == {"auth_key": f"this kernel does not offer {auth}"}


@pytest.mark.parametrize("comp", COMP_CHOICES)
def test_each_compression_choice_compiles_to_its_number(comp: str) -> None:
    b = build_sa(_sa_form(proto=SA_TYPES.name(SAType.IPCOMP), comp=comp, spi="0x4000"), SUP)
    assert not b.errors
    assert _sa_ext(_compiled(b.text)).encrypt == COMP_ALGS.value(comp)  # IPComp's algorithm rides in encrypt


def _policy(**fields: str) -> PolicyExt:
    f = SPForm(src="10.0.0.0/24", dst="10.0.1.0/24", tsrc="192.0.2.1", tdst="192.0.2.2", **fields)
    b = build_sp(f)
    assert not b.errors
    msg = _compiled(b.text)[0]  # (an "in" policy is followed by its fwd copy)
    ext = msg.get(ExtType.X_POLICY)
    assert isinstance(ext, PolicyExt)
    return ext


@pytest.mark.parametrize("direction", DIRECTION_WORDS)
def test_each_direction_compiles_to_its_number(direction: str) -> None:
    assert _policy(direction=direction).dir == DIRECTIONS.value(direction)


@pytest.mark.parametrize("action", ACTION_WORDS)
def test_each_action_compiles_to_its_number(action: str) -> None:
    assert _policy(action=action).policy_type == POLICY_TYPES.value(action)


@pytest.mark.parametrize("proto", REQUEST_PROTOCOL_WORDS)
@pytest.mark.parametrize("mode", REQUEST_MODE_WORDS)
def test_each_request_protocol_and_mode_compile_to_their_numbers(proto: str, mode: str) -> None:
    (req,) = _policy(req_proto=proto, req_mode=mode).requests
    assert (req.proto, req.mode) == (IPSEC_PROTOS.value(proto), MODES.value(mode))


@pytest.mark.parametrize("level", LEVEL_WORDS)
def test_each_level_compiles_to_its_number(level: str) -> None:
    (req,) = _policy(level=level).requests
    assert req.level == LEVELS.value(level)


@pytest.mark.parametrize("upper", UPPER_NAMES)
def test_each_upper_protocol_is_a_word_of_the_language(upper: str) -> None:
    (st,) = parse(build_sp(SPForm(src="10.0.0.0/24", dst="10.0.1.0/24", upper=upper)).text)
    assert st.upper == upper  # type: ignore[union-attr]
