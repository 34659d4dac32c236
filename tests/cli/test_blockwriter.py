"""The block writer of streamed output: few writes, nothing held long on a terminal."""

from __future__ import annotations

import io

from setkey_tui.blockwriter import BlockWriter


class Counting(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, s: str) -> int:
        self.writes += 1
        return super().write(s)


def test_a_pipe_gets_blocks_not_lines() -> None:
    sink = Counting()
    w = BlockWriter(sink, block=1000, tty=False)
    for i in range(2000):
        w.write(f"line {i:05d}\n")  # 11 characters each: 22000 in all
    w.flush()
    assert sink.getvalue() == "".join(f"line {i:05d}\n" for i in range(2000))
    assert sink.writes == 22


def test_a_terminal_gets_what_was_written_within_the_interval() -> None:
    now = [0.0]
    sink = Counting()
    w = BlockWriter(sink, block=1 << 20, interval=0.05, tty=True, clock=lambda: now[0])
    w.write("a\n")
    assert sink.getvalue() == ""  # gathered
    now[0] = 0.06
    w.write("b\n")
    assert sink.getvalue() == "a\nb\n"  # 50 ms passed: out
    now[0] = 0.07
    w.write("c\n")
    assert sink.getvalue() == "a\nb\n"
    w.flush()
    assert sink.getvalue() == "a\nb\nc\n"
