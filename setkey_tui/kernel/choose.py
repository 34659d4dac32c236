"""Choosing the kernel once at start: ``auto``, ``pfkey``, ``xfrm``, ``sim``, ``sim@PATH``, ``replay:FILE``, ``ssh:HOST``.

``SETKEY_TUI_KERNEL`` gives the default spec. ``auto`` opens the real PF_KEY socket when it can, else (on
Linux) the real kernel over XFRM netlink, else the embedded simulated kernel; ``description`` says why.
"""

from __future__ import annotations

import errno
import os

from setkey_tui.kernel.base import Transport, TransportError
from setkey_tui.pfkey.platform import LINUX, Platform, current

ENV_VAR = "SETKEY_TUI_KERNEL"
SERVED_REPLY_TIMEOUT = 10.0  # a served simulated kernel may take seconds to flush or dump 100k SAs
UNIX_PATH_MAX = 107  # bytes of a Unix socket path (sun_path is 108 with its NUL)
CHOICES = "auto, pfkey, xfrm, sim, sim@PATH, replay:FILE, ssh:HOST[/SPEC]"


def default_spec() -> str:
    """The spec from ``SETKEY_TUI_KERNEL``, else ``auto``."""
    return os.environ.get(ENV_VAR, "").strip() or "auto"


def check_socket_path(path: str) -> None:
    """TransportError when ``path`` cannot name a Unix socket (empty, or longer than the kernel allows)."""
    if not path:
        raise TransportError("the socket path is empty")
    size = len(os.fsencode(path))
    if size > UNIX_PATH_MAX:
        raise TransportError(f"the socket path is {size} bytes long; a Unix socket path holds at most "
                             f"{UNIX_PATH_MAX}: use a shorter one")


def _embedded(description: str) -> Transport:
    from setkey_tui.kernel.sim.transport import SimTransport, shared_host

    return SimTransport(shared_host(), description=description, platform=LINUX)


def open_transport(spec: str | None = "auto", *, platform: Platform | None = None) -> Transport:
    """Open the transport ``spec`` names; :class:`TransportError` (one line) when it cannot.

    ``spec`` None or ``"auto"`` honours ``SETKEY_TUI_KERNEL`` first. The embedded simulated kernel is one per
    process, so every transport opened with ``sim`` (or an ``auto`` fallback) sees the same SAD and SPD.
    """
    if spec is None or spec == "auto":
        spec = default_spec()
    if spec == "auto":
        from setkey_tui.kernel.pfkey_socket import PFKeySocket, PFKeyUnavailable

        try:
            return PFKeySocket(platform=platform)
        except PFKeyUnavailable as exc:
            if exc.errno in (errno.EPERM, errno.EACCES):  # PF_KEY is there, but not for this user
                why = f"PF_KEY needs root or CAP_NET_ADMIN: {os.strerror(exc.errno).lower()}"
            else:
                why = f"no PF_KEY here: {os.strerror(exc.errno).lower()}"
        if (platform or current()).name == "linux":
            from setkey_tui.kernel.xfrm.transport import XfrmTransport, XfrmUnavailable

            try:
                return XfrmTransport(description=f"real kernel over XFRM netlink ({why})")
            except XfrmUnavailable as xexc:
                why += f"; XFRM netlink: {os.strerror(xexc.errno).lower()}"
        return _embedded(f"simulated kernel ({why})")
    if spec == "pfkey":
        from setkey_tui.kernel.pfkey_socket import PFKeySocket

        return PFKeySocket(platform=platform)
    if spec == "xfrm":
        from setkey_tui.kernel.xfrm.transport import XfrmTransport

        return XfrmTransport()
    if spec == "sim":
        return _embedded("simulated kernel (embedded)")
    if spec.startswith("sim@"):
        path = spec[4:]
        if not path:
            raise TransportError("sim@PATH needs the path of a served simulated kernel")
        check_socket_path(path)
        from setkey_tui.kernel.sim.client import SimClient

        client = SimClient(path)
        if not hasattr(client, "reply_timeout"):
            client.reply_timeout = SERVED_REPLY_TIMEOUT  # type: ignore[attr-defined]
        return client
    if spec.startswith("replay:"):
        path = spec[len("replay:") :]
        if not path:
            raise TransportError("replay:FILE needs the file of recorded messages")
        from setkey_tui.kernel.replay import ReplayTransport

        return ReplayTransport(path, platform or current())
    if spec.startswith("ssh:"):
        from setkey_tui.kernel.remote.transport import open_remote

        return open_remote(spec[len("ssh:") :])
    raise TransportError(f"unknown kernel {spec!r} (choose from {CHOICES})")
