"""What a transport can do is declared by the capability protocols of kernel/base.py, never guessed."""

from __future__ import annotations

from pathlib import Path

from setkey_tui.kernel.base import (
    REPLY_TIMEOUT,
    NotesSource,
    Recording,
    SlowReplies,
    TrafficSimulator,
    answers_in_order,
    exhausted,
    reply_timeout,
)
from setkey_tui.kernel.replay import ReplayTransport
from setkey_tui.kernel.sim.client import SERVED_REPLY_TIMEOUT, SimClient
from setkey_tui.kernel.sim.transport import SimTransport
from setkey_tui.kernel.xfrm.transport import XfrmTransport
from setkey_tui.pfkey.platform import LINUX
from setkey_tui.scenarios.sim import Clock, sim_host


def test_each_transport_class_declares_what_it_can_do() -> None:
    # declared by subclassing, so mypy checks each signature (issubclass cannot test data protocols)
    assert {SlowReplies, TrafficSimulator} <= set(SimClient.__mro__)
    assert Recording in ReplayTransport.__mro__ and SlowReplies not in ReplayTransport.__mro__
    assert NotesSource in XfrmTransport.__mro__ and Recording not in XfrmTransport.__mro__
    assert SimClient.reply_timeout == SERVED_REPLY_TIMEOUT > REPLY_TIMEOUT


def test_a_plain_transport_gets_setkeys_defaults() -> None:
    plain = SimTransport(sim_host(Clock()))
    assert reply_timeout(plain) == REPLY_TIMEOUT
    assert not answers_in_order(plain) and not exhausted(plain)


def test_a_recording_answers_in_order_and_runs_out(tmp_path: Path) -> None:
    path = tmp_path / "empty.rec"
    path.write_text("", encoding="ascii")
    replay = ReplayTransport(path, LINUX)
    assert answers_in_order(replay) and exhausted(replay)
    assert reply_timeout(replay) == REPLY_TIMEOUT
