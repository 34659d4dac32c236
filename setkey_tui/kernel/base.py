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
    ``reply_timeout`` when it is :class:`SlowReplies` (a served simulated kernel), else setkey's 1 s."""
    if isinstance(transport, SlowReplies) and transport.reply_timeout > 0:
        return transport.reply_timeout
    return REPLY_TIMEOUT


def env_seconds(name: str, default: float) -> float:
    """A number of seconds (more than 0) from the environment variable ``name``, else ``default``;
    TransportError saying which variable and value when it is not one."""
    import os

    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise TransportError(f"{name}={raw!r} is not a number of seconds") from None
    if not 0 < value < float("inf"):
        raise TransportError(f"{name}={raw!r} must be more than 0 seconds")
    return value


def answers_in_order(transport: object) -> bool:
    """Whether the next messages are the answer to a request whoever they were addressed to (a recording)."""
    return isinstance(transport, Recording) and transport.answers_in_order


def exhausted(transport: object) -> bool:
    """Whether ``transport`` is a recording that has handed out every message it holds."""
    return isinstance(transport, Recording) and transport.exhausted


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


@runtime_checkable
class SlowReplies(Protocol):
    """A transport whose kernel may pause longer than a real one between the messages of an answer (a served
    simulated kernel flushing or dumping 100k SAs): ``reply_timeout`` is how long a request waits for each."""

    reply_timeout: float


@runtime_checkable
class Recording(Protocol):
    """A transport that plays recorded messages back (``replay:FILE``): ``answers_in_order`` when the next
    recorded messages answer a request whoever they were sent to; ``exhausted`` once all are handed out."""

    answers_in_order: bool

    @property
    def exhausted(self) -> bool:
        """True once every recorded message has been handed out."""
        ...
