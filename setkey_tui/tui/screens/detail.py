"""Detail of one SA or policy: every field, its setkey statement, ``setkey -D``/``-DP`` text, the ``-x``
decoding and hex dump of its message, and the linked entries. Keys are masked until revealed (``k``)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Label, OptionList, Static
from textual.widgets.option_list import Option

from setkey_tui.mirror import (
    ACTION_NAMES,
    AUTH_NAMES,
    DIR_NAMES,
    IPPROTO_NAMES,
    MODE_NAMES,
    PROTO_NAMES,
    STATE_NAMES,
    SARow,
    SPRow,
)
from setkey_tui.model import ModelError, SecurityAssociation, SecurityPolicy
from setkey_tui.render.hexdump import hexdump
from setkey_tui.render.kdebug import kdebug
from setkey_tui.render.sadump import format_sa
from setkey_tui.render.spdump import format_sp
from setkey_tui.tui.masking import DOT, key_byte_ranges, mask_hex_text, mask_hexdump, message_keys
from setkey_tui.tui.ops import statement_of

if TYPE_CHECKING:
    from setkey_tui.tui.app import SetkeyApp


def _value_text(name: str, value: Any, reveal: bool) -> str:
    if isinstance(value, bytes):
        if name.endswith("key") and not reveal:
            return DOT * 8 + f" ({len(value) * 8} bits, k reveals)"
        return "0x" + value.hex()
    if isinstance(value, tuple | list):
        return "; ".join(_value_text(name, v, reveal) for v in value) or "-"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        inner = ", ".join(f"{f.name}={_value_text(f.name, getattr(value, f.name), reveal)}"
                          for f in dataclasses.fields(value))
        return f"{type(value).__name__}({inner})"
    if value is None:
        return "-"
    return str(value)


def field_lines(row: SARow | SPRow, *, reveal: bool) -> str:
    """``name: value`` for every field of the model object (keys masked unless ``reveal``)."""
    try:
        obj: Any = (SecurityAssociation.from_message(row.msg) if isinstance(row, SARow)
                    else SecurityPolicy.from_message(row.msg))
    except ModelError as exc:
        return f"(this message does not describe a whole entry: {exc})"
    width = max(len(f.name) for f in dataclasses.fields(obj))
    lines = []
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        names = _ENUM_FIELDS.get(f.name)
        if f.name == "spi" and isinstance(value, int):
            text = f"0x{value:08x} ({value})"
        elif f.name == "encrypt" and isinstance(row, SARow) and isinstance(value, int):
            text = f"{value} ({row.enc_name or 'none'})"
        elif names is not None and isinstance(value, int):
            text = f"{value} ({names.get(value, '?')})"
        else:
            text = _value_text(f.name, value, reveal)
        lines.append(f"{f.name.ljust(width)}  {text}")
    return "\n".join(lines)


_ENUM_FIELDS: dict[str, dict[int, str]] = {
    "satype": PROTO_NAMES,
    "mode": MODE_NAMES,
    "state": STATE_NAMES,
    "auth": {0: "none", **AUTH_NAMES},
    "direction": DIR_NAMES,
    "action": ACTION_NAMES,
    "upper": IPPROTO_NAMES,
    "ulproto": IPPROTO_NAMES,
    "proxy_proto": IPPROTO_NAMES,
}


def _title(row: SARow | SPRow) -> str:
    if isinstance(row, SARow):
        return f"SA {row.proto} {row.src} → {row.dst}  spi 0x{row.spi:08x}  ({row.state_name})"
    return f"Policy {row.src} → {row.dst} {row.upper_name} -P {row.dir_name} {row.action_name}  (spid {row.spid})"


class DetailScreen(Screen[None]):
    """Everything about one entry."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "back", "Back"),
        Binding("k", "reveal", "Reveal/mask keys"),
        Binding("y", "copy", "Copy statement"),
        Binding("d", "delete", "Delete"),
    ]

    def __init__(self, row: SARow | SPRow) -> None:
        super().__init__()
        self.row = row
        self.revealed = False
        self.gone = False  # the kernel no longer has the entry (deleted, expired, flushed)
        self._linked: list[SARow | SPRow] = []

    @property
    def setkey_app(self) -> SetkeyApp:
        """The app (typed)."""
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="detail-body"):
            yield Label(_title(self.row), classes="detail-title", markup=False)
            yield Label("Fields", classes="detail-heading")
            yield Static("", id="detail-fields", markup=False, classes="detail-block")
            yield Label("setkey statement", classes="detail-heading")
            yield Static("", id="detail-statement", markup=False, classes="detail-block")
            yield Label("setkey -D" if isinstance(self.row, SARow) else "setkey -DP", classes="detail-heading")
            yield Static("", id="detail-dump", markup=False, classes="detail-block")
            yield Label("Linked entries", classes="detail-heading")
            yield OptionList(id="detail-linked")
            yield Label("Raw message: setkey -x decoding", classes="detail-heading")
            yield Static("", id="detail-kdebug", markup=False, classes="detail-block")
            yield Label("Raw message: hex (-h)", classes="detail-heading")
            yield Static("", id="detail-hex", markup=False, classes="detail-block")
        yield Footer()

    def on_mount(self) -> None:
        """Fill every section."""
        self._linked = self._find_linked()
        options = self.query_one("#detail-linked", OptionList)
        if self._linked:
            options.add_options([Option(Text(_title(r)), id=str(i)) for i, r in enumerate(self._linked)])
        else:
            options.add_option(Option("none", disabled=True))
        self.refresh_texts()
        self.set_interval(1.0, self.follow)

    def follow(self) -> None:
        """Keep up with the kernel: show the entry's latest state (byte counts, dying …), or say it is gone."""
        mirror = self.setkey_app.mirror
        rows = mirror.sad.rows if isinstance(self.row, SARow) else mirror.spd.rows
        current = rows.get(self.row.key)
        if current is None:
            if not self.gone:
                self.gone = True
                self.query_one(".detail-title", Label).update(_title(self.row) + "  [gone from the kernel]")
            return
        if self.gone or current is not self.row:
            self.query_one(".detail-title", Label).update(_title(current))
        self.gone = False
        self.row = current
        self.refresh_texts()

    def _find_linked(self) -> list[SARow | SPRow]:
        mirror = self.setkey_app.mirror
        if isinstance(self.row, SARow):
            return list(mirror.policies_for_sa(self.row))
        return list(mirror.sas_for_policy(self.row))

    def raw_bytes(self) -> bytes:
        """The entry's message as the kernel sent it (the codec re-encodes byte for byte)."""
        return self.row.msg.encode(self.setkey_app.platform)

    def refresh_texts(self) -> None:
        """Render the sections (masked or not)."""
        app = self.setkey_app
        platform = app.platform
        row = self.row
        keys = [] if self.revealed else message_keys(row.msg)
        now = int(app.now())
        if isinstance(row, SARow):
            dump = format_sa(row.msg, now=now, platform=platform)
        else:
            dump = format_sp(row.msg, now=now, platform=platform)
        raw = self.raw_bytes()
        decoding = kdebug(raw, platform)
        hexed = hexdump(raw)
        if not self.revealed:
            dump = mask_hex_text(dump, keys)
            decoding = mask_hex_text(decoding, keys)
            hexed = mask_hexdump(hexed, key_byte_ranges(raw, platform))
        self.query_one("#detail-fields", Static).update(field_lines(row, reveal=self.revealed))
        self.query_one("#detail-statement", Static).update(self.statement())
        self.query_one("#detail-dump", Static).update(dump.rstrip("\n"))
        self.query_one("#detail-kdebug", Static).update(decoding.rstrip("\n"))
        self.query_one("#detail-hex", Static).update(hexed.rstrip("\n"))

    def statement(self) -> str:
        """The statement recreating this entry (keys only when revealed)."""
        return statement_of(self.row, with_keys=self.revealed).strip()

    def action_reveal(self) -> None:
        """Show or hide the keys of this entry."""
        self.revealed = not self.revealed
        self.refresh_texts()
        self.notify("Keys revealed for this entry." if self.revealed else "Keys masked.")

    def action_copy(self) -> None:
        """Copy the statement."""
        text = self.statement()
        self.app.copy_to_clipboard(text)
        self.notify(text, title="Copied", markup=False)

    def action_back(self) -> None:
        """Close."""
        self.dismiss(None)

    def action_delete(self) -> None:
        """Delete this entry (after confirmation), then close."""
        from setkey_tui.tui.ops import delete_sa_message, delete_sp_message
        from setkey_tui.tui.screens.dialogs import ConfirmScreen

        row = self.row
        msg = delete_sa_message(row) if isinstance(row, SARow) else delete_sp_message(row)

        def answer(yes: bool | None) -> None:
            if yes:
                self.setkey_app._send_worker([msg], "Deleted.")
                self.dismiss(None)

        self.app.push_screen(ConfirmScreen("Delete this entry?", statement_of(row, with_keys=False).strip()),
                             answer)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """Open a linked entry."""
        if event.option.id is not None:
            self.app.push_screen(DetailScreen(self._linked[int(event.option.id)]))
