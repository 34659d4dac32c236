"""``--kernel ssh:HOST/SPEC`` through a real sshd on 127.0.0.1 (sshd_harness.py) to a served simulated kernel.

The CLI through ssh prints what it prints on the served kernel directly (-D, -D -P, -x, -xx -H, -f: recorded
scenarios replayed both ways), a script applied through ssh reads back directly, the TUI through ssh shows a
change made directly on the kernel, and every failure is one clear line. Skipped loudly without sshd; under
CI=true a missing sshd fails.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import scenario_replay as sr
from child_processes import children, wait_children
from sim_build import sa_msg
from sshd_harness import Sshd, SshdUnavailable, local_sshd

from setkey_tui.kernel.sim.client import SimClient
from setkey_tui.pfkey.constants import ExtType
from setkey_tui.service import KeyService

BRIDGE = f"{sys.executable} -m setkey_tui.kernel.remote.bridge"
HOST = "remote-test"
SSH = "setkey_tui.kernel.remote.bridge"  # in the command line of each ssh to the test sshd
NOW = "1700000000"


@pytest.fixture(scope="module")
def sshd() -> Iterator[Sshd]:
    try:
        with local_sshd() as server:
            yield server
            return
    except SshdUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"sshd is needed under CI (.ci/run installs openssh-server): {exc}")
        pytest.skip(f"SKIPPED LOUDLY: no test sshd, the ssh remote-kernel tests did not run: {exc}")


@pytest.fixture(scope="module")
def sim_path() -> Iterator[str]:
    with sr.served_sim() as spec:
        yield spec.removeprefix("sim@")


@pytest.fixture
def ssh_env(sshd: Sshd, monkeypatch: pytest.MonkeyPatch, sim_path: str) -> str:
    """The environment that reaches the test sshd; returns the remote spec of the served kernel (flushed)."""
    monkeypatch.setenv("SETKEY_TUI_SSH", sshd.ssh)
    monkeypatch.setenv("SETKEY_TUI_REMOTE_COMMAND", BRIDGE)
    monkeypatch.setenv("SETKEY_TUI_SSH_TIMEOUT", "30")
    monkeypatch.delenv("SETKEY_TUI_KERNEL", raising=False)
    for flags in (["-F"], ["-F", "-P"]):
        assert sr.run_cli(["--kernel", f"sim@{sim_path}", *flags]).rc == 0
    return f"ssh:{HOST}/sim@{sim_path}"


SCRIPT = """\
add 10.0.0.1 10.0.0.2 esp 0x1001 -m tunnel -E aes-cbc 0x00112233445566778899aabbccddeeff
    -A hmac-sha1 0x00112233445566778899aabbccddeeff00112233;
add 10.0.0.2 10.0.0.1 ah 0x2002 -A hmac-sha256 0x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff;
spdadd 10.1.0.0/16 10.2.0.0/16 any -P out ipsec esp/tunnel/10.0.0.1-10.0.0.2/require;
spdadd 10.2.0.0/16 10.1.0.0/16 tcp -P in ipsec esp/tunnel/10.0.0.2-10.0.0.1/unique;
"""


def _cli(*args: str) -> sr.CliResult:
    return sr.run_cli(list(args))


def test_dumps_through_ssh_match_the_served_kernel(ssh_env: str, sim_path: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SETKEY_TUI_NOW", NOW)
    script = tmp_path / "s.conf"
    script.write_text(SCRIPT)
    applied = _cli("--kernel", ssh_env, "-f", str(script))
    assert (applied.rc, applied.stdout, applied.stderr) == (0, "", "")
    for flags in (["-D"], ["-D", "-P"], ["-D", "-a", "-p"], ["-D", "-P", "-p"]):
        through = _cli("--kernel", ssh_env, *flags)
        direct = _cli("--kernel", f"sim@{sim_path}", *flags)
        assert through == direct, flags
        assert through.rc == 0 and through.stdout.count("\n") > 5
    # read back directly, by messages: what the script sent through ssh is in the kernel
    svc = KeyService(SimClient(sim_path))
    try:
        spis = sorted(m.get(ExtType.SA).spi for m in svc.dump())  # type: ignore[union-attr]
        assert spis == [0x1001, 0x2002]
        assert len(svc.spddump()) == 3  # the "in" policy brings its fwd copy
    finally:
        svc.close()


def test_script_errors_and_exit_codes_through_ssh_are_setkeys(ssh_env: str, sim_path: str, tmp_path: Path) -> None:
    script = tmp_path / "bad.conf"
    script.write_text("add 10.0.0.1 10.0.0.2 esp 0x3003 -E aes-cbc 0x00112233445566778899aabbccddeeff;\n"
                      "add 10.0.0.1 10.0.0.2 esp 0x3003 -E aes-cbc 0x00112233445566778899aabbccddeeff;\n"
                      "delete 10.9.9.9 10.9.9.8 esp 0x9999;\n")
    through = _cli("--kernel", ssh_env, "-f", str(script))
    for flags in (["-F"], ["-F", "-P"]):
        _cli("--kernel", f"sim@{sim_path}", *flags)
    direct = _cli("--kernel", f"sim@{sim_path}", "-f", str(script))
    assert through == direct
    assert "The result of line 2: File exists." in through.stdout
    assert "The result of line 3: No such process." in through.stdout


SCENARIOS = {s["id"]: s for s in sr.load_scenarios()}
MONITORED = [sid for sid, s in SCENARIOS.items() if s.get("monitor") and sid not in ("deleteall",)][:2]


@pytest.mark.parametrize("sid", MONITORED)
def test_recorded_scenarios_with_monitors_through_ssh_match_the_served_kernel(ssh_env: str, sim_path: str,
                                                                              sid: str) -> None:
    """-f, -D, -DP, -D -a, -D -p, raw dumps and the -x / -xx -H monitors (in another process), both ways."""
    scenario = SCENARIOS[sid]
    through = sr.replay(scenario, ssh_env, monitor=True)
    direct = sr.replay(scenario, f"sim@{sim_path}", monitor=True)
    assert through["monitor"]["x"].count("sadb_msg{") >= 2
    sr.assert_same(through, direct, what=f"through ssh vs direct, {sid}")


def _one_line_failure(result: sr.CliResult, *needles: str) -> str:
    assert result.rc == 1 and result.stdout == "", result
    line = result.stderr
    assert line.count("\n") == 1 and "Traceback" not in line, line
    for needle in needles:
        assert needle in line, line
    return line


def test_ssh_not_found(ssh_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SETKEY_TUI_SSH", "/nonexistent/bin/ssh -F cfg")
    _one_line_failure(_cli("--kernel", ssh_env, "-D"), "ssh not found", "/nonexistent/bin/ssh", "SETKEY_TUI_SSH")


def test_host_unreachable(ssh_env: str) -> None:
    _one_line_failure(_cli("--kernel", "ssh:remote-closed", "-D"), "cannot reach remote-closed",
                      "Connection refused")


def test_authentication_refused(ssh_env: str) -> None:
    _one_line_failure(_cli("--kernel", "ssh:remote-wrong-key", "-D"),
                      "ssh to remote-wrong-key: authentication refused", "Permission denied")


@pytest.mark.parametrize("command", ["setkey-tui-not-installed", "/nonexistent/venv/bin/setkey-tui"])
def test_bridge_not_found_on_the_remote(ssh_env: str, monkeypatch: pytest.MonkeyPatch, command: str) -> None:
    monkeypatch.setenv("SETKEY_TUI_REMOTE_COMMAND", command)
    _one_line_failure(_cli("--kernel", ssh_env, "-D"), f"setkey-tui is not installed on {HOST}",
                      "SETKEY_TUI_REMOTE_COMMAND", command)


def test_remote_kernel_refused_relays_the_remote_error(ssh_env: str) -> None:
    line = _one_line_failure(_cli("--kernel", f"ssh:{HOST}/sim@/nonexistent/k.sock", "-D"),
                             f"{HOST}: cannot reach the simulated kernel at /nonexistent/k.sock")
    assert line.startswith(f"setkey-tui: cannot open kernel 'ssh:{HOST}/sim@/nonexistent/k.sock': ")


def test_remote_pfkey_refused_relays_the_remote_error(ssh_env: str) -> None:
    import pfkey_conversation as pc

    if pc.pfkey_available():
        pytest.skip("this machine has PF_KEY: the refusal is tested where it has none")
    _one_line_failure(_cli("--kernel", f"ssh:{HOST}/pfkey", "-D"), f"{HOST}: no PF_KEY in this kernel")


def test_version_mismatch_names_both_versions(ssh_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SETKEY_TUI_REMOTE_COMMAND", f"env SETKEY_TUI_FAKE_BRIDGE_PROTOCOL=99 {BRIDGE}")
    _one_line_failure(_cli("--kernel", ssh_env, "-D"), "speaks bridge protocol 99", "speaks protocol 1",
                      "install the same setkey-tui version on both sides")


def test_handshake_timeout(ssh_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SETKEY_TUI_REMOTE_COMMAND", "cat >/dev/null #")  # reads forever, never answers
    monkeypatch.setenv("SETKEY_TUI_SSH_TIMEOUT", "1.5")
    _one_line_failure(_cli("--kernel", ssh_env, "-D"), f"{HOST} did not answer the setkey-tui bridge handshake "
                      "within 1.5 s", "SETKEY_TUI_SSH_TIMEOUT")


def test_a_chatty_remote_shell_is_named(ssh_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SETKEY_TUI_REMOTE_COMMAND", "echo Welcome to gw1; cat >/dev/null #")
    _one_line_failure(_cli("--kernel", ssh_env, "-D"), "not a setkey-tui bridge (it said: 'Welcome to gw1')")


def test_the_description_names_the_host_and_the_remote_kernel(ssh_env: str, sim_path: str) -> None:
    from setkey_tui.kernel.choose import open_transport

    t = open_transport(ssh_env)
    try:
        assert t.description == f"{HOST} · simulated kernel served at {sim_path}"
    finally:
        t.close()


async def test_the_tui_through_ssh_shows_a_change_made_directly(ssh_env: str, sim_path: str) -> None:
    from setkey_tui.link import default_opener
    from setkey_tui.tui.app import SetkeyApp
    from setkey_tui.tui.widgets.badge import Badge

    opener, first = default_opener(ssh_env, None)
    app = SetkeyApp(opener, platform=first.platform)
    async with app.run_test(size=(160, 48)) as pilot:
        assert await _wait(pilot, lambda: app.loaded.is_set() and app.status == "live")
        assert app.link.kernel_description == f"{HOST} · simulated kernel served at {sim_path}"
        assert HOST in str(app.query_one(Badge).render())
        svc = KeyService(SimClient(sim_path))
        try:
            svc.request(sa_msg(spi=0x4242, src="10.4.0.1", dst="10.4.0.2"))
        finally:
            svc.close()
        assert await _wait(pilot, lambda: any(r.spi == 0x4242 for r in app.mirror.sad.rows.values()))
        # the connection drops (its ssh process dies): the badge says so and r connects again
        (ssh,) = children(SSH)
        os.kill(ssh, signal.SIGKILL)
        assert await _wait(pilot, lambda: app.link_broken)
        assert "lost" in app.status and "r connects again" in app.status
        await pilot.press("r")
        assert await _wait(pilot, lambda: not app.link_broken and app.status == "live")
        assert wait_children(SSH, 1) != [ssh]  # a new connection
        assert any(r.spi == 0x4242 for r in app.mirror.sad.rows.values())
        await pilot.press("q")


async def _wait(pilot, cond) -> bool:  # type: ignore[no-untyped-def]
    from tests.tui.helpers import wait_for

    return await wait_for(pilot, cond, 60)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_the_tui_in_tmux_through_ssh(ssh_env: str, sim_path: str, tmp_path: Path) -> None:
    env = dict(os.environ, TERM="xterm-256color")
    tmux = ["tmux", "-L", f"setkey-remote-{os.getpid()}", "-f", os.devnull]
    try:
        subprocess.run([*tmux, "new-session", "-d", "-s", "tui", "-x", "160", "-y", "48",
                        f"{sys.executable} -m setkey_tui --kernel {ssh_env}"], env=env, check=True)
        screen = _wait_screen(tmux, (f"{HOST} · simulated kernel", "live"), 40)
        script = tmp_path / "add.conf"
        script.write_text("add 10.7.0.1 10.7.0.2 esp 0x7777 -E aes-cbc 0x00112233445566778899aabbccddeeff;\n")
        assert _cli("--kernel", f"sim@{sim_path}", "-f", str(script)).rc == 0
        screen = _wait_screen(tmux, ("0x00007777", "SAD 1"), 20)
        assert "0x00007777" in screen and "10.7.0.1" in screen, screen
    finally:
        with contextlib.suppress(OSError):
            subprocess.run([*tmux, "kill-server"], capture_output=True, check=False)


def _wait_screen(tmux: list[str], needles: tuple[str, ...], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = subprocess.run([*tmux, "capture-pane", "-p", "-t", "tui"], capture_output=True, text=True,
                                check=False).stdout
        if all(n in screen for n in needles):
            return screen
        time.sleep(0.2)
    raise AssertionError(f"{needles} not on the screen:\n{screen}")
