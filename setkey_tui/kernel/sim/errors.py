"""How the simulated kernel says no: refused bytes (``send()`` fails) or a failed request (an error reply)."""

from __future__ import annotations


class Refused(Exception):
    """The kernel refused to accept the bytes at all: ``send()`` itself fails with ``errno``."""

    def __init__(self, errno: int, reason: str) -> None:
        super().__init__(reason)
        self.errno = errno


class Fail(Exception):
    """A request failed: the sender gets a header-only error reply with this errno (af_key's pfkey_error)."""

    def __init__(self, errno: int) -> None:
        super().__init__(errno)
        self.errno = errno
