"""A throwaway OpenSSH server on 127.0.0.1 for the remote-kernel tests, and an ssh config that reaches it.

:func:`local_sshd` makes a host key, a user key and a wrong user key in a temporary folder, starts
``/usr/sbin/sshd -D -e -f CONFIG`` on a free unprivileged port (public-key login only, this user, nothing read
from /etc/ssh), and yields a :class:`Sshd` whose ``ssh`` is the SETKEY_TUI_SSH value (``ssh -F CONFIG``).
Host aliases in that config: ``remote-test`` (the right key), ``remote-wrong-key`` (a key the server does not
know), ``remote-closed`` (a port nothing listens on).
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SSHD = "/usr/sbin/sshd"


class SshdUnavailable(Exception):
    """sshd cannot be had here (not installed, or it would not start): the tests skip (fail under CI)."""


@dataclass(frozen=True)
class Sshd:
    """A running test sshd."""

    folder: Path
    port: int
    config: Path
    ssh: str  # SETKEY_TUI_SSH for it


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "setkey-tui test", "-f", str(path)],
                   check=True, capture_output=True, timeout=30)


@contextlib.contextmanager
def local_sshd() -> Iterator[Sshd]:
    """Start the test sshd; SshdUnavailable when it cannot run here."""
    if not os.path.exists(SSHD) or shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        raise SshdUnavailable("OpenSSH's sshd/ssh are not installed (apt-get install openssh-server)")
    if os.geteuid() == 0 and not os.path.isdir("/run/sshd"):
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation directory
    folder = Path(tempfile.mkdtemp(prefix="setkey-sshd-"))
    proc: subprocess.Popen[bytes] | None = None
    closed_sock: socket.socket | None = None
    try:
        for name in ("host_key", "user_key", "wrong_key"):
            _keygen(folder / name)
        (folder / "authorized_keys").write_text((folder / "user_key.pub").read_text())
        port = _free_port()
        user = getpass.getuser()
        (folder / "sshd_config").write_text(f"""\
Port {port}
ListenAddress 127.0.0.1
HostKey {folder / "host_key"}
PidFile {folder / "sshd.pid"}
AuthorizedKeysFile {folder / "authorized_keys"}
PermitRootLogin prohibit-password
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
AllowUsers {user}
X11Forwarding no
AllowTcpForwarding no
PrintMotd no
LogLevel ERROR
""")
        host_pub = (folder / "host_key.pub").read_text().split()
        (folder / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
        common = f"""\
  HostName 127.0.0.1
  User {user}
  IdentitiesOnly yes
  UserKnownHostsFile {folder / "known_hosts"}
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  BatchMode yes
  PasswordAuthentication no
  ConnectTimeout 10
  LogLevel ERROR
"""
        # A port bound but never listened on refuses every connection, and nothing else can take it meanwhile.
        closed_sock = socket.socket()
        closed_sock.bind(("127.0.0.1", 0))
        closed = int(closed_sock.getsockname()[1])
        (folder / "ssh_config").write_text(
            f"Host remote-test\n  Port {port}\n  IdentityFile {folder / 'user_key'}\n{common}\n"
            f"Host remote-wrong-key\n  Port {port}\n  IdentityFile {folder / 'wrong_key'}\n{common}\n"
            f"Host remote-closed\n  Port {closed}\n  IdentityFile {folder / 'user_key'}\n{common}\n"
        )
        proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(folder / "sshd_config")],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60  # a loaded machine: a skip here would hide every ssh test
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace").strip() if proc.stderr else ""
                raise SshdUnavailable(f"sshd exited with status {proc.returncode}: {err}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline:
                raise SshdUnavailable("sshd did not listen within 60 s")
            time.sleep(0.05)
        yield Sshd(folder, port, folder / "ssh_config", f"ssh -F {shlex.quote(str(folder / 'ssh_config'))}")
    finally:
        if closed_sock is not None:
            closed_sock.close()
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stderr is not None:
                proc.stderr.close()
        shutil.rmtree(folder, ignore_errors=True)
