"""The one small interface every kernel transport implements (bytes in, bytes out)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

from setkey_tui.packet import Packet, PacketVerdict
from setkey_tui.pfkey.platform import Platform

if TYPE_CHECKING:
    from setkey_tui.pfkey.message import Message

REPLY_TIMEOUT = 1.0  # seconds a request waits for each message of its answer: setkey's SO_RCVTIMEO


def reply_timeout(transport: object) -> float:
    """How long a request on ``transport`` waits for each message of its answer: the transport's own
    ``reply_timeout`` (a served simulated kernel, slower than a real one, sets a longer one), else 1 s."""
    value = getattr(transport, "reply_timeout", REPLY_TIMEOUT)
    return value if isinstance(value, int | float) and value > 0 else REPLY_TIMEOUT


class TransportError(Exception):
    """A transport failed: ``str()`` is one clear line for the user (what happened, what to do)."""


class MessagesLost(TransportError):
    """The kernel dropped messages for this socket (ENOBUFS): resynchronise with a dump."""


@runtime_checkable
class Transport(Protocol):
    """A PF_KEY conversation with one kernel, as one socket sees it.

    ``send`` takes one whole message; ``recv`` returns one whole message or None when ``timeout``
    (seconds; None = block) passes; ``recv(0)`` returns only a message that is already there, without
    waiting (the command line reads a burst that way: one wait, then what the socket holds). A transport
    keeps per-message costs to the read itself: no clock read or extra system call per message where the
    platform can avoid them (PFKeySocket: SO_RCVTIMEO and MSG_DONTWAIT). ``set_promisc`` asks for copies of every message (SADB_X_PROMISC).
    ``description`` is what the UI shows ("real PF_KEY", "simulated (no PF_KEY: ...)", ...).
    """

    platform: Platform
    description: str

    def send(self, data: bytes) -> None:
        """Send one message to the kernel."""
        ...

    def recv(self, timeout: float | None = None) -> bytes | None:
        """The next message from the kernel, or None on timeout."""
        ...

    def set_promisc(self, on: bool) -> None:
        """Turn promiscuous mode on or off (sends SADB_X_PROMISC)."""
        ...

    def close(self) -> None:
        """Release the socket."""
        ...


@runtime_checkable
class TrafficSimulator(Protocol):
    """A transport that can also send a simulated packet through its kernel's SPD (the simulated kernel, in
    this process, served or remote). A transport declares it by defining the method; ``isinstance`` tells."""

    def simulate_traffic(self, packet: Packet) -> PacketVerdict:
        """One outbound packet through the SPD: its verdict. The kernel's messages it causes (ACQUIRE,
        EXPIRE) reach the sockets as usual. :class:`~setkey_tui.packet.PacketError` when the kernel refuses
        the packet, :class:`TransportError` when it cannot be asked."""
        ...


class EntryNotes(Protocol):
    """What a kernel holds about one SA or policy that PF_KEY cannot say; false when there is nothing."""

    def __bool__(self) -> bool: ...

    def text(self) -> list[str]:
        """One line per fact."""
        ...


@runtime_checkable
class NotesSource(Protocol):
    """A transport that knows more about an entry than PF_KEY can say (XFRM: AEAD, ESN, marks, …)."""

    def notes_for(self, msg: Message) -> EntryNotes | None:
        """The facts about ``msg``'s entry, or None when it knows none."""
        ...
