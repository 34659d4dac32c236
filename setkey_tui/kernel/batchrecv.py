"""Many datagrams per system call: ``recvmmsg(2)`` through ctypes, for a socket that receives floods.

A monitor on a busy kernel receives tens of thousands of messages a second; one ``recv(2)`` each is the
largest cost where system calls are dear (user-mode-linux: ~50 µs each). :class:`BatchReceiver` takes up to
``slots`` whole datagrams in one call, each into its own slot of one anonymous mapping (pages are only
made resident as messages fill them). :func:`batch_receiver` is None where the C library has no recvmmsg.
"""

from __future__ import annotations

import ctypes
import errno as errno_mod
import mmap
import os
import sys
from typing import Any

MSG_DONTWAIT = 0x40
MSG_WAITFORONE = 0x10000  # Linux: block for the first datagram only, then take what is there


class _IoVec(ctypes.Structure):
    _fields_ = [("iov_base", ctypes.c_void_p), ("iov_len", ctypes.c_size_t)]


class _MsgHdr(ctypes.Structure):
    _fields_ = [("msg_name", ctypes.c_void_p), ("msg_namelen", ctypes.c_uint32),
                ("msg_iov", ctypes.POINTER(_IoVec)), ("msg_iovlen", ctypes.c_size_t),
                ("msg_control", ctypes.c_void_p), ("msg_controllen", ctypes.c_size_t),
                ("msg_flags", ctypes.c_int)]


class _MMsgHdr(ctypes.Structure):
    _fields_ = [("msg_hdr", _MsgHdr), ("msg_len", ctypes.c_uint)]


_RECVMMSG: list[Any] = []  # the C function, once looked up (None where there is none)


def _recvmmsg() -> Any:
    """libc's recvmmsg (looked up once, in the symbols already loaded: no library search), or None."""
    if not _RECVMMSG:
        func = None
        if sys.platform.startswith("linux"):  # MSG_WAITFORONE and these flag values are Linux's
            try:
                func = ctypes.CDLL(None, use_errno=True).recvmmsg
                func.restype = ctypes.c_int
                func.argtypes = [ctypes.c_int, ctypes.POINTER(_MMsgHdr), ctypes.c_uint, ctypes.c_int,
                                 ctypes.c_void_p]
            except (OSError, AttributeError):
                func = None
        _RECVMMSG.append(func)
    return _RECVMMSG[0]


class BatchReceiver:
    """Up to ``slots`` datagrams of at most ``size`` bytes each per ``recvmmsg(2)`` on descriptor ``fd``."""

    __slots__ = ("_fd", "_slots", "_size", "_area", "_vec", "_iovs", "_call")

    def __init__(self, fd: int, *, slots: int = 64, size: int = 65536 * 8) -> None:
        call = _recvmmsg()
        if call is None:
            raise OSError(errno_mod.ENOSYS, "recvmmsg is not available")
        self._fd, self._slots, self._size, self._call = fd, slots, size, call
        self._area = mmap.mmap(-1, slots * size)  # anonymous: untouched pages cost nothing
        base = ctypes.addressof(ctypes.c_char.from_buffer(self._area))
        iovs = (_IoVec * slots)()
        vec = (_MMsgHdr * slots)()
        for i in range(slots):
            iovs[i].iov_base = base + i * size
            iovs[i].iov_len = size
            vec[i].msg_hdr.msg_iov = ctypes.pointer(iovs[i])
            vec[i].msg_hdr.msg_iovlen = 1
        self._vec: ctypes.Array[_MMsgHdr] | None = vec
        self._iovs = iovs  # the slots' addresses, pointed to by vec

    def receive(self, wait: bool) -> list[bytes]:
        """The datagrams queued on the socket: with ``wait``, block (the socket's own timeout applies) until
        the first one, then take what is there without waiting. [] when nothing came (EAGAIN, EINTR); an
        OSError for any other failure (ENOBUFS: the kernel dropped messages)."""
        vec = self._vec
        if vec is None:
            raise OSError(errno_mod.EBADF, "the receiver is closed")
        n = self._call(self._fd, vec, self._slots, MSG_WAITFORONE if wait else MSG_DONTWAIT, None)
        if n < 0:
            err = ctypes.get_errno()
            if err in (errno_mod.EAGAIN, errno_mod.EINTR):
                return []
            raise OSError(err, os.strerror(err))
        area, size = self._area, self._size
        return [area[i * size: i * size + vec[i].msg_len] for i in range(n)]

    def close(self) -> None:
        """Release the mapping."""
        if self._vec is not None:
            self._vec = None
            self._area.close()


def batch_receiver(fd: int, *, slots: int = 64, size: int = 65536 * 8) -> BatchReceiver | None:
    """A :class:`BatchReceiver` for ``fd``, or None where recvmmsg cannot be used."""
    if _recvmmsg() is None:
        return None
    try:
        return BatchReceiver(fd, slots=slots, size=size)
    except (OSError, ValueError):
        return None
