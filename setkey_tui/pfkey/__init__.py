"""Sans-I/O PF_KEY v2: constants, platform profiles, typed extensions, message codec."""

from setkey_tui.pfkey.constants import ExtType, MsgType, SAState, SAType
from setkey_tui.pfkey.message import Message, decode, decode_all, encode, split, unwrap_promisc
from setkey_tui.pfkey.wire import DecodeError, EncodeError

__all__ = [
    "DecodeError",
    "EncodeError",
    "ExtType",
    "Message",
    "MsgType",
    "SAState",
    "SAType",
    "decode",
    "decode_all",
    "encode",
    "split",
    "unwrap_promisc",
]
