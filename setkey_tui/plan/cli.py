"""``setkey-tui plan`` and ``setkey-tui apply``: the command-line face of the plan package.

``plan FILE`` (or ``-c``: the script on stdin) prints what applying would change and exits 0 (nothing), 2
(changes) or 1 (error). ``apply`` shows the plan, asks (``--yes`` skips), converges and verifies; exit 0 when the
kernel holds the planned state, 1 otherwise. ``--dry-run`` prints the operations as setkey statements instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import NoReturn, TextIO

from setkey_tui.kernel.base import TransportError
from setkey_tui.kernel.choose import CHOICES, default_spec, open_transport
from setkey_tui.plan.apply import ApplyReport, apply_plan
from setkey_tui.plan.diff import Plan, PlanError, make_plan
from setkey_tui.plan.ops import Operation, operations
from setkey_tui.plan.render import operation_statement, plan_json, render_operations, render_text, title
from setkey_tui.service import KeyService

PROG = "setkey-tui"
EXIT_SAME, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _UsageError(message)


def build_parser(command: str) -> argparse.ArgumentParser:
    """The options of ``plan`` or ``apply``."""
    what = {"plan": "show what applying a setkey script would change in the kernel",
            "apply": "converge the kernel to a setkey script with the fewest operations, then verify"}[command]
    p = _Parser(prog=f"{PROG} {command}", description=what, add_help=False)
    p.add_argument("file", nargs="?", help="the setkey script (use -c to read it from stdin)")
    p.add_argument("-c", dest="stdin", action="store_true", help="read the script from stdin (setkey -c rules)")
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format (default text)")
    p.add_argument("--show-keys", action="store_true", help="show keys instead of masking them")
    p.add_argument("--dry-run", action="store_true", help="print the operations as setkey statements only")
    p.add_argument("--kernel", default=None, metavar="SPEC",
                   help=f"{CHOICES} (default: $SETKEY_TUI_KERNEL, else auto)")
    if command == "apply":
        p.add_argument("--yes", "-y", action="store_true", help="apply without asking")
    p.add_argument("-h", "--help", action="store_true", help="show this help")
    return p


def _read_script(opts: argparse.Namespace, stdin: TextIO) -> str:
    if opts.stdin:
        if opts.file is not None:
            raise _UsageError("give either FILE or -c, not both")
        return stdin.read()
    if opts.file is None:
        raise _UsageError("a setkey script is needed: FILE, or -c to read it from stdin")
    try:
        with open(opts.file, encoding="utf-8", errors="surrogateescape", newline="") as fh:  # CRs kept, as setkey
            return fh.read()
    except OSError as exc:
        raise PlanError(f"cannot read {opts.file}: {exc.strerror}") from None


def _json(plan: Plan, opts: argparse.Namespace, ops: list[Operation], report: ApplyReport | None = None) -> str:
    """One JSON object: the plan, with ``operations`` (dry run) or ``apply`` (the outcome)."""
    obj = plan_json(plan, show_keys=opts.show_keys)
    if opts.dry_run:
        obj["operations"] = [{"verb": op.verb, "title": title(op.entry),
                              "statement": operation_statement(op, show_keys=opts.show_keys, platform=plan.platform)}
                             for op in ops]
    if report is not None:
        obj["apply"] = {"outcome": report.outcome, "ok": report.ok, "operations": len(report.done),
                        "failed": None if report.failed is None else f"{report.failed.verb} {title(report.failed.entry)}",
                        "error": report.error, "differences": report.differences,
                        "rollback_operations": report.rollback_ops}
    return json.dumps(obj, indent=2) + "\n"


def _print_plan(plan: Plan, opts: argparse.Namespace, ops: list[Operation], out: TextIO, err: TextIO) -> None:
    if opts.format == "json":
        err.write(plan.script_err)
        if opts.dry_run or opts.command == "plan" or plan.empty or plan.script_status:
            out.write(_json(plan, opts, ops))
        return
    out.write(plan.script_out)
    err.write(plan.script_err)
    if opts.dry_run:
        out.write(render_operations(ops, show_keys=opts.show_keys, platform=plan.platform))
    else:
        out.write(render_text(plan, show_keys=opts.show_keys))


def _confirm(plan: Plan, ops: list[Operation], out: TextIO, stdin: TextIO) -> bool:
    out.write(f"Apply {len(ops)} operation(s) to the {plan.kernel}? [y/N] ")
    out.flush()
    answer = stdin.readline().strip().lower()
    return answer in ("y", "yes")


def _progress(err: TextIO, verbose: bool):  # type: ignore[no-untyped-def]
    def report(i: int, n: int, op: Operation) -> None:
        if verbose and i < n:
            err.write(f"[{i + 1}/{n}] {op.verb} {title(op.entry)}\n")
    return report


def main(argv: list[str], out: TextIO, err: TextIO, stdin: TextIO) -> int:
    """``plan ...`` or ``apply ...`` (``argv[0]`` is the command); the exit status."""
    if not argv or argv[0] not in ("plan", "apply"):
        err.write(f"{PROG}: expected 'plan' or 'apply'\n")
        return EXIT_ERROR
    command = argv[0]
    parser = build_parser(command)
    try:
        opts = parser.parse_args(argv[1:])
        opts.command = command
        if opts.help:
            out.write(parser.format_help())
            return EXIT_SAME
        if opts.stdin and command == "apply" and not (opts.yes or opts.dry_run):
            raise _UsageError("apply -c reads the script from stdin, so it cannot ask: add --yes")
        text = _read_script(opts, stdin)
    except (_UsageError, PlanError) as exc:
        err.write(f"{PROG} {command}: {exc}\n")
        return EXIT_ERROR
    spec = opts.kernel or default_spec()
    try:
        transport = open_transport(spec)
    except (TransportError, OSError, ValueError) as exc:
        err.write(f"{PROG} {command}: cannot open kernel '{spec}': {exc}\n")
        return EXIT_ERROR
    if spec == "auto" and "simulat" in transport.description.lower():
        err.write(f"{PROG}: using the {transport.description}\n")
    service = KeyService(transport)
    try:
        return _run(command, opts, text, service, out, err, stdin)
    except (PlanError, TransportError) as exc:
        err.write(f"{PROG} {command}: {exc}\n")
        return EXIT_ERROR
    finally:
        service.close()


def _run(command: str, opts: argparse.Namespace, text: str, service: KeyService, out: TextIO, err: TextIO,
         stdin: TextIO) -> int:
    plan = make_plan(service, text, stdin_mode=opts.stdin)
    ops = operations(plan.changes)
    _print_plan(plan, opts, ops, out, err)
    if plan.script_status != 0:
        err.write(f"{PROG} {command}: the script stopped with status {plan.script_status}: nothing to apply\n")
        return EXIT_ERROR
    if command == "plan" or opts.dry_run:
        return EXIT_SAME if plan.empty else EXIT_CHANGES
    if plan.empty:
        return EXIT_SAME
    ask = err if opts.format == "json" else out  # JSON output stays one object
    if not opts.yes and not _confirm(plan, ops, ask, stdin):
        ask.write("Not applied.\n")
        return EXIT_ERROR
    report = apply_plan(service, plan, _progress(err, opts.format == "text"))
    if opts.format == "json":
        out.write(_json(plan, opts, ops, report))
    else:
        (out if report.ok else err).write(report.text())
    return EXIT_SAME if report.ok else EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], sys.stdout, sys.stderr, sys.stdin))
