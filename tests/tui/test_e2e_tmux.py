"""End to end in a real terminal: tmux runs the TUI on a served simulated kernel, a second process applies
a script with ``-f``, and the screen (tmux capture-pane) shows the new SA and the monitor lines."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli.conftest import answers

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ("add 10.7.0.1 10.7.0.2 esp 0x7777 -m transport -E aes-cbc 0x00112233445566778899aabbccddeeff "
          "-A hmac-sha1 0x00112233445566778899aabbccddeeff00112233 ;\n")

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (apt-get install tmux)")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["TERM"] = "xterm-256color"
    env.pop("SETKEY_TUI_KERNEL", None)
    return env


def _capture(tmux: list[str]) -> str:
    return subprocess.run([*tmux, "capture-pane", "-p", "-t", "tui"], capture_output=True, text=True,
                          check=False).stdout


def _wait_screen(tmux: list[str], needle: str, timeout: float, *more: str) -> str:
    """The screen once every needle is on it (the table and the monitor pane repaint separately); the test
    fails, showing the screen, when one is still missing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        screen = _capture(tmux)
        if all(n in screen for n in (needle, *more)):
            return screen
        assert time.monotonic() < deadline, f"{(needle, *more)} not on the screen after {timeout:g} s:\n{screen}"
        time.sleep(0.2)


def test_tui_in_tmux_shows_sa_added_by_another_process(tmp_path: Path) -> None:
    sock = str(tmp_path / "sim.sock")
    env = _env()
    server = subprocess.Popen([sys.executable, "-m", "setkey_tui", "serve-sim", sock], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    tmux = ["tmux", "-L", f"setkey-tui-test-{os.getpid()}", "-f", os.devnull]
    try:
        deadline = time.monotonic() + 30
        while not answers(sock):  # the file exists from bind(), a connection is refused until listen()
            assert server.poll() is None and time.monotonic() < deadline, "the served simulated kernel did not start"
            time.sleep(0.05)
        cmd = f"{sys.executable} -m setkey_tui --kernel sim@{sock}"
        subprocess.run([*tmux, "new-session", "-d", "-s", "tui", "-x", "160", "-y", "48", cmd], env=env, cwd=ROOT,
                       check=True)
        screen = _wait_screen(tmux, "live", 60)
        assert "SAD 0" in screen, screen
        script = tmp_path / "add.conf"
        script.write_text(SCRIPT)
        done = subprocess.run([sys.executable, "-m", "setkey_tui", "--kernel", f"sim@{sock}", "-f", str(script)],
                              env=env, cwd=ROOT, capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stdout + done.stderr
        screen = _wait_screen(tmux, "0x00007777", 30, "sadb_x_sa2{ mode=1 reqid=0")
        assert "0x00007777" in screen and "10.7.0.1" in screen, screen
        assert "SAD 1 (mature 1)" in screen, screen
        assert "Monitor -x" in screen and "sadb_x_sa2{ mode=1 reqid=0" in screen, screen  # the monitor pane
        assert "ccddeeff" not in screen  # keys masked in the monitor too
        subprocess.run([*tmux, "send-keys", "-t", "tui", "q"], check=False)
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True, check=False)
        server.terminate()
        try:
            server.wait(5)
        except subprocess.TimeoutExpired:
            server.kill()
