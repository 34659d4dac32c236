"""The command line's subcommands (``serve-sim``, ``traffic``), parsed with argparse subparsers.

setkey's own flags keep their getopt loop in ``cli.py``; these are ours. Every mistake is one line (no
argparse usage dump, no exit from inside the parser): :class:`SubcommandError`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import NoReturn

PROG = "setkey-tui"
MAX_TRAFFIC_COUNT = 1_000_000


class SubcommandError(Exception):
    """A bad subcommand line; ``str()`` is the one-line reason."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises instead of printing its usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise SubcommandError(message)


def _number(low: int, high: int) -> Callable[[str], int]:
    def convert(value: str) -> int:
        try:
            n = int(value, 0)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
        if not low <= n <= high:
            raise argparse.ArgumentTypeError(f"{n} is out of range ({low}-{high})")
        return n

    return convert


def _protocol(value: str) -> int:
    from setkey_tui.service import UPPER_PROTOCOLS

    if value.lower() in UPPER_PROTOCOLS:
        return UPPER_PROTOCOLS[value.lower()]
    if value.isdigit():
        return _number(0, 255)(value)
    raise argparse.ArgumentTypeError(f"unknown protocol {value!r} ({', '.join(UPPER_PROTOCOLS)} or 0-255)")


def build_parser() -> argparse.ArgumentParser:
    """``[--kernel K] [--platform P] {serve-sim PATH [--sim-state FILE] | traffic SRC DST [options]}``."""
    top = _Parser(prog=PROG, add_help=False, allow_abbrev=False)
    top.add_argument("--kernel")
    top.add_argument("--platform")
    sub = top.add_subparsers(dest="command", required=True, parser_class=_Parser)
    serve = sub.add_parser("serve-sim", add_help=False, allow_abbrev=False)
    serve.add_argument("path", metavar="PATH")
    serve.add_argument("--sim-state", metavar="FILE")
    traffic = sub.add_parser("traffic", add_help=False, allow_abbrev=False)
    traffic.add_argument("ends", nargs="*", metavar="SRC DST")
    traffic.add_argument("--kernel", dest="traffic_kernel")
    traffic.add_argument("--platform", dest="traffic_platform")
    traffic.add_argument("--proto", type=_protocol, default=None)
    traffic.add_argument("--sport", type=_number(0, 65535), default=0)
    traffic.add_argument("--dport", type=_number(0, 65535), default=0)
    traffic.add_argument("--size", type=_number(1, 65535), default=None)
    traffic.add_argument("--count", type=_number(1, MAX_TRAFFIC_COUNT), default=1)
    return top


def parse(args: list[str]) -> argparse.Namespace:
    """The subcommand line; :class:`SubcommandError` for anything else. For ``traffic``: ``src``/``dst``,
    and ``kernel``/``platform`` given before or after the subcommand (the later wins)."""
    ns = build_parser().parse_args(args)
    if ns.command == "traffic":
        if len(ns.ends) != 2:
            raise SubcommandError("traffic needs a source and a destination address")
        ns.src, ns.dst = ns.ends
        ns.kernel = ns.traffic_kernel or ns.kernel
        ns.platform = ns.traffic_platform or ns.platform
    return ns
