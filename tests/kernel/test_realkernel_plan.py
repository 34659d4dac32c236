"""Plan and apply against the real Linux kernel (marker `kernel`, inside user-mode-linux) and the served
simulated kernel (everywhere): recorded scenarios plan as no change once applied, apply reaches what
``setkey -f`` reaches, the PF_KEY requests are make-before-break, and a request the kernel refuses mid-apply
leaves the kernel exactly as it was.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import replace

import pfkey_conversation as pc
import pytest
import scenario_replay as sr
from scenario_replay import served_sim

from setkey_tui.model import SecurityAssociation
from setkey_tui.pfkey.constants import ExtType, MsgType
from setkey_tui.pfkey.extensions import SAExt
from setkey_tui.plan.apply import apply_plan
from setkey_tui.plan.diff import make_plan
from setkey_tui.plan.ops import operations
from setkey_tui.plan.state import KernelState, snapshot
from setkey_tui.script import run_script
from setkey_tui.service import KeyService
from tests.plan.helpers import AK1, EK1, EK2, TracingTransport, esp

REAL = pytest.param(
    "pfkey",
    marks=[pytest.mark.kernel,
           pytest.mark.skipif(not pc.pfkey_available(),
                              reason="no PF_KEY socket in this kernel (run via uml/run_suite.py)")],
    id="real",
)
# Every recorded scenario whose script the kernel takes without a word (no special flags); the two where we
# deliberately differ from setkey (docs/compatibility.md) left out.
SCENARIOS = {s["id"]: s for s in sr.load_scenarios()
             if s.get("apply", {}).get("rc") == 0 and not s.get("apply", {}).get("stdout") and not s.get("args")
             and s["id"] not in ("deleteall", "replay-variants")}
SCENARIO_IDS = sorted(SCENARIOS)
FLUSHES = "flush;\nspdflush;\n"
START = (esp("10.0.0.1", "10.0.0.2", 0x1001, extra="-m tunnel")
         + esp("10.0.0.2", "10.0.0.1", 0x1002, extra="-m tunnel")
         + "spdadd 10.1.0.0/16 10.2.0.0/16 any -P out ipsec esp/tunnel/10.0.0.1-10.0.0.2/require;\n"
         + "spdadd 10.2.0.0/16 10.1.0.0/16 any -P in ipsec esp/tunnel/10.0.0.2-10.0.0.1/require;\n")
NEXT = (FLUSHES + esp("10.0.0.1", "10.0.0.2", 0x1001, extra="-m tunnel", ek=EK2)   # new key, same SPI
        + esp("10.0.0.2", "10.0.0.1", 0x2002, extra="-m tunnel")                   # rekeyed: new SPI
        + esp("10.0.0.5", "10.0.0.6", 0x5005, ek=EK1, ak=AK1)
        + "spdadd 10.1.0.0/16 10.2.0.0/16 any -P out ipsec esp/tunnel/10.0.0.1-10.0.0.2/require;\n"
        + "spdadd 10.2.0.0/16 10.1.0.0/16 any -P in prio 100 ipsec esp/tunnel/10.0.0.2-10.0.0.1/require;\n")


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    with served_sim() as spec:
        yield spec


@pytest.fixture(params=[REAL, pytest.param("sim", id="sim")])
def spec(request: pytest.FixtureRequest) -> Iterator[str]:
    """The kernel under test, emptied before and after."""
    spec = request.getfixturevalue("served") if request.param == "sim" else request.param
    conv = pc.Conversation(pc.open_transport(spec))
    conv.flush_all()
    yield spec
    conv.flush_all()
    conv.close()


def _service(spec: str) -> KeyService:
    return KeyService(pc.open_transport(spec))


def _run(spec: str, text: str) -> None:
    out = io.StringIO()
    run_script(text, pc.open_transport(spec), out=out, err=out)


def _state(spec: str) -> KernelState:
    svc = _service(spec)
    try:
        return snapshot(svc)
    finally:
        svc.close()


@pytest.mark.parametrize("sid", SCENARIO_IDS)
def test_recorded_scenario_applies_and_then_plans_no_change(spec: str, sid: str) -> None:
    script = SCENARIOS[sid]["script"]
    _run(spec, script)
    by_setkey = _state(spec)
    # Nothing a simulated copy of the real kernel shows differently may look like a change.
    plan = make_plan(_service(spec), FLUSHES + script)
    assert plan.empty, [c.sign + " " + str(c.fields) for c in plan.changes]
    # From an empty kernel, apply reaches what setkey -f reached.
    _run(spec, FLUSHES)
    plan = make_plan(_service(spec), FLUSHES + script)
    assert plan.counts["add"] == len(by_setkey)
    report = apply_plan(_service(spec), plan)
    assert report.outcome == "applied", report.text()
    assert by_setkey.same_as(_state(spec)), by_setkey.differences(_state(spec))


def _spi(m) -> int | None:
    sa = m.get(ExtType.SA)
    return sa.spi if isinstance(sa, SAExt) else None


def test_apply_is_make_before_break_on_the_wire(spec: str) -> None:
    _run(spec, START)
    plan = make_plan(_service(spec), NEXT)
    trace = TracingTransport(pc.open_transport(spec))  # type: ignore[arg-type]
    report = apply_plan(KeyService(trace), plan)  # type: ignore[arg-type]
    assert report.outcome == "applied", report.text()
    writes = [(m.type, _spi(m)) for m in trace.sent if m.type not in (MsgType.DUMP, MsgType.X_SPDDUMP)]
    assert writes.index((MsgType.ADD, 0x2002)) < writes.index((MsgType.DELETE, 0x1002))
    updates = [i for i, w in enumerate(writes) if w[0] == MsgType.X_SPDUPDATE]
    assert len(updates) == 2 and max(updates) < writes.index((MsgType.DELETE, 0x1002))
    i = writes.index((MsgType.DELETE, 0x1001))
    assert writes[i + 1] == (MsgType.ADD, 0x1001)
    assert (MsgType.X_SPDADD, None) not in writes  # the unchanged out policy is not touched
    _run(spec, FLUSHES)
    _run(spec, NEXT)
    assert _state(spec).same_as(plan.target)


def test_a_refused_sa_mid_apply_leaves_the_kernel_as_it_was(spec: str) -> None:
    _run(spec, START)
    before = _state(spec)
    plan = make_plan(_service(spec), NEXT)
    # The in-place replacement of 0x1001 gets a key the kernel refuses: its old SA is deleted by then.
    bad = []
    for c in plan.changes:
        if c.sign == "~" and isinstance(c.after, SecurityAssociation) and c.after.spi == 0x1001:
            c = replace(c, after=replace(c.after, enc_key=b"\x01" * 5))
        bad.append(c)
    plan = replace(plan, changes=tuple(bad))
    ops = [(op.verb, getattr(op.entry, "spi", None)) for op in operations(plan.changes)]
    assert ops.index(("add", 0x2002)) < ops.index(("delete", 0x1001)) < ops.index(("add", 0x1001))
    report = apply_plan(_service(spec), plan)
    assert report.outcome == "rolled-back", report.text()
    assert report.failed is not None and report.failed.verb == "add"
    assert (report.done[-1].verb, getattr(report.done[-1].entry, "spi", None)) == ("delete", 0x1001)
    after = _state(spec)
    assert before.same_as(after), before.differences(after)
    # Keys included: the restored SA has its original key.
    assert [sa.enc_key for k, sa in after.sas.items() if k[3] == 0x1001] == [bytes.fromhex(EK1[2:])]
