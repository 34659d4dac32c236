"""Helpers for the plan tests: fresh simulated kernels, scripts run on them, traced and faulty sockets."""

from __future__ import annotations

import errno as errno_mod
import io
from collections import deque
from collections.abc import Callable

from setkey_tui.kernel.sim import SimHost, SimKernel, SimTransport
from setkey_tui.pfkey.message import Message, decode
from setkey_tui.plan.state import KernelState, snapshot
from setkey_tui.script import run_script
from setkey_tui.service import KeyService

EK1 = "0x00112233445566778899aabbccddeeff"
EK2 = "0xffeeddccbbaa99887766554433221100"
AK1 = "0x" + "11" * 32
AK2 = "0x" + "22" * 32


def esp(src: str, dst: str, spi: int, *, ek: str = EK1, ak: str = AK1, extra: str = "") -> str:
    """An ``add`` statement of an ESP SA (AES-CBC + HMAC-SHA256)."""
    return f"add {src} {dst} esp 0x{spi:x} {extra} -E aes-cbc {ek} -A hmac-sha256 {ak};\n"


class TracingTransport:
    """A socket that records every request sent and can refuse one (an error reply instead of the kernel's)."""

    def __init__(self, inner: SimTransport) -> None:
        self.inner = inner
        self.platform = inner.platform
        self.description = inner.description
        self.sent: list[Message] = []
        self.refuse: Callable[[Message], bool] | None = None
        self._replies: deque[bytes] = deque()

    def send(self, data: bytes) -> None:
        msg = decode(data, self.platform)
        self.sent.append(msg)
        if self.refuse is not None and self.refuse(msg):
            self._replies.append(msg._replace(errno=errno_mod.EINVAL, extensions=()).encode(self.platform))
            return
        self.inner.send(data)

    def recv(self, timeout: float | None = None) -> bytes | None:
        if self._replies:
            return self._replies.popleft()
        return self.inner.recv(timeout)

    def set_promisc(self, on: bool) -> None:
        self.inner.set_promisc(on)

    def close(self) -> None:
        self.inner.close()


class Kernel:
    """One simulated kernel with helpers to load scripts and read its state."""

    def __init__(self) -> None:
        self.host = SimHost(SimKernel(seed=1))

    def transport(self) -> SimTransport:
        return SimTransport(self.host, description="simulated kernel (test)")

    def run(self, text: str) -> str:
        """``setkey -f`` of ``text`` on this kernel; what it printed."""
        out = io.StringIO()
        assert run_script(text, self.transport(), out=out, err=out) == 0, out.getvalue()
        return out.getvalue()

    def service(self) -> KeyService:
        return KeyService(self.transport())

    def traced(self) -> tuple[KeyService, TracingTransport]:
        t = TracingTransport(self.transport())
        return KeyService(t), t  # type: ignore[arg-type]

    def state(self) -> KernelState:
        svc = self.service()
        try:
            return snapshot(svc)
        finally:
            svc.close()
