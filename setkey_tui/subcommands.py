"""The command line's subcommands (``serve-sim``, ``traffic``), parsed with argparse subparsers.

setkey's own flags keep their getopt loop in ``cli.py``; these are ours. Every mistake is one line (no
argparse usage dump, no exit from inside the parser): :class:`SubcommandError`.
"""

from __future__ import annotations

import argparse
from typing import NoReturn

from setkey_tui.packet import Packet, PacketError, parse_count

PROG = "setkey-tui"


class SubcommandError(Exception):
    """A bad subcommand line; ``str()`` is the one-line reason."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises instead of printing its usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise SubcommandError(message)


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
    for name in ("proto", "sport", "dport", "size", "count"):  # checked by Packet.parse / parse_count
        traffic.add_argument(f"--{name}", default="")
    return top


def parse(args: list[str]) -> argparse.Namespace:
    """The subcommand line; :class:`SubcommandError` for anything else. For ``traffic``: the checked
    ``packet`` and ``count``, and ``kernel``/``platform`` given before or after the subcommand (the later
    wins)."""
    ns = build_parser().parse_args(args)
    if ns.command == "traffic":
        if len(ns.ends) != 2:
            raise SubcommandError("traffic needs a source and a destination address")
        try:
            ns.packet = Packet.parse(ns.ends[0], ns.ends[1], proto=ns.proto, sport=ns.sport, dport=ns.dport, size=ns.size)
            ns.count = parse_count(ns.count)
        except PacketError as exc:  # an option by its name, an address by its words
            raise SubcommandError(str(exc) if exc.field in ("src", "dst") else f"--{exc.field}: {exc.reason}") from None
        ns.kernel = ns.traffic_kernel or ns.kernel
        ns.platform = ns.traffic_platform or ns.platform
    return ns
