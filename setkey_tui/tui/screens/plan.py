"""The plan screen: what applying a setkey file would change, then applying it.

A table of ``+`` / ``-`` / ``~`` rows (coloured, counted), a detail pane with the field changes of the cursor
row (keys masked), the script's own diagnostics, a confirmation that names the kernel, a progress bar while
applying and the verification result. Driven only through :mod:`setkey_tui.plan`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label, ProgressBar, Static

from setkey_tui.kernel.base import Transport
from setkey_tui.plan.apply import ApplyReport, apply_plan
from setkey_tui.plan.diff import Change, Plan, PlanError, make_plan
from setkey_tui.plan.ops import Operation, operations
from setkey_tui.plan.render import change_lines, summary, title
from setkey_tui.service import KeyService
from setkey_tui.tui.screens.dialogs import ConfirmScreen

STYLES = {"+": "bold green", "-": "bold red", "~": "bold yellow"}
WORDS = {"+": "add", "-": "remove", "~": "change"}


class PlanScreen(Screen[None]):
    """Plan ``text`` (the script of ``source``) against the kernel ``opener`` opens; ``a`` applies it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Close"),
        Binding("a", "apply", "Apply"),
    ]
    DEFAULT_CSS = """
    PlanScreen { layout: vertical; }
    #plan-title { text-style: bold; padding: 0 1; }
    #plan-table { height: 1fr; }
    #plan-detail { height: auto; max-height: 12; border: round $primary; padding: 0 1; }
    #plan-script { height: auto; max-height: 6; color: $warning; padding: 0 1; }
    #plan-progress { padding: 0 1; }
    #plan-result { height: auto; padding: 0 1; }
    """

    def __init__(self, opener: Callable[[], Transport], text: str, source: str = "the script") -> None:
        super().__init__()
        self.opener = opener
        self.text = text
        self.source = source
        self.plan: Plan | None = None
        self.report: ApplyReport | None = None
        self.error = ""
        self.applying = False

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Planning {self.source} …", id="plan-title", markup=False)
            yield DataTable(id="plan-table", cursor_type="row", zebra_stripes=True)
            yield Static("", id="plan-detail", markup=False)
            yield Static("", id="plan-script", markup=False)
            yield ProgressBar(id="plan-progress", show_eta=False)
            yield Static("", id="plan-result", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("", "entry", "what changes")
        self.query_one(ProgressBar).display = False
        self.make()

    # ------------------------------------------------------------------ planning
    @work(thread=True, exclusive=True, group="plan")
    def make(self) -> None:
        """Plan in a thread (dumps and the simulated copy take a moment on big kernels)."""
        try:
            service = KeyService(self.opener())
        except Exception as exc:  # noqa: BLE001 - any transport failure is shown, one line
            self.app.call_from_thread(self._failed, f"cannot open the kernel: {exc}")
            return
        try:
            plan = make_plan(service, self.text)
        except PlanError as exc:
            self.app.call_from_thread(self._failed, str(exc))
            return
        finally:
            service.close()
        self.app.call_from_thread(self.show_plan, plan)

    def _failed(self, message: str) -> None:
        self.error = message
        self.query_one("#plan-title", Label).update(f"Cannot plan {self.source}: {message}")

    def show_plan(self, plan: Plan) -> None:
        """Fill the table, the counts and the script's diagnostics."""
        self.plan = plan
        head = f"Plan of {self.source} for the {plan.kernel}: {summary(plan)}"
        if plan.script_status:
            head += f" — the script stopped (status {plan.script_status}): nothing can be applied"
        elif plan.empty:
            head += " — nothing to do"
        else:
            head += " — press a to apply"
        self.query_one("#plan-title", Label).update(head)
        table = self.query_one(DataTable)
        table.clear()
        for i, change in enumerate(plan.changes):
            sign = Text(change.sign, style=STYLES[change.sign])
            what = ", ".join(f.label for f in change.fields) if change.sign == "~" else WORDS[change.sign]
            if change.in_place:
                what += " (replaced in place)"
            table.add_row(sign, Text(title(change.entry), style=STYLES[change.sign].split()[-1]), what,
                          key=str(i))
        self.query_one("#plan-script", Static).update((plan.script_out + plan.script_err).rstrip())
        self._detail(0)

    def _detail(self, index: int) -> None:
        if self.plan is None or not 0 <= index < len(self.plan.changes):
            self.query_one("#plan-detail", Static).update("")
            return
        change: Change = self.plan.changes[index]
        self.query_one("#plan-detail", Static).update(
            "\n".join(change_lines(change, show_keys=False, platform=self.plan.platform)))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """Show the field changes of the cursor row."""
        self._detail(event.cursor_row)

    # ------------------------------------------------------------------ applying
    def action_apply(self) -> None:
        """Ask (naming the kernel), then apply."""
        plan = self.plan
        if plan is None or plan.empty or plan.script_status or self.applying or self.report is not None:
            return
        ops = operations(plan.changes)

        def answer(yes: object) -> None:
            if yes:
                self.applying = True
                bar = self.query_one(ProgressBar)
                bar.display = True
                bar.update(total=len(ops), progress=0)
                self.run_apply(plan)

        self.app.push_screen(ConfirmScreen(f"Apply {len(ops)} operation(s) to the {plan.kernel}?",
                                           summary(plan)), answer)

    @work(thread=True, exclusive=True, group="plan")
    def run_apply(self, plan: Plan) -> None:
        """Apply in a thread, reporting progress; then show the verified outcome."""
        def progress(i: int, n: int, op: Operation) -> None:
            self.app.call_from_thread(self._progress, i, n, op)

        try:
            service = KeyService(self.opener())
        except Exception as exc:  # noqa: BLE001 - shown, one line
            self.app.call_from_thread(self._failed, f"cannot open the kernel: {exc}")
            return
        try:
            report = apply_plan(service, plan, progress)
        finally:
            service.close()
        self.app.call_from_thread(self._done, report)

    def _progress(self, i: int, n: int, op: Operation) -> None:
        self.query_one(ProgressBar).update(total=n, progress=i)
        if i < n:
            self.query_one("#plan-result", Static).update(f"[{i + 1}/{n}] {op.verb} {title(op.entry)}")

    def _done(self, report: ApplyReport) -> None:
        self.applying = False
        self.report = report
        result = self.query_one("#plan-result", Static)
        result.update(Text(report.text().rstrip(), style="green" if report.ok else "bold red"))

    def action_close(self) -> None:
        """Back to where the screen was opened from (not while applying)."""
        if not self.applying:
            self.app.pop_screen()
