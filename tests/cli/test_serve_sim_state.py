"""`setkey-tui serve-sim PATH --sim-state FILE` through the command line: a state file that is not text is one
line and status 1, never a traceback; bytes that are not UTF-8 in a comment load as `-f` reads them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _serve(tmp_path: Path, state: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "setkey_tui", "serve-sim", str(tmp_path / "k.sock"), "--sim-state",
                           str(state)], capture_output=True, text=True, timeout=timeout, check=False,
                          env=dict(os.environ, PYTHONUNBUFFERED="1"))


def test_a_binary_state_file_is_one_line(tmp_path: Path) -> None:
    state = tmp_path / "state.bin"
    state.write_bytes(bytes(range(256)) * 4)
    done = _serve(tmp_path, state, 60)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"setkey-tui: serve-sim: the state script from {state} failed: line 1: ")


def test_a_latin1_comment_loads(tmp_path: Path) -> None:
    state = tmp_path / "state.conf"
    state.write_bytes(b"add 10.0.0.1 10.0.0.2 esp 0x1001 -E aes-cbc 0x00112233445566778899aabbccddeeff; # caf\xe9\n")
    proc = subprocess.Popen([sys.executable, "-m", "setkey_tui", "serve-sim", str(tmp_path / "k.sock"),
                             "--sim-state", str(state)], stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()
        assert first.startswith(f"setkey-tui: serving a simulated kernel at {tmp_path / 'k.sock'} (loaded 1 SA")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
