"""An export applied to an empty kernel recreates exactly the exported state (the kernel's automatic
``-P fwd`` copies of inbound policies are left out of the script: they come back with their ``-P in``)."""

from __future__ import annotations

import io

from setkey_tui.kernel.sim import SimTransport
from setkey_tui.mirror import SARow, SPRow
from setkey_tui.pfkey.constants import ExtType
from setkey_tui.pfkey.extensions import KeyExt, PolicyExt
from setkey_tui.scenarios import example_text
from setkey_tui.scenarios.sim import Clock, apply_script, sim_host
from setkey_tui.script import run_script
from setkey_tui.service import KeyService
from setkey_tui.tui.ops import automatic_fwd, export_text

EXTRA = (
    "spdadd 10.7.0.0/16 10.8.0.0/16 any -P in prio 5 ipsec esp/tunnel/192.0.2.7-192.0.2.8/unique:77 ;\n"
    # a fwd policy of its own (not the copy of an in policy): it stays in the export
    "spdadd 10.9.0.0/16 10.10.0.0/16 any -P fwd ipsec esp/tunnel/192.0.2.9-192.0.2.10/require ;\n"
)


def state(host) -> tuple[list[tuple], list[tuple]]:
    svc = KeyService(SimTransport(host))
    try:
        sas = sorted((r.key, r.state, r.reqid, r.mode_name, r.enc_name, r.auth_name, r.soft_deadline() is None,
                      r.hard_bytes, tuple(e for e in r.msg.extensions if isinstance(e, KeyExt)))
                     for r in map(SARow, svc.dump()))
        sps = sorted((r.key, r.action, r.priority, r.requests) for r in map(SPRow, svc.spddump()))
    finally:
        svc.close()
    return sas, sps


def export_of(host, *, with_keys: bool) -> str:
    svc = KeyService(SimTransport(host))
    try:
        return export_text([SARow(m) for m in svc.dump()], [SPRow(m) for m in svc.spddump()], with_keys=with_keys)
    finally:
        svc.close()


def test_export_applied_to_an_empty_kernel_recreates_the_state() -> None:
    clock = Clock()
    first = sim_host(clock)
    apply_script(first, example_text() + EXTRA, clock=clock)
    text = export_of(first, with_keys=True)
    assert "# 8 policies (3 fwd copies left out: setkey adds them with their -P in policies)" in text
    assert "10.9.0.0/16[any] 10.10.0.0/16[any] any -P fwd" in text or "10.9.0.0/16 10.10.0.0/16 any -P fwd" in text
    second = sim_host(clock)
    out, err = io.StringIO(), io.StringIO()
    transport = SimTransport(second)
    rc = run_script(text, transport, out=out, err=err, now=clock)
    transport.close()
    assert (rc, out.getvalue(), err.getvalue()) == (0, "", "")  # no "File exists" for a fwd copy
    assert state(second) == state(first)
    assert sorted(export_of(second, with_keys=True).splitlines()) == sorted(text.splitlines())


def test_only_true_copies_count_as_automatic() -> None:
    clock = Clock()
    host = sim_host(clock)
    apply_script(host, "spdadd 10.1.0.0/16 10.2.0.0/16 any -P in ipsec esp/tunnel/192.0.2.1-192.0.2.2/require ;\n",
                 clock=clock)
    svc = KeyService(SimTransport(host))
    rows = [SPRow(m) for m in svc.spddump()]
    svc.close()
    assert len(rows) == 2 and len(automatic_fwd(rows)) == 1
    fwd = next(r for r in rows if r.dir == 3)
    policy = fwd.msg.get(ExtType.X_POLICY)
    assert isinstance(policy, PolicyExt)
    changed = SPRow(fwd.msg.with_ext(policy._replace(priority=fwd.priority + 1)))  # no longer a copy
    assert automatic_fwd([r for r in rows if r.dir != 3] + [changed]) == set()
