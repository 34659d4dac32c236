"""Names for every number and numbers for every name (constants.py name tables)."""

from __future__ import annotations

import pytest

from setkey_tui import algorithms
from setkey_tui.pfkey.constants import (
    AUTH_ALGS,
    COMP_ALGS,
    DIRECTIONS,
    ENC_ALGS,
    EXT_TYPES,
    LEVELS,
    MODES,
    MSG_TYPES,
    NAME_TABLES,
    POLICY_TYPES,
    SA_STATES,
    SA_TYPES,
    AuthAlg,
    CompAlg,
    Direction,
    EncAlg,
    ExtType,
    Level,
    Mode,
    MsgType,
    NameTable,
    PolicyType,
    SAState,
    SAType,
    display_name,
    number_of,
)
from setkey_tui.pfkey.platform import FREEBSD, LINUX

TABLES = sorted(NAME_TABLES.items())


def test_the_required_kinds_all_have_tables() -> None:
    kinds = {t.enum for t in NAME_TABLES.values()}
    for enum in (
        MsgType,
        ExtType,
        SAType,
        SAState,
        Mode,
        Direction,
        PolicyType,
        Level,
        AuthAlg,
        EncAlg,
        CompAlg,
    ):
        assert enum in kinds, enum.__name__


@pytest.mark.parametrize(("kind", "table"), TABLES, ids=[k for k, _ in TABLES])
def test_every_member_has_a_name_that_maps_back(kind: str, table: NameTable) -> None:
    names = set()
    for member in table.enum:
        name = table.name(member)
        assert name != str(int(member)), f"{kind}: {member.name} has no display name"
        assert table.value(name) == member
        assert table.value(name.upper()) == member  # case-insensitive
        assert table.value(member.name) == member  # the enum's own spelling
        assert table.value(str(int(member))) == member  # and the number itself
        names.add(name)
    assert len(names) == len(table.enum), f"{kind}: two members share a display name"
    assert display_name(kind, next(iter(table.enum))) == table.name(next(iter(table.enum)))
    assert table.names() == [n for _, n in table.items()]


@pytest.mark.parametrize(("kind", "table"), TABLES, ids=[k for k, _ in TABLES])
def test_unknown_names_and_numbers(kind: str, table: NameTable) -> None:
    with pytest.raises(ValueError, match=f"unknown {table.kind} 'no-such-thing'"):
        table.value("no-such-thing")
    with pytest.raises(ValueError):
        number_of(kind, "")
    assert table.name(65_000) == "65000"


def test_kernel_header_spellings() -> None:
    assert MSG_TYPES.name(MsgType.X_SPDADD) == "SADB_X_SPDADD" and MSG_TYPES.name(MsgType.ADD) == "SADB_ADD"
    assert MSG_TYPES.value("sadb_x_spddelete2") == 22
    assert (
        EXT_TYPES.name(ExtType.X_POLICY) == "SADB_X_EXT_POLICY" and EXT_TYPES.value("SADB_EXT_KEY_AUTH") == 8
    )
    assert SA_TYPES.value("SADB_SATYPE_ESP") == 3 and DIRECTIONS.value("IPSEC_DIR_OUTBOUND") == 2
    assert POLICY_TYPES.value("IPSEC_POLICY_IPSEC") == 2 and LEVELS.value("IPSEC_LEVEL_UNIQUE") == 3
    assert AUTH_ALGS.value("SADB_AALG_SHA1HMAC") == 3 and ENC_ALGS.value("SADB_EALG_NULL") == 11
    assert COMP_ALGS.value("SADB_X_CALG_DEFLATE") == 2


def test_setkey_words() -> None:
    assert [SA_TYPES.value(w) for w in ("esp", "ah", "ipcomp", "tcp", "esp-old", "esp-udp")] == [
        3,
        2,
        9,
        11,
        3,
        3,
    ]
    assert [MODES.value(w) for w in ("any", "transport", "tunnel")] == [0, 1, 2]
    assert [DIRECTIONS.name(d) for d in (1, 2, 3)] == ["in", "out", "fwd"]
    assert [LEVELS.value(w) for w in ("default", "use", "require", "unique")] == [0, 1, 2, 3]
    assert SA_STATES.name(SAState.DYING) == "dying"


def test_every_setkey_algorithm_name_resolves_to_the_languages_number() -> None:
    for name, number in algorithms.AUTH_BY_NAME.items():
        assert AUTH_ALGS.value(name) == number, name
    for name, number in algorithms.ENC_BY_NAME.items():
        assert ENC_ALGS.value(name) == number, name
    for name, number in algorithms.COMP_BY_NAME.items():
        assert COMP_ALGS.value(name) == number, name


@pytest.mark.parametrize("platform", [LINUX, FREEBSD], ids=lambda p: p.name)
def test_what_setkey_prints_resolves_back(platform) -> None:
    for number, name in platform.auth_names.items():
        assert AUTH_ALGS.value(name) == number, name
    for number, name in platform.enc_names.items():
        assert ENC_ALGS.value(name) == number, name


def test_setkeys_printed_names_differ_from_the_constants_only_where_documented() -> None:
    """render/names.py derives setkey's tables from constants.py; these are the only spellings of its own."""
    from setkey_tui.render import names

    own = {
        "satype": {i: w for i, w in enumerate(names.SATYPE_NAMES) if w != SA_TYPES.name(i)},
        "mode": {i: w for i, w in enumerate(names.MODE_NAMES) if w != MODES.name(i)},
        "state": {i: w for i, w in enumerate(names.STATE_NAMES) if w != SA_STATES.name(i)},
        "comp": {i: w for i, w in enumerate(names.COMP_NAMES) if w != COMP_ALGS.name(i)},
        "dir": {i: w for i, w in names.POLICY_DIR_NAMES.items() if w != DIRECTIONS.name(i)},
        "policy_type": {i: w for i, w in enumerate(names.POLICY_TYPE_NAMES) if w != POLICY_TYPES.name(i)},
        "level": {i: w for i, w in enumerate(names.LEVEL_NAMES) if w != LEVELS.name(i)},
    }
    assert own == {"satype": {1: "unknown", 4: "unknown", 10: "policy"}, "mode": {}, "state": {}, "comp": {},
                   "dir": {4: "in(socket)", 5: "out(socket)"}, "policy_type": {}, "level": {}}
    assert len(names.MODE_NAMES) == 3  # no beet in libipsec's str_mode[]


def test_the_language_tables_are_the_constants_numbers() -> None:
    from setkey_tui.lang import compile as lang_compile
    from setkey_tui.lang import lexer, policy

    assert set(lexer.AUTH_WORDS) | lexer.AUTH_SWALLOWED == set(algorithms.AUTH_BY_NAME)
    assert set(lexer.ENC_WORDS) == set(algorithms.ENC_BY_NAME)
    assert {w for w, k in lexer.KEYWORDS.items() if k == lexer.K.ALG_COMP} == set(algorithms.COMP_BY_NAME)
    assert policy.PROTOCOLS == {"esp": 50, "ah": 51, "ipcomp": 108}
    assert lang_compile.SATYPES["esp-udp"] == SAType.ESP and lang_compile.SATYPES["ah-old"] == SAType.AH
    assert lang_compile.MODES == {None: 0, "any": 0, "transport": 1, "tunnel": 2}
