"""The bridge's wire format, sans-I/O: a hello line each way, then length-prefixed frames with a channel id.

Each side first sends one text line, ``setkey-tui-bridge PROTOCOL VERSION\\n`` (the bridge protocol number and
the setkey-tui version); a peer with another protocol number is refused with a message naming both. Then
frames, both ways::

    u32 length (of the payload, big-endian) | u32 channel | u8 kind | payload

A channel is one PF_KEY socket on the bridge's machine. ``MSG`` frames carry one whole PF_KEY message; the
others carry a small JSON object (:func:`control`). :class:`FrameDecoder` turns bytes into a :class:`Hello`
and then :class:`Frame` objects; nothing here reads or writes a file descriptor.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from setkey_tui import __version__

PROTOCOL = 1
MAGIC = b"setkey-tui-bridge"
HELLO_MAX = 200  # bytes a hello line may take, newline included
MAX_PAYLOAD = 1 << 20  # a PF_KEY message is at most 0xffff * 8 bytes; JSON controls are small
HEADER = struct.Struct(">IIB")
FAKE_PROTOCOL_ENV = "SETKEY_TUI_FAKE_BRIDGE_PROTOCOL"  # tests: announce another protocol number


class Kind(IntEnum):
    """What a frame carries. Client → bridge: OPEN, MSG, PROMISC, TRAFFIC, CLOSE. Bridge → client: OPENED,
    REFUSED, MSG, REPLY, LOST, SEND_FAILED, FAILED."""

    OPEN = 1  # open a PF_KEY socket as this channel: {}
    OPENED = 2  # it is open: {"description", "platform", "traffic"}
    REFUSED = 3  # it could not be opened: {"error"}
    MSG = 4  # one PF_KEY message
    PROMISC = 5  # promiscuous mode: {"on"}
    TRAFFIC = 6  # simulate one packet: {"src", "dst", "proto", "kw"}
    REPLY = 7  # the answer to PROMISC or TRAFFIC: {"ok": ...} or {"error"} or {"failed"}
    LOST = 8  # the kernel dropped messages for this socket (ENOBUFS): {"reason"}
    SEND_FAILED = 9  # one send failed (the socket stays open): {"error"}
    FAILED = 10  # the socket failed and is closed: {"error"}
    CLOSE = 11  # close the socket: {}


class FramingError(ValueError):
    """The peer sent something that is not this protocol; ``str()`` says what."""


class VersionMismatch(FramingError):
    """The peer speaks another bridge protocol; ``str()`` names both versions."""


@dataclass(frozen=True, slots=True)
class Hello:
    """A peer's hello line."""

    protocol: int
    version: str


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame."""

    channel: int
    kind: Kind
    payload: bytes

    def json(self) -> dict[str, Any]:
        """The payload of a control frame as a dict (FramingError when it is not a JSON object)."""
        try:
            obj = json.loads(self.payload.decode())
        except (UnicodeDecodeError, ValueError):
            raise FramingError(f"a {self.kind.name} frame that is not JSON") from None
        if not isinstance(obj, dict):
            raise FramingError(f"a {self.kind.name} frame that is not a JSON object")
        return obj


def our_protocol() -> int:
    """The protocol number this side announces (tests may fake another with SETKEY_TUI_FAKE_BRIDGE_PROTOCOL)."""
    fake = os.environ.get(FAKE_PROTOCOL_ENV, "").strip()
    return int(fake) if fake.isdigit() else PROTOCOL


def hello(protocol: int | None = None, version: str = __version__) -> bytes:
    """This side's hello line."""
    return b"%s %d %s\n" % (MAGIC, our_protocol() if protocol is None else protocol, version.encode())


def parse_hello(line: bytes) -> Hello:
    """A hello line (with or without its newline); FramingError quoting it when it is not one."""
    words = line.rstrip(b"\r\n").split(b" ")
    if len(words) != 3 or words[0] != MAGIC or not words[1].isdigit():
        shown = line[:80].decode("ascii", "replace").rstrip("\r\n")
        raise FramingError(f"not a setkey-tui bridge (it said: {shown!r})")
    return Hello(int(words[1]), words[2].decode("ascii", "replace"))


def check_peer(peer: Hello, *, peer_name: str = "the remote", protocol: int | None = None,
               version: str = __version__) -> None:
    """VersionMismatch (naming both versions) unless ``peer`` speaks our protocol."""
    ours = our_protocol() if protocol is None else protocol
    if peer.protocol != ours:
        raise VersionMismatch(
            f"{peer_name} setkey-tui {peer.version} speaks bridge protocol {peer.protocol}, this setkey-tui "
            f"{version} speaks protocol {ours}: install the same setkey-tui version on both sides"
        )


def frame(channel: int, kind: Kind, payload: bytes = b"") -> bytes:
    """One encoded frame."""
    if len(payload) > MAX_PAYLOAD:
        raise FramingError(f"a frame of {len(payload)} bytes is too big (at most {MAX_PAYLOAD})")
    return HEADER.pack(len(payload), channel, kind) + payload


def json_payload(obj: dict[str, Any]) -> bytes:
    """A control frame's payload: ``obj`` as compact JSON."""
    return json.dumps(obj, separators=(",", ":")).encode()


def control(channel: int, kind: Kind, obj: dict[str, Any]) -> bytes:
    """One encoded frame whose payload is ``obj`` as JSON."""
    return frame(channel, kind, json_payload(obj))


class FrameDecoder:
    """Bytes in, a :class:`Hello` then :class:`Frame` objects out. Any error is final (FramingError)."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pos = 0
        self.hello: Hello | None = None

    def feed(self, data: bytes) -> list[Hello | Frame]:
        """Take more bytes; return every whole item they complete."""
        buf = self._buf
        if self._pos > 1 << 16 and self._pos * 2 > len(buf):
            del buf[: self._pos]
            self._pos = 0
        buf += data
        out: list[Hello | Frame] = []
        if self.hello is None:
            end = buf.find(b"\n", self._pos)
            if end < 0:
                if len(buf) - self._pos >= HELLO_MAX or (buf and not MAGIC.startswith(bytes(buf[:len(MAGIC)]))):
                    raise FramingError(parse_hello_error(bytes(buf[self._pos:self._pos + HELLO_MAX])))
                return out
            self.hello = parse_hello(bytes(buf[self._pos:end + 1]))
            self._pos = end + 1
            out.append(self.hello)
        pos, size, unpack = self._pos, len(buf), HEADER.unpack_from
        while size - pos >= HEADER.size:
            length, channel, kind = unpack(buf, pos)
            if length > MAX_PAYLOAD:
                raise FramingError(f"a frame of {length} bytes is too big (at most {MAX_PAYLOAD})")
            end = pos + HEADER.size + length
            if end > size:
                break
            try:
                k = Kind(kind)
            except ValueError:
                raise FramingError(f"unknown frame kind {kind}") from None
            out.append(Frame(channel, k, bytes(buf[pos + HEADER.size:end])))
            pos = end
        self._pos = pos
        return out

    @property
    def pending(self) -> int:
        """Bytes received but not yet part of a whole item."""
        return len(self._buf) - self._pos


def parse_hello_error(data: bytes) -> str:
    """The FramingError text for bytes that do not start with a hello line."""
    try:
        parse_hello(data)
    except FramingError as exc:
        return str(exc)
    return "not a setkey-tui bridge"
