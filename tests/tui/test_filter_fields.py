"""Each ``field:value`` term of the `/` filter picks the rows whose field holds the value (one test per field)."""

from __future__ import annotations

import pytest

from setkey_tui.mirror import SARow, SPRow
from setkey_tui.pfkey.constants import Direction, SAState
from setkey_tui.scenarios.synthetic import sa_message, sp_message
from setkey_tui.tui.filters import FilterError, parse_filter

SAS = [SARow(sa_message(i, state=SAState.DYING if i == 2 else SAState.MATURE)) for i in range(4)]
SPS = [SPRow(sp_message(i, direction=Direction.INBOUND if i == 1 else Direction.OUTBOUND)) for i in range(4)]


def _picked(text: str, rows: list, kind: str) -> list[int]:
    pred = parse_filter(text, kind)
    assert pred is not None
    return [i for i, r in enumerate(rows) if pred(r)]


@pytest.mark.parametrize(
    ("text", "picked"),
    [
        ("spi:0x1001", [1]),
        ("spi:4099", [3]),
        ("reqid:2", [2]),
        ("state:dying", [2]),
        ("state:MATURE", [0, 1, 3]),
        ("proto:esp", [0, 1, 2, 3]),
        ("proto:ah", []),
        ("mode:transport", [0, 1, 2, 3]),
        ("mode:tunnel", []),
        ("enc:aes-cbc", [0, 1, 2, 3]),
        ("auth:hmac-sha256", [0, 1, 2, 3]),
        ("auth:hmac-sha1", []),
        ("!spi:0x1000 !state:dying", [1, 3]),
    ],
)
def test_sad_fields(text: str, picked: list[int]) -> None:
    assert _picked(text, SAS, "sad") == picked


@pytest.mark.parametrize(
    ("text", "picked"),
    [
        ("dir:in", [1]),
        ("dir:out", [0, 2, 3]),
        ("action:ipsec", [0, 1, 2, 3]),
        ("action:discard", []),
        ("spid:18", [2]),  # sp_message's id: 8 * i + direction
        ("reqid:3", [3]),
        ("proto:esp", [0, 1, 2, 3]),
        ("upper:any", [0, 1, 2, 3]),
        ("upper:6", []),
    ],
)
def test_spd_fields(text: str, picked: list[int]) -> None:
    assert _picked(text, SPS, "spd") == picked


@pytest.mark.parametrize(
    ("text", "kind", "said"),
    [
        ("state:sleepy", "sad", "state:sleepy: state is one of larval, mature, dying, dead"),
        ("mode:sideways", "sad", "mode:sideways: mode is one of transport, tunnel, any, beet"),
        ("action:maybe", "spd", "action:maybe: action is one of ipsec, discard, none, entrust, bypass"),
        ("spid:x", "spd", "spid:x: spid wants a number such as 4096 or 0x1000"),
    ],
)
def test_a_bad_value_is_said_with_the_words_the_field_takes(text: str, kind: str, said: str) -> None:
    with pytest.raises(FilterError) as caught:
        parse_filter(text, kind)
    assert str(caught.value) == said and caught.value.word == text
