"""A plan for people (``+`` / ``-`` / ``~`` lines, field changes, keys masked) and for machines (JSON), and
operations as setkey statements (``apply --dry-run``)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from setkey_tui.model import Endpoint, IpsecRequest, SecurityAssociation, SecurityPolicy
from setkey_tui.pfkey.platform import LINUX, Platform
from setkey_tui.plan.diff import Change, FieldChange, Plan
from setkey_tui.plan.ops import Operation
from setkey_tui.render.export import ExportError, sa_to_statement, sp_to_statement
from setkey_tui.render.names import (
    LEVEL_NAMES,
    MODE_NAMES,
    POLICY_DIR_NAMES,
    POLICY_TYPE_NAMES,
    REQUEST_PROTO_NAMES,
    SATYPE_NAMES,
    protocol_name,
)

SIGN_WORDS = {"+": "add", "-": "remove", "~": "change"}


def _name(table: tuple[str, ...] | dict[int, str], value: int) -> str:
    if isinstance(table, dict):
        return table.get(value, str(value))
    return table[value] if 0 <= value < len(table) else str(value)


def sa_title(sa: SecurityAssociation) -> str:
    """``SA esp 10.0.0.1 -> 10.0.0.2 spi 0x1001``."""
    return f"SA {_name(SATYPE_NAMES, sa.satype)} {sa.src.address} -> {sa.dst.address} spi 0x{sa.spi:x}"


def policy_title(sp: SecurityPolicy, platform: Platform = LINUX) -> str:
    """``policy out 10.0.0.0/24 -> 10.0.1.0/24 any``."""
    sel = sp.selector
    upper = "any" if sel is None or sel.upper == 255 else protocol_name(sel.upper, platform)
    where = "(socket)" if sel is None else f"{sel.src} -> {sel.dst} {upper}"
    return f"policy {_name(POLICY_DIR_NAMES, sp.direction)} {where}"


def title(entry: SecurityAssociation | SecurityPolicy) -> str:
    """The title of an SA or a policy."""
    return sa_title(entry) if isinstance(entry, SecurityAssociation) else policy_title(entry)


def _key_text(key: object, show_keys: bool) -> str:
    data = key if isinstance(key, bytes) else b""
    if not data:
        return "none"
    return "0x" + data.hex() if show_keys else f"<{len(data) * 8}-bit key, masked>"


def _life_text(value: Any) -> str:
    addtime, nbytes, allocs, usetime = value
    if not any((addtime, nbytes, allocs, usetime)):
        return "none"
    parts = []
    if addtime:
        parts.append(f"{addtime}s")
    if nbytes:
        parts.append(f"{nbytes} bytes")
    if allocs:
        parts.append(f"{allocs} allocations")
    if usetime:
        parts.append(f"{usetime}s after first use")
    return ", ".join(parts)


def _request_text(r: IpsecRequest) -> str:
    ends = f"{r.src}-{r.dst}" if r.src is not None and r.dst is not None else ""
    level = _name(LEVEL_NAMES, r.level) + (f":{r.reqid}" if r.reqid else "")
    return f"{_name(REQUEST_PROTO_NAMES, r.proto)}/{_name(MODE_NAMES, r.mode)}/{ends}/{level}"


def value_text(f: FieldChange | None, label: str, value: Any, *, is_sa: bool, show_keys: bool,
               platform: Platform = LINUX) -> str:
    """One compared value in words (keys masked unless ``show_keys``)."""
    if f is not None and f.secret:
        return _key_text(value, show_keys)
    if label.endswith("lifetime"):
        return _life_text(value)
    if label == "source" and is_sa:
        ep, ulproto = value
        return str(ep) + (f" (upper-layer {ulproto})" if ulproto not in (0, 255) else "")
    if label == "mode":
        return _name(MODE_NAMES, value) if isinstance(value, int) and value != 3 else "beet"
    if label == "encryption":
        return str(platform.enc_names.get(value, value))
    if label == "authentication":
        return str(platform.auth_names.get(value, value))
    if label == "action":
        return _name(POLICY_TYPE_NAMES, value)
    if label == "requests":
        return " ".join(_request_text(r) for r in value) or "none"
    if label == "flags":
        return f"0x{value:x}"
    if label == "nat-t":
        ntype, sport, dport, oa = value
        return "none" if not ntype else f"type {ntype}, ports {sport} -> {dport}" + (f", OA {oa}" if oa else "")
    if label == "proxy":
        ep, proto = value
        return "none" if ep is None else f"{ep} proto {proto}"
    if isinstance(value, Endpoint):
        return str(value)
    return str(value)


def field_lines(change: Change, *, show_keys: bool, platform: Platform = LINUX) -> list[str]:
    """``label: before -> after`` for each field of a changed entry."""
    out = []
    for f in change.fields:
        before = value_text(f, f.label, f.before, is_sa=change.is_sa, show_keys=show_keys, platform=platform)
        after = value_text(f, f.label, f.after, is_sa=change.is_sa, show_keys=show_keys, platform=platform)
        if f.secret and not show_keys and before == after:
            after += " (different key)"
        out.append(f"{f.label}: {before} -> {after}")
    return out


def statement(entry: SecurityAssociation | SecurityPolicy, *, show_keys: bool, platform: Platform = LINUX) -> str:
    """The ``add``/``spdadd`` statement of an entry, one line (keys zeroed unless ``show_keys``)."""
    try:
        if isinstance(entry, SecurityAssociation):
            return sa_to_statement(entry, with_keys=show_keys, platform=platform).splitlines()[-1]
        return sp_to_statement(entry, platform=platform).rstrip("\n")
    except ExportError as exc:
        return f"# {title(entry)} ({exc})"


def summary(plan: Plan) -> str:
    """``2 to add, 1 to change, 1 to remove, 12 unchanged``."""
    c = plan.counts
    return f"{c['add']} to add, {c['change']} to change, {c['remove']} to remove, {c['unchanged']} unchanged"


def change_lines(change: Change, *, show_keys: bool, platform: Platform = LINUX) -> list[str]:
    """One change: its sign and title, then indented details."""
    head = f"{change.sign} {title(change.entry)}"
    if change.in_place:
        head += "  (replaced in place: same SPI, deleted then re-added)"
    lines = [head]
    if change.sign == "~":
        lines += ["    " + line for line in field_lines(change, show_keys=show_keys, platform=platform)]
    else:
        lines.append("    " + statement(change.entry, show_keys=show_keys, platform=platform))
    return lines


def render_text(plan: Plan, *, show_keys: bool = False) -> str:
    """The plan as a person reads it."""
    lines = [f"Plan for the {plan.kernel}: {summary(plan)}"]
    if plan.empty:
        lines.append("The kernel already holds what the script describes: nothing to do.")
    for change in plan.changes:
        lines.append("")
        lines += change_lines(change, show_keys=show_keys, platform=plan.platform)
    return "\n".join(lines) + "\n"


def _entry_json(entry: SecurityAssociation | SecurityPolicy | None, show_keys: bool,
                platform: Platform) -> dict[str, Any] | None:
    if entry is None:
        return None
    if isinstance(entry, SecurityAssociation):
        ident: dict[str, Any] = {"kind": "sa", "satype": _name(SATYPE_NAMES, entry.satype),
                                 "src": str(entry.src.address), "dst": str(entry.dst.address),
                                 "spi": entry.spi}
    else:
        sel = entry.selector
        ident = {"kind": "policy", "direction": _name(POLICY_DIR_NAMES, entry.direction),
                 "src": str(sel.src) if sel else None, "dst": str(sel.dst) if sel else None,
                 "upper": sel.upper if sel else None}
    ident["statement"] = statement(entry, show_keys=show_keys, platform=platform)
    return ident


def plan_json(plan: Plan, *, show_keys: bool = False) -> dict[str, Any]:
    """The plan as a JSON-ready dict (keys masked unless ``show_keys``)."""
    changes = []
    for c in plan.changes:
        item: dict[str, Any] = {"op": c.sign, "action": SIGN_WORDS[c.sign], "title": title(c.entry),
                                "entry": _entry_json(c.entry, show_keys, plan.platform)}
        if c.sign == "~":
            item["in_place"] = c.in_place
            item["fields"] = [
                {"field": f.label, "secret": f.secret,
                 "before": value_text(f, f.label, f.before, is_sa=c.is_sa, show_keys=show_keys,
                                      platform=plan.platform),
                 "after": value_text(f, f.label, f.after, is_sa=c.is_sa, show_keys=show_keys,
                                     platform=plan.platform)}
                for f in c.fields]
        changes.append(item)
    return {"kernel": plan.kernel, "summary": plan.counts, "changes": changes,
            "script": {"status": plan.script_status, "stdout": plan.script_out, "stderr": plan.script_err}}


def render_json(plan: Plan, *, show_keys: bool = False) -> str:
    """:func:`plan_json` as indented JSON text."""
    return json.dumps(plan_json(plan, show_keys=show_keys), indent=2) + "\n"


def operation_statement(op: Operation, *, show_keys: bool, platform: Platform = LINUX) -> str:
    """One operation as the setkey statement that does it (an SA lifetime update, which setkey's language
    cannot say, as a comment and the ``add`` it amounts to)."""
    e = op.entry
    if isinstance(e, SecurityAssociation):
        if op.verb == "delete":
            return f"delete {e.src.address} {e.dst.address} {_name(SATYPE_NAMES, e.satype)} 0x{e.spi:x} ;"
        text = statement(e, show_keys=show_keys, platform=platform)
        return text if op.verb == "add" else f"# SADB_UPDATE (lifetimes): {text}"
    text = statement(e, show_keys=show_keys, platform=platform)
    if op.verb == "spdupdate":
        return text.replace("spdadd", "spdupdate", 1)
    if op.verb == "spddelete":
        sel = e.selector
        assert sel is not None
        upper = text.split()[3] if text.startswith("spdadd") else protocol_name(sel.upper, platform)
        return f"spddelete {text.split()[1]} {text.split()[2]} {upper} -P {_name(POLICY_DIR_NAMES, e.direction)} ;"
    return text


def render_operations(ops: Iterable[Operation], *, show_keys: bool = False, platform: Platform = LINUX) -> str:
    """``apply --dry-run``: the operations, one statement a line (keys zeroed unless ``show_keys``)."""
    lines = [operation_statement(op, show_keys=show_keys, platform=platform) for op in ops]
    return "".join(line + "\n" for line in lines)


