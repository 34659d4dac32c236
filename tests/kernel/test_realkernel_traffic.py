"""Traffic simulation on a real kernel (marker `kernel`, inside user-mode-linux): the real PF_KEY socket and the
XFRM transport do not declare the TrafficSimulator capability, so `KeyService.trace` and `setkey-tui traffic`
refuse at once, in one line, and send nothing; the same request on a served simulated kernel is traced."""

from __future__ import annotations

import pfkey_conversation as pc
import pytest
from scenario_replay import run_cli, served_sim

from setkey_tui.kernel.base import TrafficSimulator
from setkey_tui.packet import Packet, Verdict
from setkey_tui.service import KeyService, TrafficUnavailable

REAL_KERNEL = [pytest.mark.kernel,
               pytest.mark.skipif(not pc.pfkey_available(), reason="no PF_KEY socket in this kernel (run via "
                                                                    "uml/run_suite.py)")]
POLICY = "spdadd 10.1.0.0/24 10.2.0.0/24 any -P out ipsec esp/transport//require ;\n"


@pytest.mark.parametrize("spec", [pytest.param(s, marks=REAL_KERNEL, id=s) for s in ("pfkey", "xfrm")])
def test_traffic_on_a_real_kernel_is_refused_in_one_line(spec: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    script = tmp_path / "policy.conf"
    script.write_text(POLICY)
    assert run_cli(["--kernel", spec, "-FP"]).rc == 0
    assert run_cli(["--kernel", spec, "-f", str(script)]).rc == 0
    try:
        svc = KeyService(pc.open_transport(spec))
        try:
            assert not isinstance(svc.transport, TrafficSimulator) and not svc.can_simulate_traffic
            with pytest.raises(TrafficUnavailable) as exc:
                svc.trace(Packet.parse("10.1.0.1", "10.2.0.1"), 3)
            assert str(exc.value) == (
                f"traffic can only be simulated on the simulated kernel (this is: {svc.description})")
        finally:
            svc.close()
        r = run_cli(["--kernel", spec, "traffic", "10.1.0.1", "10.2.0.1", "--count", "3"])
        assert (r.rc, r.stdout) == (1, "")
        assert r.stderr.startswith("setkey-tui: traffic can only be simulated on the simulated kernel (this is: ")
        assert r.stderr.count("\n") == 1
        assert "10.1.0.0/24[any] 10.2.0.0/24[any]" in run_cli(["--kernel", spec, "-DP"]).stdout
    finally:
        run_cli(["--kernel", spec, "-FP"])


def test_the_same_request_is_traced_on_a_served_simulated_kernel(tmp_path) -> None:  # type: ignore[no-untyped-def]
    script = tmp_path / "policy.conf"
    script.write_text(POLICY)
    with served_sim() as spec:
        assert run_cli(["--kernel", spec, "-f", str(script)]).rc == 0
        svc = KeyService(pc.open_transport(spec))
        try:
            assert isinstance(svc.transport, TrafficSimulator)
            first, second = svc.trace(Packet.parse("10.1.0.1", "10.2.0.1"), 2)
        finally:
            svc.close()
        assert (first.verdict.verdict, first.verdict.acquires, second.verdict.acquires) == (Verdict.ACQUIRE, 1, 0)
        r = run_cli(["--kernel", spec, "traffic", "10.1.0.1", "10.2.0.1"])
        assert r.rc == 0 and r.stdout.endswith("matched: no SA: an ACQUIRE is already pending (larval SA), none "
                                               "raised again; the packet is dropped\n")
