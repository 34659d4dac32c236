"""A simulated kernel set up for a scenario: a settable clock, a fixed pid, and scripts applied to it the way
``setkey -f`` applies them (through :func:`setkey_tui.script.run_script`, the one way a script is applied).

Used by ``make screenshots`` and the TUI tests, so that both see the same kernel in the same state.
"""

from __future__ import annotations

import io

from setkey_tui.kernel.sim import SimHost, SimKernel, SimTransport

T0 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
PID = 4242


class ScriptFailed(RuntimeError):
    """A scenario script did not apply cleanly; ``str()`` holds setkey's words."""


class Clock:
    """A settable clock (seconds since the epoch) shared by the simulated kernel and the app."""

    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def sim_host(clock: Clock, *, rcvbuf: int | None = None) -> SimHost:
    """A fresh simulated kernel on ``clock`` (seed fixed: its SPIs and ids are the same on every run);
    ``rcvbuf`` bytes of receive buffer per socket (the host's default when None)."""
    kernel = SimKernel(clock=clock, seed=1)
    return SimHost(kernel) if rcvbuf is None else SimHost(kernel, rcvbuf=rcvbuf)


def apply_script(host: SimHost, text: str, *, clock: Clock | None = None) -> None:
    """Apply setkey statements to the simulated kernel as another process running ``setkey -f`` would (pid
    fixed); :class:`ScriptFailed` with setkey's output when a statement is refused."""
    from setkey_tui.script import run_script

    out, err = io.StringIO(), io.StringIO()
    transport = SimTransport(host)
    try:
        rc = run_script(text, transport, out=out, err=err, now=clock or Clock(), pid=PID)
    finally:
        transport.close()
    problems = (out.getvalue() + err.getvalue()).strip()
    if rc or problems:
        raise ScriptFailed(problems or f"exit status {rc}")
