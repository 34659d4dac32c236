"""Files that may hold keys (exports, monitor recordings, copied statements): written readable by their owner
only, mode 0600, also when the file existed with a wider mode."""

from __future__ import annotations

import os
from typing import TextIO

PRIVATE_MODE = 0o600


def open_private(path: str | os.PathLike[str], *, encoding: str = "utf-8") -> TextIO:
    """``path`` opened for writing text (emptied first) with mode 0600; OSError when it cannot be."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_MODE)
    try:
        os.fchmod(fd, PRIVATE_MODE)  # the mode given to os.open applies only to a file it creates
        return open(fd, "w", encoding=encoding)  # noqa: SIM115 - the caller closes it
    except BaseException:
        os.close(fd)
        raise


def write_private(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600 (see :func:`open_private`)."""
    with open_private(path) as f:
        f.write(text)
