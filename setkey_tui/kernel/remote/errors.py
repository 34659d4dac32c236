"""One-line errors for a remote kernel over ssh: what went wrong, where, and what to do."""

from __future__ import annotations

from collections.abc import Sequence

from setkey_tui.kernel.base import TransportError

SSH_FAILED = 255  # ssh's own exit status for its errors (connection, authentication, ...)
NOT_FOUND = 127  # a shell's exit status for a command it cannot find

_UNREACHABLE = (
    "could not resolve hostname", "connection refused", "no route to host", "network is unreachable",
    "connection timed out", "operation timed out", "connection reset", "connection closed by",
    "kex_exchange_identification", "name or service not known", "temporary failure in name resolution",
)
_AUTH = ("permission denied", "too many authentication failures", "no supported authentication methods")


class RemoteError(TransportError):
    """A remote kernel could not be opened or was lost (one line)."""


def _meaningful(lines: Sequence[str]) -> list[str]:
    """ssh's stderr without its routine warnings."""
    return [s.strip() for s in lines if s.strip() and not s.lstrip().lower().startswith("warning:")]


def ssh_not_found(program: str) -> RemoteError:
    """The ssh program is missing."""
    return RemoteError(f"ssh not found: cannot run {program!r} (install OpenSSH's client, or set SETKEY_TUI_SSH "
                       "to the ssh command to use)")


def classify_exit(host: str, status: int | None, stderr: Sequence[str]) -> RemoteError:
    """Why the ssh command ended before the bridge answered, from its exit status and its last stderr lines."""
    lines = _meaningful(stderr)
    lowered = [s.lower() for s in lines]
    last = lines[-1] if lines else ""
    if status == NOT_FOUND or any("command not found" in s or s.endswith(": not found") for s in lowered):
        said = f" (the remote shell said: {last})" if last else ""
        return RemoteError(f"setkey-tui is not installed on {host}, or not on its PATH for a non-interactive "
                           f"shell{said}: install it there or set SETKEY_TUI_REMOTE_COMMAND")
    if status == SSH_FAILED or status is None:
        for s, line in zip(lowered, lines, strict=True):
            if any(word in s for word in _AUTH):
                return RemoteError(f"ssh to {host}: authentication refused ({line})")
        for s, line in zip(lowered, lines, strict=True):
            if "host key verification failed" in s:
                return RemoteError(f"ssh to {host}: host key verification failed (check ~/.ssh/known_hosts)")
            if any(word in s for word in _UNREACHABLE):
                return RemoteError(f"cannot reach {host}: {line}")
        if status == SSH_FAILED:
            return RemoteError(f"ssh to {host} failed: {last or 'exit status 255'}")
    bridge = [s for s in lines if "setkey-tui" in s]
    if bridge:
        return RemoteError(f"{host}: {bridge[-1]}")
    what = f"exit status {status}" if status is not None else "no exit status"
    return RemoteError(f"{host}: the remote command ended before answering as a setkey-tui bridge "
                       f"({what}{': ' + last if last else ''})")


def handshake_timeout(host: str, seconds: float) -> RemoteError:
    """No hello from the bridge in time."""
    return RemoteError(f"{host} did not answer the setkey-tui bridge handshake within {seconds:g} s "
                       "(SETKEY_TUI_SSH_TIMEOUT sets the limit; check SETKEY_TUI_REMOTE_COMMAND)")


def connection_lost(host: str, why: str) -> RemoteError:
    """The ssh connection ended while in use."""
    return RemoteError(f"the connection to {host} was lost: {why}")


def refused(host: str, error: str) -> RemoteError:
    """The remote kernel refused the socket (its own one-line error, relayed)."""
    return RemoteError(f"{host}: {error}")
