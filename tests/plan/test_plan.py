"""Plans, operations, rendering and apply on the simulated kernel (unit tests)."""

from __future__ import annotations

import io
import json
import subprocess
import sys

from setkey_tui.model import SecurityAssociation
from setkey_tui.packet import Packet
from setkey_tui.pfkey.constants import MsgType
from setkey_tui.pfkey.extensions import SAExt
from setkey_tui.plan.apply import apply_plan
from setkey_tui.plan.diff import make_plan
from setkey_tui.plan.ops import operations
from setkey_tui.plan.render import render_json, render_operations, render_text
from tests.plan.helpers import AK2, EK2, Kernel, esp

TUNNEL = "-m tunnel"
BASE = (
    esp("10.0.0.1", "10.0.0.2", 0x1001, extra=TUNNEL)
    + esp("10.0.0.2", "10.0.0.1", 0x1002, extra=TUNNEL)
    + esp("10.0.0.1", "10.0.0.3", 0x3001)
    + "spdadd 10.1.0.0/16 10.2.0.0/16 any -P out ipsec esp/tunnel/10.0.0.1-10.0.0.2/require;\n"
    + "spdadd 10.2.0.0/16 10.1.0.0/16 any -P in ipsec esp/tunnel/10.0.0.2-10.0.0.1/require;\n"
)
FLUSHES = "flush;\nspdflush;\n"


def _spi(msg) -> int:
    sa = msg.get(1)
    assert isinstance(sa, SAExt)
    return sa.spi


def test_the_same_file_plans_no_change(kernel: Kernel) -> None:
    kernel.run(BASE)
    plan = make_plan(kernel.service(), FLUSHES + BASE)
    assert plan.empty and plan.script_status == 0
    assert plan.counts == {"add": 0, "change": 0, "remove": 0, "unchanged": 6}
    assert "nothing to do" in render_text(plan)


def test_plan_lists_adds_removals_and_field_changes(kernel: Kernel) -> None:
    kernel.run(BASE)
    script = (FLUSHES + esp("10.0.0.1", "10.0.0.2", 0x1001, extra=TUNNEL)
              + esp("10.0.0.2", "10.0.0.1", 0x2002, extra=TUNNEL)           # rekeyed: new SPI
              + esp("10.0.0.1", "10.0.0.3", 0x3001, extra="-lh 100 -ls 50")  # lifetimes only
              + "spdadd 10.1.0.0/16 10.2.0.0/16 any -P out ipsec esp/tunnel/10.0.0.1-10.0.0.2/require;\n"
              + "spdadd 10.2.0.0/16 10.1.0.0/16 any -P in ipsec esp/tunnel/10.0.0.2-10.0.0.1/use;\n")
    plan = make_plan(kernel.service(), script)
    signs = sorted((c.sign, c.is_sa) for c in plan.changes)
    assert signs == [("+", True), ("-", True), ("~", False), ("~", False), ("~", True)]
    text = render_text(plan)
    assert "+ SA esp 10.0.0.2 -> 10.0.0.1 spi 0x2002" in text
    assert "- SA esp 10.0.0.2 -> 10.0.0.1 spi 0x1002" in text
    assert "hard lifetime: none -> 100s" in text
    assert "requests: esp/tunnel/10.0.0.2-10.0.0.1/require -> esp/tunnel/10.0.0.2-10.0.0.1/use" in text
    assert plan.counts["unchanged"] == 2


def test_keys_are_masked_unless_asked(kernel: Kernel) -> None:
    kernel.run(BASE)
    plan = make_plan(kernel.service(), FLUSHES + BASE.replace("0x1001 -m tunnel -E aes-cbc 0x0011",
                                                               f"0x1001 -m tunnel -E aes-cbc {EK2[:6]}"))
    change = next(c for c in plan.changes if c.sign == "~")
    assert change.in_place
    masked = render_text(plan) + render_json(plan)
    assert "ffeedd" not in masked and "00112233" not in masked
    assert "<128-bit key, masked> -> <128-bit key, masked> (different key)" in masked
    shown = render_text(plan, show_keys=True)
    assert "encryption key: 0x00112233445566778899aabbccddeeff -> 0xffee2233445566778899aabbccddeeff" in shown
    data = json.loads(render_json(plan))
    assert data["changes"][0]["fields"][0] == {"field": "encryption key", "secret": True,
                                               "before": "<128-bit key, masked>",
                                               "after": "<128-bit key, masked>"}


def test_operations_are_make_before_break(kernel: Kernel) -> None:
    kernel.run(BASE)
    script = (FLUSHES + esp("10.0.0.1", "10.0.0.2", 0x1001, extra=TUNNEL, ak=AK2)   # in place (key)
              + esp("10.0.0.2", "10.0.0.1", 0x2002, extra=TUNNEL)                  # replaces 0x1002
              + "spdadd 10.1.0.0/16 10.2.0.0/16 any -P out ipsec esp/tunnel/10.0.0.1-10.0.0.2/require;\n"
              + "spdadd 10.2.0.0/16 10.1.0.0/16 any -P in prio 10 ipsec esp/tunnel/10.0.0.2-10.0.0.1/require;\n")
    plan = make_plan(kernel.service(), script)
    ops = [(op.verb, getattr(op.entry, "spi", None)) for op in operations(plan.changes)]
    assert ops.index(("add", 0x2002)) < ops.index(("delete", 0x1002))
    assert ops.index(("spdupdate", None)) < ops.index(("delete", 0x1002))
    assert ops.index(("spdupdate", None)) > ops.index(("add", 0x2002))
    i = ops.index(("delete", 0x1001))
    assert ops[i + 1] == ("add", 0x1001)  # replaced in place: adjacent
    assert ("delete", 0x3001) in ops  # not in the script any more
    # Traced on the kernel: the new SA is added before the old one goes, and unchanged entries are untouched.
    svc, trace = kernel.traced()
    report = apply_plan(svc, plan)
    assert report.outcome == "applied", report.text()
    writes = [(m.type, _spi(m) if m.type in (MsgType.ADD, MsgType.DELETE) else None) for m in trace.sent
              if m.type not in (MsgType.DUMP, MsgType.X_SPDDUMP)]
    assert writes.index((MsgType.ADD, 0x2002)) < writes.index((MsgType.DELETE, 0x1002))
    assert writes.count((MsgType.X_SPDUPDATE, None)) == 2  # in and its fwd copy; out is unchanged
    assert kernel.state().same_as(plan.target)


def test_sa_lifetime_change_is_an_update(kernel: Kernel) -> None:
    kernel.run(BASE)
    plan = make_plan(kernel.service(), FLUSHES + BASE.replace("esp 0x3001 ", "esp 0x3001 -lh 100 -ls 50 "))
    assert [op.verb for op in operations(plan.changes)] == ["update"]
    assert apply_plan(kernel.service(), plan).outcome == "applied"
    sa = kernel.state().sas[next(k for k in kernel.state().sas if k[3] == 0x3001)]
    assert isinstance(sa, SecurityAssociation) and sa.hard is not None and sa.hard.addtime == 100


def test_refused_sa_mid_apply_rolls_back_exactly(kernel: Kernel) -> None:
    kernel.run(BASE)
    before = kernel.state()
    script = (FLUSHES + esp("10.0.0.1", "10.0.0.2", 0x1001, extra=TUNNEL, ek=EK2)
              + esp("10.0.0.2", "10.0.0.1", 0x2002, extra=TUNNEL) + esp("10.0.0.5", "10.0.0.6", 0x5005)
              + "spdadd 10.2.0.0/16 10.1.0.0/16 any -P in ipsec esp/tunnel/10.0.0.2-10.0.0.1/use;\n")
    plan = make_plan(kernel.service(), script)
    svc, trace = kernel.traced()
    trace.refuse = lambda m: m.type == MsgType.ADD and _spi(m) == 0x5005  # the original never had it
    report = apply_plan(svc, plan)
    assert report.outcome == "rolled-back", report.text()
    assert report.failed is not None and getattr(report.failed.entry, "spi", None) == 0x5005
    after = kernel.state()
    assert before.same_as(after)
    assert "Rolled back" in report.text() and "the kernel refused add of SA esp" in report.text()


def test_a_concurrent_change_is_caught_and_undone(kernel: Kernel) -> None:
    kernel.run(BASE)
    before = kernel.state()
    plan = make_plan(kernel.service(), FLUSHES + BASE + esp("10.0.0.7", "10.0.0.8", 0x7007))

    def meddle(i: int, n: int, op) -> None:
        if i == 0:
            kernel.run(esp("10.9.0.1", "10.9.0.2", 0x9009))

    report = apply_plan(kernel.service(), plan, meddle)
    assert report.outcome == "rolled-back"
    assert any("unexpected" in d for d in report.differences)
    assert before.same_as(kernel.state())


def test_a_stale_plan_is_not_applied(kernel: Kernel) -> None:
    kernel.run(BASE)
    plan = make_plan(kernel.service(), FLUSHES)
    kernel.run(esp("10.9.0.1", "10.9.0.2", 0x9009))
    svc, trace = kernel.traced()
    report = apply_plan(svc, plan)
    assert report.outcome == "stale" and not report.done
    assert {m.type for m in trace.sent} <= {MsgType.DUMP, MsgType.X_SPDDUMP}
    assert "plan again" in report.text()


def test_dry_run_prints_setkey_statements(kernel: Kernel) -> None:
    kernel.run(BASE)
    plan = make_plan(kernel.service(), FLUSHES + esp("10.0.0.1", "10.0.0.2", 0x1001, extra=TUNNEL))
    text = render_operations(operations(plan.changes))
    assert "delete 10.0.0.2 10.0.0.1 esp 0x1002 ;" in text
    assert "spddelete 10.1.0.0/16 10.2.0.0/16 any -P out ;" in text
    assert text.index("spddelete") < text.index("delete 10.0.0.2")


# --------------------------------------------------------------------------- the command line
def _main(args: list[str], stdin: str = "") -> tuple[int, str, str]:
    from setkey_tui.plan.cli import main

    out, err = io.StringIO(), io.StringIO()
    status = main(args, out, err, io.StringIO(stdin))
    return status, out.getvalue(), err.getvalue()


def test_cli_exit_statuses_and_apply(tmp_path, monkeypatch) -> None:
    from setkey_tui.kernel.sim import reset_shared_host

    reset_shared_host()
    monkeypatch.setenv("SETKEY_TUI_KERNEL", "sim")
    f = tmp_path / "ipsec.conf"
    f.write_text(FLUSHES + BASE)
    status, out, _ = _main(["plan", str(f)])
    assert status == 2 and "6 to add" in out
    status, out, _ = _main(["apply", str(f)], stdin="n\n")
    assert status == 1 and "Apply 6 operation(s) to the simulated kernel (embedded)? [y/N]" in out
    assert "Not applied." in out
    status, out, err = _main(["apply", str(f)], stdin="y\n")
    assert status == 0 and "Applied: 6 operation(s)" in out and "[1/6] add SA esp" in err
    assert _main(["plan", str(f)])[0] == 0
    status, out, _ = _main(["plan", "-c", "--format", "json"], stdin="flush;\n")
    assert status == 2 and json.loads(out)["summary"]["remove"] == 3
    reset_shared_host()


def test_cli_errors_are_one_line(tmp_path) -> None:
    (tmp_path / "x.conf").write_text(FLUSHES)
    x = str(tmp_path / "x.conf")
    for args, words in ((["plan"], "a setkey script is needed"),
                        (["plan", str(tmp_path / "none.conf"), "--kernel", "sim"], "cannot read"),
                        (["plan", x, "--format", "yaml"], "invalid choice"),
                        (["plan", x, "--kernel", "bogus"], "unknown kernel"),
                        (["apply", "-c", "--kernel", "sim"], "add --yes")):
        status, out, err = _main(args)
        assert status == 1 and words in err and err.count("\n") == 1, (args, err)


def test_cli_script_diagnostics_are_setkey_s(tmp_path) -> None:
    f = tmp_path / "bad.conf"
    f.write_text("delete 10.9.9.9 10.9.9.8 esp 0x99;\nadd 1.1.1.1 2.2.2.2 esp 0x1000 -E aes-cbc 0x0011;\n")
    proc = subprocess.run([sys.executable, "-m", "setkey_tui.plan.cli", "plan", str(f), "--kernel", "sim"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stdout.startswith("The result of line 1: No such process.\nline 2: Invalid key length at "
                                  "[0x0011]\nparse failed, line 2.\n")
    assert "the script stopped with status 1: nothing to apply" in proc.stderr


def test_a_live_entry_the_copy_refuses_is_a_clear_error(kernel: Kernel) -> None:
    from setkey_tui.algorithms import LINUX_SUPPORTED_AUTH, LINUX_SUPPORTED_ENCRYPT
    from setkey_tui.plan.diff import PlanError, _sim_copy

    kernel.run(BASE)
    no_sha256 = tuple(a for a in LINUX_SUPPORTED_AUTH if a.id != 5)
    try:
        _sim_copy(kernel.state(), (no_sha256, LINUX_SUPPORTED_ENCRYPT))
    except PlanError as exc:
        assert str(exc).startswith("the simulated copy refuses the live SA esp 10.0.0.1 -> 10.0.0.2 spi 0x1001: ")
    else:
        raise AssertionError("the copy took an SA with an algorithm it does not support")


def test_cli_json_apply_and_dry_run_stay_one_object(tmp_path, monkeypatch) -> None:
    from setkey_tui.kernel.sim import reset_shared_host

    reset_shared_host()
    monkeypatch.setenv("SETKEY_TUI_KERNEL", "sim")
    f = tmp_path / "ipsec.conf"
    f.write_text(FLUSHES + BASE)
    status, out, _ = _main(["apply", "--dry-run", "--format", "json", str(f)])
    data = json.loads(out)
    assert status == 2 and [op["verb"] for op in data["operations"]] == ["add"] * 3 + ["spdadd"] * 3
    status, out, err = _main(["apply", "--format", "json", str(f)], stdin="y\n")
    data = json.loads(out)
    assert status == 0 and data["apply"]["outcome"] == "applied" and data["apply"]["operations"] == 6
    assert "[y/N]" in err
    reset_shared_host()



def test_a_require_flow_stays_protected_at_every_step(kernel: Kernel) -> None:
    """Make-before-break, observed: a packet of a flow a `require` policy covers, sent through the simulated
    kernel before every operation and after the last, is protected every time (old and new both protect it)."""
    kernel.run(BASE)
    rekey = (FLUSHES + esp("10.0.0.1", "10.0.0.2", 0x3003, extra=TUNNEL)             # replaces 0x1001
             + esp("10.0.0.2", "10.0.0.1", 0x1002, extra=TUNNEL)
             + "spdadd 10.1.0.0/16 10.2.0.0/16 any -P out prio 7 ipsec esp/tunnel/10.0.0.1-10.0.0.2/require;\n"
             + "spdadd 10.2.0.0/16 10.1.0.0/16 any -P in ipsec esp/tunnel/10.0.0.2-10.0.0.1/require;\n")
    plan = make_plan(kernel.service(), rekey)
    probe = kernel.transport()
    verdicts: list[tuple[str, str]] = []

    def send_packet(i: int, n: int, op) -> None:
        verdict = probe.simulate_traffic(Packet.parse("10.1.0.5", "10.2.0.5", 6, sport=1000, dport=80))
        verdicts.append((f"before {op.verb} {getattr(op.entry, 'spi', '')}", str(verdict.verdict)))

    report = apply_plan(kernel.service(), plan, send_packet)
    assert report.outcome == "applied", report.text()
    send_packet(0, 0, report.done[-1])
    assert len(verdicts) >= 4 and {v for _, v in verdicts} == {"protected"}, verdicts
    # The same file replayed by -F; -FP; -f leaves the flow without protection on the way.
    kernel.run(FLUSHES + BASE)
    kernel.run("flush;\n")
    assert probe.simulate_traffic(Packet.parse("10.1.0.5", "10.2.0.5", 6, sport=1000, dport=80)).verdict != "protected"
