"""The bridge over the real PF_KEY socket (marker `kernel`: inside user-mode-linux, see uml/README.md).

No sshd there: local_ssh.py stands in for ssh, so the bridge's stdin/stdout are a plain pipe pair, and
``--kernel ssh:uml/pfkey`` runs ``setkey-tui bridge --kernel pfkey`` beside the tests. Recorded real-kernel
scenarios replayed through it print what the real setkey printed; a bridge without CAP_NET_ADMIN relays the
kernel's refusal as one line.
"""

from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pfkey_conversation as pc
import pytest
import scenario_replay as sr

HERE = Path(__file__).resolve().parent
BRIDGE = f"{sys.executable} -m setkey_tui.kernel.remote.bridge"
SPEC = "ssh:uml/pfkey"
SCENARIOS = {s["id"]: s for s in sr.load_scenarios()}
# A few recorded scenarios: SAs with a -xx -H monitor, IPComp in tunnel mode, policies with unique:N and the
# fwd copies, and a script whose second half fails.
CHOSEN = ["esp-aes-cbc256-hmac-sha256", "ipcomp-tunnel-v4", "spd-in-unique-N", "halffail-syntax"]

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(not pc.pfkey_available(), reason="no PF_KEY socket in this kernel (run via uml/run_suite.py)"),
]


@pytest.fixture
def piped(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("SETKEY_TUI_SSH", f"{sys.executable} {HERE / 'local_ssh.py'}")
    monkeypatch.setenv("SETKEY_TUI_REMOTE_COMMAND", BRIDGE)
    yield SPEC


def test_the_description_names_the_host_and_the_real_kernel(piped: str) -> None:
    from setkey_tui.kernel.choose import open_transport

    t = open_transport(piped)
    try:
        assert t.description == "uml · real PF_KEY"
    finally:
        t.close()


_REFCNT = re.compile(r"\brefcnt=\d+")


def _without_policy_refcnt(result: dict) -> dict:
    """The result with -DP's policy refcnt hidden: Linux arms a one-second timer on every inserted policy and
    the timer holds a reference, so ``refcnt`` reads 2 during the first second after ``spdadd`` and 1 after.
    The recording dumped within that second; starting ssh and the bridge for each command takes longer in
    user-mode-linux. A timing artefact, not something the bridge changes."""
    out = dict(result)
    out["DP"] = dict(result["DP"], stdout=_REFCNT.sub("refcnt=<n>", result["DP"]["stdout"]))
    # the raw replies carry it in sadb_msg_reserved (bytes 6-7)
    out["spddump_hex"] = [h[:12] + "0000" + h[16:] for h in result["spddump_hex"]]
    return out


@pytest.mark.parametrize("sid", CHOSEN)
def test_recorded_scenarios_through_the_bridge_match_the_real_kernel(piped: str, sid: str) -> None:
    scenario = SCENARIOS[sid]
    observed = sr.replay(scenario, piped, monitor=bool(scenario.get("monitor")))
    sr.assert_same(_without_policy_refcnt(observed), _without_policy_refcnt(scenario),
                   what=f"through the bridge vs recording, {sid}")


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv (util-linux) is not installed")
def test_a_bridge_without_cap_net_admin_relays_the_refusal(piped: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SETKEY_TUI_REMOTE_COMMAND",
                       f"setpriv --bounding-set -net_admin --inh-caps -net_admin {BRIDGE}")
    result = sr.run_cli(["--kernel", piped, "-D"])
    assert result.rc == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert "uml: permission denied opening PF_KEY" in result.stderr, result.stderr
    assert "CAP_NET_ADMIN" in result.stderr


def test_a_send_the_kernel_refuses_is_reported_in_its_own_words(piped: str) -> None:
    """Linux refuses a message whose length field lies with EINVAL from send(): through the bridge the same
    words come from the next recv, the socket stays usable."""
    from setkey_tui.kernel.base import TransportError
    from setkey_tui.kernel.choose import open_transport
    from setkey_tui.kernel.pfkey_socket import PFKeySocket
    from setkey_tui.pfkey.constants import MsgType
    from setkey_tui.pfkey.message import header_only
    from setkey_tui.pfkey.platform import LINUX

    bad = bytearray(header_only(MsgType.DUMP, 0, pid=1).encode(LINUX))
    bad[4:6] = (3).to_bytes(2, "little")  # claims 24 bytes, has 16
    direct = PFKeySocket(platform=LINUX)
    try:
        with pytest.raises(TransportError) as want:
            direct.send(bytes(bad))
    finally:
        direct.close()
    t = open_transport(piped)
    try:
        t.send(bytes(bad))
        with pytest.raises(TransportError) as got:
            t.recv(10)
        assert str(got.value) == str(want.value)
        t.send(header_only(MsgType.X_SPDDUMP, 0, pid=1).encode(LINUX))
        assert t.recv(10) is not None
    finally:
        t.close()
