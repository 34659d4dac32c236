"""The display clock of the command line and the TUI: the real time, or the time fixed by ``SETKEY_TUI_NOW``
(reproducible output and screens)."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping

ENV_VAR = "SETKEY_TUI_NOW"


def display_clock(environ: Mapping[str, str] = os.environ) -> Callable[[], float]:
    """``time.time``, or a clock stopped at ``SETKEY_TUI_NOW`` seconds since the epoch when it is set and not
    blank; ValueError, in one line naming the variable and the value, for a value that is not a finite number."""
    fixed = environ.get(ENV_VAR, "")
    if not fixed.strip():
        return time.time
    try:
        value = float(fixed)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ValueError(f"{ENV_VAR}={fixed!r} is not a time (seconds since the epoch)")
    return lambda: value
