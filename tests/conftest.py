"""Session-wide safety: on a host without PF_KEY, ``auto`` would open the host's own kernel over XFRM netlink.

Tests must never change this machine's IPsec state, so where PF_KEY is missing (this host, CI) the default
kernel of every test and of every process a test starts is the embedded simulated kernel, unless the test
names another one or sets ``SETKEY_TUI_KERNEL`` itself. Inside the user-mode-linux guest PF_KEY exists and
``auto`` keeps its meaning (the guest's kernel is the test's own).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

from setkey_tui.kernel.choose import ENV_VAR
from tests.kernel.pfkey_conversation import pfkey_available

# Time is no property of the code a property test checks: on a loaded machine neither a per-example deadline
# nor the health check on slow data generation may fail a test (tests may still set their own settings).
settings.register_profile("loaded-machine", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("loaded-machine")


if not pfkey_available():
    os.environ.setdefault(ENV_VAR, "sim")
