"""The background listener: a promiscuous PF_KEY socket whose messages become events on a queue.

The only thread of the application. It never touches widgets: the app drains ``events`` on a timer.
Events: :class:`MessageEvent` (one message, decoded when possible), :class:`LostEvent` (the kernel dropped
messages: resynchronise with a dump), :class:`FailedEvent` (the listener stopped).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from setkey_tui.kernel.base import MessagesLost, Transport, TransportError
from setkey_tui.pfkey.constants import MsgType
from setkey_tui.pfkey.message import Message, decode
from setkey_tui.pfkey.platform import Platform
from setkey_tui.pfkey.wire import DecodeError

POLL_INTERVAL = 0.1  # seconds a recv waits before the thread checks whether to stop


@dataclass(frozen=True, slots=True)
class MessageEvent:
    """One message seen on the promiscuous socket; ``msg`` None and ``error`` set when it does not decode."""

    data: bytes
    msg: Message | None
    error: str | None
    when: float


@dataclass(frozen=True, slots=True)
class LostEvent:
    """Messages were lost (ENOBUFS): the receiver must resynchronise by dumping."""

    reason: str


@dataclass(frozen=True, slots=True)
class FailedEvent:
    """The listener could not open its socket or the socket failed; it has stopped."""

    reason: str


Event = MessageEvent | LostEvent | FailedEvent


def unwrap_promisc(data: bytes, platform: Platform) -> bytes:
    """The message inside a BSD promiscuous copy (wrapped in an extra X_PROMISC header); else ``data``."""
    if not platform.promisc_wraps or len(data) <= 16 or data[1] != MsgType.X_PROMISC:
        return data
    inner = data[16:]
    order = "little" if platform.byteorder == "<" else "big"
    if len(inner) >= 16 and int.from_bytes(inner[4:6], order) * 8 == len(inner):
        return inner
    return data


class Listener:
    """Runs a thread that opens a transport, turns promiscuous mode on and forwards every message.

    ``open_transport`` is called in the thread (so a slow or failing open never blocks the caller).
    """

    def __init__(
        self,
        open_transport: Callable[[], Transport],
        events: queue.SimpleQueue[Event],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._open = open_transport
        self.events = events
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.ready = threading.Event()

    @property
    def running(self) -> bool:
        """Whether the thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="pfkey-listener", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Ask the thread to stop and wait for it (at most ``timeout`` seconds)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._thread = None

    def _run(self) -> None:
        try:
            transport = self._open()
        except TransportError as exc:
            self.events.put(FailedEvent(str(exc)))
            self.ready.set()
            return
        except OSError as exc:
            self.events.put(FailedEvent(f"cannot open the kernel socket: {exc.strerror or exc}"))
            self.ready.set()
            return
        except Exception as exc:  # noqa: BLE001 - the thread's edge: the app must hear of it, not die
            self.events.put(FailedEvent(f"cannot open the kernel socket: {type(exc).__name__}: {exc}"))
            self.ready.set()
            return
        try:
            transport.set_promisc(True)
            self.ready.set()
            self._loop(transport)
        except TransportError as exc:
            self.events.put(FailedEvent(str(exc)))
        except OSError as exc:
            self.events.put(FailedEvent(f"kernel socket failed: {exc.strerror or exc}"))
        except Exception as exc:  # noqa: BLE001 - the thread's edge: the app must hear of it, not die
            self.events.put(FailedEvent(f"the listener failed: {type(exc).__name__}: {exc}"))
        finally:
            self.ready.set()
            try:
                transport.close()
            except (OSError, TransportError):
                pass

    def _loop(self, transport: Transport) -> None:
        platform = transport.platform
        while not self._stop.is_set():
            try:
                data = transport.recv(POLL_INTERVAL)
            except MessagesLost as exc:
                self.events.put(LostEvent(str(exc) or "messages were lost (ENOBUFS)"))
                continue
            if data is None:
                continue
            when = self._clock()
            data = unwrap_promisc(data, platform)
            try:
                msg: Message | None = decode(data, platform)
                error = None
            except DecodeError as exc:
                msg, error = None, str(exc)
            self.events.put(MessageEvent(data, msg, error, when))
