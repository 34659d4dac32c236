"""PF_KEY v2 messages: a ``sadb_msg`` header plus ordered extensions; decode, encode, split.

Sans-I/O: functions take and return bytes. ``Message.encode(decode(b)) == b`` for every well-formed
message, unknown extensions included (kept as :class:`RawExt`).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from functools import cache
from typing import Literal, NamedTuple

from setkey_tui.pfkey.constants import PF_KEY_V2, ExtType, MsgType, enum_name
from setkey_tui.pfkey.extensions import Extension
from setkey_tui.pfkey.fast import ExtensionWalker, extension_walker
from setkey_tui.pfkey.platform import Platform, current
from setkey_tui.pfkey.wire import DecodeError, EncodeError, WireCodec, codec_for

_DEFAULT: list[Platform] = []


def default_platform() -> Platform:
    """The platform used when none is given: the running OS's."""
    if not _DEFAULT:
        _DEFAULT.append(current())
    return _DEFAULT[0]


class Message(NamedTuple):
    """One PF_KEY message. ``type``/``satype`` are plain ints (see :class:`MsgType`, :class:`SAType`)."""

    type: int
    satype: int = 0
    seq: int = 0
    pid: int = 0
    errno: int = 0
    extensions: tuple[Extension, ...] = ()
    version: int = PF_KEY_V2
    reserved: int = 0

    def get(self, ext_type: int) -> Extension | None:
        """The first extension of canonical type ``ext_type``, or None."""
        for e in self.extensions:
            if e.ext_type == ext_type:
                return e
        return None

    def __contains__(self, ext_type: object) -> bool:
        return any(e.ext_type == ext_type for e in self.extensions)

    def ext_map(self) -> dict[int, Extension]:
        """Canonical extension type → extension (the first of each type)."""
        out: dict[int, Extension] = {}
        for e in self.extensions:
            out.setdefault(e.ext_type, e)
        return out

    @property
    def type_name(self) -> str:
        """``ADD``, ``X_SPDADD`` … or the number."""
        return enum_name(MsgType, self.type)

    def encode(self, platform: Platform | None = None) -> bytes:
        """The wire bytes of this message (length computed)."""
        return encode(self, platform)

    def with_ext(self, ext: Extension) -> Message:
        """A copy with ``ext`` replacing the extension of the same type (or appended)."""
        exts = list(self.extensions)
        for i, e in enumerate(exts):
            if e.ext_type == ext.ext_type:
                exts[i] = ext
                break
        else:
            exts.append(ext)
        return self._replace(extensions=tuple(exts))

    def without(self, *ext_types: int) -> Message:
        """A copy without the extensions of the given canonical types."""
        return self._replace(extensions=tuple(e for e in self.extensions if e.ext_type not in ext_types))


def _codec(platform: Platform | None) -> WireCodec:
    return codec_for(platform or default_platform())


class _Decoder(NamedTuple):
    unpack_header: Callable[[bytes, int], tuple[int, ...]]
    walk: ExtensionWalker
    msg_from_wire: dict[int, int]


@cache
def _decoder(platform: Platform) -> _Decoder:
    codec = codec_for(platform)
    return _Decoder(codec.hdr.unpack_from, extension_walker(codec), platform.msg_from_wire)


_new = tuple.__new__


def decode(data: bytes, platform: Platform | None = None) -> Message:
    """Decode exactly one message; :class:`DecodeError` for anything malformed."""
    d = _decoder(platform or default_platform())
    if type(data) is not bytes:
        data = bytes(data)
    n = len(data)
    if n < 16:
        raise DecodeError(0, f"message is {n} bytes, shorter than the 16-byte sadb_msg header")
    version, wire_type, errno, satype, mlen, reserved, seq, pid = d.unpack_header(data, 0)
    if mlen < 2:
        raise DecodeError(4, f"sadb_msg_len is {mlen} (units of 8 bytes), at least 2 are needed")
    if mlen * 8 != n:
        raise DecodeError(4, f"sadb_msg_len says {mlen * 8} bytes but the message has {n}")
    mtype = d.msg_from_wire.get(wire_type, wire_type)
    return _new(Message, (mtype, satype, seq, pid, errno, d.walk(data, 16, n), version, reserved))


_KNOWN_TYPES = frozenset(int(m) for m in MsgType)


def encode(msg: Message, platform: Platform | None = None, *, pid: int | None = None) -> bytes:
    """The wire bytes of ``msg`` (with ``pid`` in its header when given); :class:`EncodeError` if a value
    does not fit its field, or the message or one of its extensions does not exist on the platform."""
    c = _codec(platform)
    wire_type = c.platform.msg_to_wire.get(msg.type)
    if wire_type is None:
        if msg.type in _KNOWN_TYPES:
            raise EncodeError(f"message type {MsgType(msg.type).name} does not exist on {c.platform.name}")
        wire_type = msg.type  # an unknown number, kept as it came
    body = c.encode_exts(msg.extensions)
    total = 16 + len(body)
    if total > 0xFFFF * 8:
        raise EncodeError(f"message of {total} bytes is too long for PF_KEY")
    try:
        head = c.hdr.pack(
            msg.version, wire_type, msg.errno, msg.satype, total // 8, msg.reserved, msg.seq,
            msg.pid if pid is None else pid,
        )
    except struct.error as exc:  # an out-of-range header field
        raise EncodeError(f"sadb_msg header: {exc}") from None
    return head + body


def split(buf: bytes, platform: Platform | None = None) -> Iterator[bytes]:
    """Cut a buffer holding several whole messages into one bytes object per message."""
    order: Literal["little", "big"] = "little" if (platform or default_platform()).byteorder == "<" else "big"
    off = 0
    n = len(buf)
    while off < n:
        if n - off < 16:
            raise DecodeError(off, f"{n - off} bytes left, shorter than a sadb_msg header")
        mlen = int.from_bytes(buf[off + 4 : off + 6], order)
        if mlen < 2:
            raise DecodeError(off + 4, f"sadb_msg_len is {mlen}, at least 2 are needed")
        if off + mlen * 8 > n:
            raise DecodeError(off, f"message of {mlen * 8} bytes runs past the buffer ({n - off} left)")
        yield bytes(buf[off : off + mlen * 8])
        off += mlen * 8


def unwrap_promisc(data: bytes, platform: Platform | None = None) -> bytes:
    """The message inside a BSD promiscuous copy (an X_PROMISC header wrapped around it); ``data`` itself on
    Linux, for a bare X_PROMISC message, or when there is no whole message inside."""
    p = platform or default_platform()
    if not p.promisc_wraps or len(data) < 32 or data[1] != p.msg_to_wire[MsgType.X_PROMISC]:
        return data
    inner = bytes(data[16:])
    mlen = int.from_bytes(inner[4:6], "little" if p.byteorder == "<" else "big")
    return inner if mlen * 8 == len(inner) else data


def decode_all(buf: bytes, platform: Platform | None = None) -> list[Message]:
    """Decode every message in a buffer of concatenated messages."""
    return [decode(m, platform) for m in split(buf, platform)]


def header_only(msg_type: int, satype: int = 0, *, seq: int = 0, pid: int = 0, errno: int = 0) -> Message:
    """A message without extensions (FLUSH, DUMP, X_PROMISC, REGISTER, error replies …)."""
    return Message(msg_type, satype, seq, pid, errno)


__all__ = [
    "DecodeError",
    "EncodeError",
    "ExtType",
    "Message",
    "MsgType",
    "decode",
    "decode_all",
    "default_platform",
    "encode",
    "header_only",
    "split",
    "unwrap_promisc",
]
