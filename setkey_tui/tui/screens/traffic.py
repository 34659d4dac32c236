"""The "Simulate traffic" dialog: describe a packet, send it (count times) through the simulated kernel, read
what happened in plain words. The dialog stays open to send again; the tables and the monitor behind it show
the kernel's messages (ACQUIRE, EXPIRE) and the byte counts as they change."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from setkey_tui.packet import DEFAULT_PACKET_SIZE, UPPER_PROTOCOLS, Packet, PacketError
from setkey_tui.tui.screens.forms import labelled_field
from setkey_tui.tui.traffic_run import TrafficRun, packet_from_form

if TYPE_CHECKING:
    from setkey_tui.tui.app import SetkeyApp

FIELDS = ("src", "dst", "proto", "sport", "dport", "size", "count")


class TrafficScreen(ModalScreen[None]):
    """Source, destination, upper-layer protocol, ports, size and count; Send (ctrl+s, enter), Close (esc)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("ctrl+s", "send", "Send"),
    ]

    def __init__(self, src: str = "", dst: str = "") -> None:
        super().__init__()
        self.src = src
        self.dst = dst
        self.last_run: TrafficRun | None = None

    @property
    def setkey_app(self) -> SetkeyApp:
        """The app (typed)."""
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        protos = [(name, name) for name in UPPER_PROTOCOLS]
        with Vertical(classes="dialog", id="traffic-dialog"):
            yield Label("Simulate outbound traffic (simulated kernel)", classes="dialog-title")
            yield from labelled_field("Source", Input(self.src, placeholder="10.0.0.1", id="f-src", compact=True), "src")
            yield from labelled_field("Destination", Input(self.dst, placeholder="10.0.0.2", id="f-dst", compact=True), "dst")
            yield from labelled_field("Upper protocol", Select(protos, value="any", allow_blank=False, id="f-proto", compact=True),
                                 "proto")
            yield from labelled_field("Source port", Input(placeholder="any", id="f-sport", compact=True), "sport")
            yield from labelled_field("Destination port", Input(placeholder="any", id="f-dport", compact=True), "dport")
            yield from labelled_field("Packet size", Input(str(DEFAULT_PACKET_SIZE), placeholder="bytes", id="f-size", compact=True),
                                 "size")
            yield from labelled_field("Count", Input("1", placeholder="packets", id="f-count", compact=True), "count")
            yield Static("Send a packet to see which policy and SA it meets.", id="traffic-result", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Send (ctrl+s)", variant="primary", id="send")
                yield Button("Close (esc)", id="close")

    def on_mount(self) -> None:
        """Focus the first empty address field."""
        target = "#f-dst" if self.src and not self.dst else "#f-src"
        self.query_one(target, Input).focus()

    def values(self) -> dict[str, str]:
        """The form's text and choices by field id."""
        out: dict[str, str] = {}
        for fid in FIELDS:
            w = self.query_one(f"#f-{fid}")
            if isinstance(w, Input):
                out[fid] = w.value
            elif isinstance(w, Select):
                out[fid] = "" if w.value is Select.NULL else str(w.value)
        return out

    def show_errors(self, errors: dict[str, str]) -> None:
        """Each error at its field; the others cleared."""
        for fid in FIELDS:
            label = self.query_one(f"#err-{fid}", Label)
            label.update(errors.get(fid, ""))
            label.set_class(fid in errors, "shown")

    def show_result(self, text: str) -> None:
        """The verdict area."""
        self.query_one("#traffic-result", Static).update(text)

    def action_send(self) -> None:
        """Check the fields, then send the packets in a worker thread."""
        reason = self.setkey_app.traffic_unavailable()
        if reason:
            self.show_result(reason)
            return
        try:
            packet, count = packet_from_form(self.values())
        except PacketError as exc:
            self.show_errors({exc.field: str(exc)})
            self.show_result("Not sent: fix the field marked in red.")
            return
        self.show_errors({})
        self.show_result(f"sending {count} packet{'s' if count > 1 else ''}…")
        self._send(packet, count)

    @work(thread=True, group="kernel", exit_on_error=False)
    def _send(self, packet: Packet, count: int) -> None:
        run = self.setkey_app.send_traffic(packet, count)
        self.app.call_from_thread(self._sent, run)

    def _sent(self, run: TrafficRun) -> None:
        self.last_run = run
        self.setkey_app.apply_sa_states(run.sa_states.values())
        if self.is_attached:  # the user may have closed the dialog meanwhile
            self.show_result(run.summary())

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in any field sends."""
        self.action_send()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Send or close."""
        if event.button.id == "send":
            self.action_send()
        else:
            self.dismiss(None)

    def action_close(self) -> None:
        """Back to the tables."""
        self.dismiss(None)
