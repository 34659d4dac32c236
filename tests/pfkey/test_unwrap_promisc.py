"""unwrap_promisc, the one routine (the listener calls it) that takes a BSD promiscuous copy out of its wrapper.

The agreed checks: only on a platform that wraps; the outer header is SADB_X_PROMISC in the platform's wire
numbering; there is a whole sadb_msg header inside (32 bytes at least); the inner sadb_msg_len covers exactly
the rest. Anything else is handed on unchanged (and decoded, or reported, as it is).
"""

from __future__ import annotations

import pytest

from setkey_tui.pfkey.constants import MsgType
from setkey_tui.pfkey.extensions import SAExt
from setkey_tui.pfkey.message import Message, decode, unwrap_promisc
from setkey_tui.pfkey.platform import DARWIN, FREEBSD, LINUX, Platform


def _wrap(inner: bytes, platform: Platform, outer_type: MsgType = MsgType.X_PROMISC) -> bytes:
    head = bytearray(Message(outer_type).encode(platform))
    length = (len(head) + len(inner)) // 8
    head[4:6] = length.to_bytes(2, "little" if platform.byteorder == "<" else "big")
    return bytes(head) + inner


@pytest.mark.parametrize("platform", [FREEBSD, DARWIN], ids=lambda p: p.name)
def test_a_wrapped_copy_gives_the_message_inside(platform: Platform) -> None:
    inner_msg = Message(MsgType.ADD, 3, 5, 77, 0, (SAExt(0x1000),))
    inner = inner_msg.encode(platform)
    assert unwrap_promisc(_wrap(inner, platform), platform) == inner
    assert decode(unwrap_promisc(_wrap(inner, platform), platform), platform) == inner_msg
    header_alone = Message(MsgType.FLUSH).encode(platform)  # 16 bytes: the smallest whole message
    assert unwrap_promisc(_wrap(header_alone, platform), platform) == header_alone


@pytest.mark.parametrize("platform", [FREEBSD, DARWIN], ids=lambda p: p.name)
def test_what_fails_a_check_is_handed_on_unchanged(platform: Platform) -> None:
    inner = Message(MsgType.ADD, 3, 5, 77, 0, (SAExt(0x1000),)).encode(platform)
    not_promisc = _wrap(inner, platform, MsgType.ADD)
    bare = Message(MsgType.X_PROMISC, 1).encode(platform)
    short_inside = _wrap(bytes(8), platform)  # 24 bytes: no whole header inside
    longer_than_said = _wrap(inner + bytes(8), platform)
    shorter_than_said = _wrap(inner[:-8], platform)
    for data in (not_promisc, bare, short_inside, longer_than_said, shorter_than_said):
        assert unwrap_promisc(data, platform) == data


def test_linux_copies_are_never_unwrapped() -> None:
    inner = Message(MsgType.ADD, 3, 5, 77, 0, (SAExt(0x1000),)).encode(LINUX)
    wrapped = _wrap(inner, LINUX)
    assert unwrap_promisc(wrapped, LINUX) == wrapped
