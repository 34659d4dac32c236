"""The simulated kernel's records seen through the model: ``view().to_message()`` is the record's message."""

from __future__ import annotations

import io

import pytest
from sim_build import getspi_msg, policy_msg, sa_msg, send
from sim_recorded import scenarios

from setkey_tui.kernel.sim.kernel import SimKernel
from setkey_tui.kernel.sim.transport import SimHost, SimTransport
from setkey_tui.model import SecurityAssociation, SecurityPolicy
from setkey_tui.packet import Packet
from setkey_tui.pfkey.constants import ExtType, Level, Mode, MsgType
from setkey_tui.pfkey.extensions import (
    AddressExt,
    IpsecRequest,
    LifetimeExt,
    NatTPortExt,
    NatTTypeExt,
    Sockaddr,
)
from setkey_tui.pfkey.platform import LINUX
from setkey_tui.script import run_script

SCENARIOS = scenarios()


def assert_views_agree(kernel: SimKernel) -> int:
    """Every SA and policy: the model view's message is the record's, byte for byte, in every form the kernel
    sends (keys or not, soft or hard limits only, any seq/pid/refcnt). Returns how many were checked."""
    for rec in kernel.sas.values():
        for keys, hsc in ((True, 3), (False, 1), (False, 2)):
            view = rec.view(seq=7, pid=9, keys=keys, hsc=hsc)
            assert isinstance(view, SecurityAssociation)
            mine = rec.message(MsgType.DUMP, seq=7, pid=9, keys=keys, hsc=hsc).encode(LINUX)
            assert view.to_message(MsgType.DUMP, LINUX).encode(LINUX) == mine
            assert view.key == rec.key  # one key: the store's is the model's
    for pol in kernel.policies.values():
        view = pol.view(seq=3, pid=4, refcnt=2)
        assert isinstance(view, SecurityPolicy)
        mine = pol.message(MsgType.X_SPDDUMP, seq=3, pid=4, refcnt=2).encode(LINUX)
        assert view.to_message(MsgType.X_SPDDUMP, LINUX).encode(LINUX) == mine
        assert view.key == pol.key
    return len(kernel.sas) + len(kernel.policies)


@pytest.mark.parametrize("sid", sorted(SCENARIOS))
def test_records_of_the_recorded_scenarios(sid: str) -> None:
    r = SCENARIOS[sid]
    host = SimHost(SimKernel(clock=lambda: 1_795_726_847.0, seed=0))
    t = SimTransport(host)
    run_script(r["script"], t, kernel_mode="-k" in (r.get("args") or []), out=io.StringIO(), err=io.StringIO(),
               now=lambda: 1_795_726_847.0)
    t.close()
    assert_views_agree(host.kernel)


def test_records_with_nat_t_proxies_larval_states_and_tunnels() -> None:
    k = SimKernel(clock=lambda: 1_700_000_000, seed=1)
    a = k.open_socket()
    natt = (NatTTypeExt(2), NatTPortExt(ExtType.X_NAT_T_SPORT, 4500), NatTPortExt(ExtType.X_NAT_T_DPORT, 4501))
    send(k, a, sa_msg(spi=0x201, extra=natt))
    proxy = AddressExt(ExtType.ADDRESS_PROXY, Sockaddr(2, 0, bytes([10, 7, 0, 0])), 6, 16)
    hard = LifetimeExt(ExtType.LIFETIME_HARD, 10, 20, 30, 40)
    soft = LifetimeExt(ExtType.LIFETIME_SOFT, 1, 2, 3, 4)
    send(k, a, sa_msg(spi=0x202, mode=Mode.TUNNEL, reqid=5, hard=hard, soft=soft, extra=(proxy,)))
    send(k, a, sa_msg(spi=0x203, src="fd00::1", dst="fd00::2"))
    send(k, a, getspi_msg(lo=0x5000, hi=0x5000))  # a larval SA
    tunnel = (IpsecRequest(50, Mode.TUNNEL, Level.UNIQUE, 0, Sockaddr(2, 0, bytes([1, 2, 3, 4])),
                           Sockaddr(2, 0, bytes([5, 6, 7, 8]))),)
    send(k, a, policy_msg(requests=tunnel, proto=17))
    send(k, a, policy_msg(src="fd00::", dst="fd01::", prefix=64))
    assert k.simulate_traffic(Packet.parse("10.1.0.9", "10.2.0.9", 17)).acquires == 1  # an acquire state with a selector
    assert assert_views_agree(k) == 7
