"""Boot Debian's user-mode-linux once and run one shell command inside it, against a real Linux kernel.

The guest sees the host's root file system read-only through hostfs, under a tmpfs overlay (nothing on the host
changes); only a fresh results folder under the host's temporary directory and the folders the caller names
(the project) are shared read-write.  The command's
standard output and error reach the host through two UML consoles (/dev/tty1, /dev/tty2 in the guest); the init
script (init.sh, beside this file) writes the command's exit status and timestamps into the results folder.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

HERE = Path(__file__).resolve().parent
INIT_SCRIPT = HERE / "init.sh"
UML_BINARIES = ("/usr/bin/linux.uml", "/usr/bin/linux")
MODULES_ROOT = Path("/usr/lib/uml/modules")
APT_PACKAGES = ("user-mode-linux", "busybox-static", "kmod")


class UmlError(Exception):
    """The guest could not be booted or did not report a result (the message says why)."""


@dataclass(frozen=True)
class UmlRun:
    """What one guest run produced."""

    status: int
    stdout: str
    stderr: str
    boot_seconds: float
    command_seconds: float
    total_seconds: float
    console_log: str
    files: dict[str, bytes]


def find_uml() -> str | None:
    """Path of the user-mode-linux kernel with its modules installed, or None."""
    for candidate in UML_BINARIES:
        if os.access(candidate, os.X_OK) and MODULES_ROOT.is_dir() and any(MODULES_ROOT.iterdir()):
            return candidate
    return None


def try_install() -> str:
    """Install user-mode-linux with apt when we are root on Debian/Ubuntu; return a note on what happened."""
    if os.geteuid() != 0:
        return "not root, cannot apt-get install user-mode-linux"
    if shutil.which("apt-get") is None:
        return "no apt-get on this system"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", *APT_PACKAGES]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:  # perhaps stale package lists: refresh them once and retry
        subprocess.run(["apt-get", "update"], env=env, capture_output=True, timeout=900, check=False)
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        return f"apt-get install failed ({done.returncode}): {tail[0]}"
    return "installed with apt-get"


def _pump(src: BinaryIO, sink: list[bytes], echo: Callable[[bytes], None] | None) -> None:
    """Copy a console pipe into `sink` (and to `echo`) until the guest closes it."""
    while True:
        chunk = os.read(src.fileno(), 65536)
        if not chunk:
            return
        sink.append(chunk)
        if echo is not None:
            echo(chunk)


def _group_members(pgid: int) -> list[int]:
    """Pids of the live (non-zombie) processes in process group `pgid`."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry))
    return members


def _kill_group(proc: subprocess.Popen[bytes], grace: float = 5.0) -> list[int]:
    """Kill the UML kernel and every helper process it started (its own process group); return survivors."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + grace
    while (left := _group_members(proc.pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def _read_ms(path: Path) -> float | None:
    try:
        return int(path.read_text().strip()) / 1000.0
    except (OSError, ValueError):
        return None


def run_in_uml(
    command: str,
    *,
    uml: str,
    timeout: float = 600.0,
    mem: str = "384M",
    echo_stdout: Callable[[bytes], None] | None = None,
    keep_results: bool = False,
    collect: tuple[str, ...] = (),
    share: tuple[Path, ...] = (),
) -> UmlRun:
    """Boot `uml`, run the bash `command` inside (as root, cwd /), power off; raise UmlError on any failure.

    Inside, $SETKEY_TUI_UML_RESULTS names the shared results folder; the files named in `collect` that the
    command wrote there come back in `UmlRun.files`.  `echo_stdout` receives the command's output live as it
    arrives.  After `timeout` seconds the kernel and all its processes are killed and UmlError says so.
    The host folders in `share` are mounted read-write at the same paths inside (after the guest's own tmpfs
    /tmp, so a project checked out under /tmp stays visible).
    """
    results = Path(tempfile.mkdtemp(prefix="setkey-uml-"))
    if any(c.isspace() for c in str(results)):
        raise UmlError(f"temporary folder {results} contains blanks; set TMPDIR to a simple path")
    shutil.copyfile(INIT_SCRIPT, results / "init.sh")
    (results / "init.sh").chmod(0o755)
    (results / "command.sh").write_text(command + "\n")
    for folder in share:
        if any(c.isspace() or c == "," for c in str(folder)):
            raise UmlError(f"cannot share {folder} with the guest: blanks and commas are not allowed in its path")
    (results / "share").write_text("".join(f"{folder.resolve()}\n" for folder in share))
    log_path = results / "uml.log"
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    console = open(results / "console.log", "wb")  # noqa: SIM115 - closed in finally
    argv = [
        uml,
        f"mem={mem}",
        "root=/dev/root",
        "rootfstype=hostfs",
        "rootflags=/",
        "ro",
        "cryptomgr.notests",
        "quiet",
        f"init={results / 'init.sh'}",
        f"setkeytui.results={results}",
        f"uml_dir={results}",
        "umid=setkey-tui",
        "con=null",
        f"con0=null,fd:{console.fileno()}",
        f"con1=null,fd:{out_w}",
        f"con2=null,fd:{err_w}",
        "ssl=null",
    ]
    out_chunks: list[bytes] = []
    err_chunks: list[bytes] = []
    start = time.monotonic()
    with open(log_path, "wb") as uml_log:
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=uml_log,
                stderr=subprocess.STDOUT,
                pass_fds=(console.fileno(), out_w, err_w),
                start_new_session=True,
            )
        except OSError as exc:
            raise UmlError(f"cannot start {uml}: {exc}") from exc
    os.close(out_w)
    os.close(err_w)
    readers = [
        threading.Thread(
            target=_pump, args=(os.fdopen(out_r, "rb", 0), out_chunks, echo_stdout), daemon=True
        ),
        threading.Thread(target=_pump, args=(os.fdopen(err_r, "rb", 0), err_chunks, None), daemon=True),
    ]
    for reader in readers:
        reader.start()
    timed_out = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        survivors = _kill_group(proc)
        console.close()
    for reader in readers:
        reader.join(timeout=5)
    total = time.monotonic() - start
    console_text = (results / "console.log").read_text(errors="replace")
    uml_text = log_path.read_text(errors="replace")
    status_text = (results / "rc").read_text().strip() if (results / "rc").exists() else ""
    t_init, t_ready, t_done = (_read_ms(results / name) for name in ("t_init", "t_ready", "t_done"))
    modprobe = (
        (results / "modprobe.log").read_text(errors="replace") if (results / "modprobe.log").exists() else ""
    )
    modprobe_rc = (results / "modprobe.rc").read_text().strip() if (results / "modprobe.rc").exists() else ""
    files = {name: (results / name).read_bytes() for name in collect if (results / name).is_file()}
    if not keep_results:
        shutil.rmtree(results, ignore_errors=True)
    stdout = b"".join(out_chunks).decode(errors="replace")
    stderr = b"".join(err_chunks).decode(errors="replace")
    if survivors:
        raise UmlError(f"user-mode-linux processes {survivors} survived SIGKILL; kill them by hand")
    if timed_out:
        raise UmlError(
            f"timed out after {timeout:.0f} s: the user-mode-linux guest was killed; "
            f"last console lines:\n{_tail(console_text + uml_text)}\nlast output:\n{_tail(stdout + stderr)}"
        )
    if modprobe_rc not in ("", "0"):
        raise UmlError(f"modprobe of the IPsec modules failed ({modprobe_rc}):\n{_tail(modprobe)}")
    if not status_text.isdigit():
        raise UmlError(
            f"the guest stopped (kernel exit {proc.returncode}) without reporting a result; console:\n"
            f"{_tail(console_text + uml_text)}"
        )
    boot = t_ready if t_ready is not None else 0.0
    command_time = (t_done - t_ready) if t_done is not None and t_ready is not None else total - boot
    return UmlRun(
        status=int(status_text),
        stdout=stdout,
        stderr=stderr,
        boot_seconds=boot,
        command_seconds=command_time,
        total_seconds=total,
        console_log=console_text,
        files=files,
    )


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _echo(chunk: bytes) -> None:
    sys.stdout.buffer.write(chunk)
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    run = run_in_uml(" ".join(sys.argv[1:]) or "uname -a", uml=find_uml() or "linux.uml", echo_stdout=_echo)
    sys.stderr.write(run.stderr)
    print(f"\nstatus {run.status}, boot {run.boot_seconds:.2f} s, command {run.command_seconds:.2f} s")
