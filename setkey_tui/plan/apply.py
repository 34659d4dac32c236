"""Carrying out a plan: check nothing moved, run the operations, dump and verify, roll back on any failure.

The snapshot the plan starts from (keys included) stays in memory only. When a request fails, or the kernel
does not hold the planned state afterwards (another process changed it meanwhile), the kernel is brought back
to the snapshot with the same make-before-break machinery, and verified again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from setkey_tui.kernel.base import TransportError
from setkey_tui.plan.diff import Plan, compare
from setkey_tui.plan.ops import Operation, operations
from setkey_tui.plan.render import title
from setkey_tui.plan.state import KernelState, snapshot
from setkey_tui.service import KernelReplyError, KeyService

Outcome = Literal["applied", "unchanged", "stale", "rolled-back", "rollback-failed"]
Progress = Callable[[int, int, Operation], None]


@dataclass
class ApplyReport:
    """What apply did: the outcome, the operations that went through, and why it stopped if it did."""

    outcome: Outcome
    done: list[Operation] = field(default_factory=list)
    failed: Operation | None = None
    error: str = ""
    differences: list[str] = field(default_factory=list)
    rollback_ops: int = 0

    @property
    def ok(self) -> bool:
        """True when the kernel now holds the planned state."""
        return self.outcome in ("applied", "unchanged")

    def text(self) -> str:
        """The outcome in a few lines."""
        n = len(self.done)
        if self.outcome == "unchanged":
            return "Nothing to apply: the kernel already holds the planned state.\n"
        if self.outcome == "applied":
            return f"Applied: {n} operation(s); the kernel holds the planned state (verified by a dump).\n"
        if self.outcome == "stale":
            return ("Nothing applied: the kernel changed since the plan was made; plan again.\n"
                    + "".join(f"  {d}\n" for d in self.differences))
        why = self.error or "verification failed"
        lines = [f"Apply failed: {why}"]
        if self.failed is not None:
            lines.append(f"  at: {self.failed.verb} {title(self.failed.entry)}")
        lines += [f"  {d}" for d in self.differences]
        if self.outcome == "rolled-back":
            lines.append(f"Rolled back ({self.rollback_ops} operation(s)): the kernel holds the state it started "
                         "from (verified by a dump).")
        else:
            lines.append("ROLLBACK FAILED: the kernel holds neither the planned nor the original state.")
        return "\n".join(lines) + "\n"


def run_operations(service: KeyService, ops: list[Operation], progress: Progress | None = None
                   ) -> tuple[list[Operation], Operation | None, str]:
    """Send ``ops`` in order until one fails: (done, the failed one or None, its error)."""
    done: list[Operation] = []
    for i, op in enumerate(ops):
        if progress is not None:
            progress(i, len(ops), op)
        try:
            service.request(op.message(service.platform))
        except (KernelReplyError, TransportError) as exc:
            return done, op, f"the kernel refused {op.verb} of {title(op.entry)}: {exc}"
        done.append(op)
    if progress is not None and ops:
        progress(len(ops), len(ops), ops[-1])
    return done, None, ""


def converge(service: KeyService, goal: KernelState, progress: Progress | None = None
             ) -> tuple[list[Operation], Operation | None, str]:
    """Bring the kernel from what it holds now to ``goal`` (rollback's tool)."""
    ops = operations(compare(snapshot(service), goal))
    return run_operations(service, ops, progress)


def apply_plan(service: KeyService, plan: Plan, progress: Progress | None = None) -> ApplyReport:
    """Carry out ``plan`` on the kernel of ``service``; never raises for a kernel refusal (see the report)."""
    try:
        now = snapshot(service)
    except (KernelReplyError, TransportError) as exc:
        return ApplyReport("stale", error=str(exc), differences=[f"cannot read the kernel: {exc}"])
    if not plan.live.same_as(now):
        return ApplyReport("stale", differences=plan.live.differences(now))
    if plan.empty:
        return ApplyReport("unchanged")
    done, failed, error = run_operations(service, operations(plan.changes), progress)
    differences: list[str] = []
    if failed is None:
        try:
            after = snapshot(service)
            if plan.target.same_as(after):
                return ApplyReport("applied", done)
            differences = plan.target.differences(after)
            error = "the kernel does not hold the planned state (another process changed it?)"
        except (KernelReplyError, TransportError) as exc:
            error = f"cannot verify: {exc}"
    report = ApplyReport("rollback-failed", done, failed, error, differences)
    try:
        rdone, rfailed, rerror = converge(service, plan.live)
        report.rollback_ops = len(rdone)
        if rfailed is None and plan.live.same_as(snapshot(service)):
            report.outcome = "rolled-back"
        elif rfailed is not None:
            report.differences.append(f"rollback: {rerror}")
    except (KernelReplyError, TransportError) as exc:
        report.differences.append(f"rollback: {exc}")
    return report
