"""A monitor recording saved from the TUI and one written by ``setkey-tui -x --record`` are the same lines."""

from __future__ import annotations

import pytest

from setkey_tui import cli
from setkey_tui.link import Captured
from setkey_tui.pfkey.constants import MsgType, SAType
from setkey_tui.pfkey.message import header_only
from setkey_tui.pfkey.platform import LINUX
from setkey_tui.tui.widgets.monitor import recording_text


@pytest.mark.parametrize(
    ("when", "written"),
    [
        ("1700000000.9999996", "1700000001.000000"),
        ("1700000000.9999994", "1700000000.999999"),
        ("1700000000.1234567", "1700000000.123457"),
    ],
)
def test_the_tui_and_the_cli_record_a_time_alike(tmp_path, monkeypatch, capsys, when: str, written: str) -> None:
    data = header_only(MsgType.FLUSH, SAType.ESP).encode(LINUX)
    replay = tmp_path / "in.hex"
    replay.write_text(data.hex() + "\n")  # no recorded time: the monitor stamps it with SETKEY_TUI_NOW
    rec = tmp_path / "cli.rec"
    monkeypatch.setenv("SETKEY_TUI_NOW", when)
    assert cli.main(["--kernel", f"replay:{replay}", "-xx", "--record", str(rec)]) == 0
    shown = capsys.readouterr().out.splitlines()[0]
    tui = recording_text([Captured(data, float(when), MsgType.FLUSH, SAType.ESP)])
    assert tui == f"{written} {data.hex()}\n"
    assert rec.read_text() == tui
    assert shown == f"{written} "  # the time the live monitor showed
