"""The embedded simulated kernel: sans-I/O core, in-process transport, and a Unix-socket server/client."""

from setkey_tui.kernel.sim.kernel import Refused, SimKernel, TrafficResult
from setkey_tui.kernel.sim.transport import SimHost, SimTransport, reset_shared_host, shared_host

__all__ = [
    "Refused",
    "SimHost",
    "SimKernel",
    "SimTransport",
    "TrafficResult",
    "reset_shared_host",
    "shared_host",
]
