"""Kernel error texts exactly as setkey prints them (before its final ``.``)."""

from __future__ import annotations

import errno as _errno

from setkey_tui.pfkey.constants import MsgType
from setkey_tui.pfkey.platform import LINUX, Platform

# glibc's wording of the Linux errno values a PF_KEY kernel can return.
_LINUX_STRERROR: dict[int, str] = {
    1: "Operation not permitted", 2: "No such file or directory", 3: "No such process",
    4: "Interrupted system call", 5: "Input/output error", 6: "No such device or address",
    7: "Argument list too long", 9: "Bad file descriptor", 11: "Resource temporarily unavailable",
    12: "Cannot allocate memory", 13: "Permission denied", 14: "Bad address", 16: "Device or resource busy",
    17: "File exists", 19: "No such device", 22: "Invalid argument", 24: "Too many open files",
    28: "No space left on device", 34: "Numerical result out of range", 38: "Function not implemented",
    61: "No data available", 62: "Timer expired", 75: "Value too large for defined data type",
    88: "Socket operation on non-socket", 90: "Message too long", 92: "Protocol not available",
    93: "Protocol not supported", 95: "Operation not supported", 97: "Address family not supported by protocol",
    98: "Address already in use", 99: "Cannot assign requested address", 100: "Network is down",
    101: "Network is unreachable", 103: "Software caused connection abort", 104: "Connection reset by peer",
    105: "No buffer space available", 110: "Connection timed out", 111: "Connection refused",
    113: "No route to host", 114: "Operation already in progress", 115: "Operation now in progress",
}
# FreeBSD/Darwin libc wording of their errno numbers.
_BSD_STRERROR: dict[int, str] = {
    1: "Operation not permitted", 2: "No such file or directory", 3: "No such process",
    12: "Cannot allocate memory", 13: "Permission denied", 16: "Device busy", 17: "File exists",
    22: "Invalid argument", 35: "Resource temporarily unavailable", 40: "Message too long",
    45: "Operation not supported", 47: "Address family not supported by protocol family",
    55: "No buffer space available", 78: "Function not implemented",
}

_NO_ENTRY_TYPES = (MsgType.DELETE, MsgType.GET, MsgType.X_SPDDELETE)


def strerror(err: int, platform: Platform = LINUX) -> str:
    """The C library's text for ``err`` on ``platform`` (``Unknown error N`` when it has none)."""
    table = _LINUX_STRERROR if platform is LINUX else _BSD_STRERROR
    text = table.get(err)
    if text is None:
        text = f"Unknown error {err}"
    return text


def strerror_setkey(errno: int, msg_type: int, *, platform: Platform = LINUX) -> str:
    """setkey's message for a reply with ``sadb_msg_errno`` set (postproc's rules; no final dot).

    ENOENT: ``No entry`` for DELETE/GET/SPDDELETE, ``No SAD entries`` for DUMP, ``No SPD entries`` for
    SPDDUMP and ``(null)`` (what glibc prints for a NULL string) for the other types.
    """
    if errno == _errno.ENOENT:
        if msg_type in _NO_ENTRY_TYPES:
            return "No entry"
        if msg_type == MsgType.DUMP:
            return "No SAD entries"
        if msg_type == MsgType.X_SPDDUMP:
            return "No SPD entries"
        return "(null)"
    return strerror(errno, platform)
