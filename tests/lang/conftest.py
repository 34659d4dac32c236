"""Fixtures of the language tests: no DNS (a fixed hosts table), the stand-in kernel, a script runner."""

from __future__ import annotations

import io
import json
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from setkey_tui.lang import addresses
from setkey_tui.script import run_script
from tests.lang.standin import StandInKernel

DATA = Path(__file__).resolve().parent.parent / "data"
NOW = 1700000000.0
PID = 4242

_real_getaddrinfo = socket.getaddrinfo
# What Debian 12's /etc/hosts says (the recording's); every other name is unknown.
HOSTS = {"localhost": [(socket.AF_INET6, "::1"), (socket.AF_INET, "127.0.0.1")]}


def fake_getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):  # noqa: A002 - socket's names
    """getaddrinfo without DNS: numeric hosts as libc parses them, names from :data:`HOSTS` only."""
    try:
        return _real_getaddrinfo(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)
    except socket.gaierror as exc:
        if flags & socket.AI_NUMERICHOST or exc.errno != socket.EAI_NONAME:
            raise
    out = []
    for fam, numeric in HOSTS.get(host, []):
        if family in (0, fam):
            out += _real_getaddrinfo(numeric, port, fam, type, proto, socket.AI_NUMERICHOST)
    if not out:
        if host in HOSTS:
            raise socket.gaierror(socket.EAI_ADDRFAMILY, "Address family for hostname not supported")
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return out


@pytest.fixture(autouse=True)
def no_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every lookup of the language goes through :func:`fake_getaddrinfo`."""
    monkeypatch.setattr(addresses, "getaddrinfo", fake_getaddrinfo)


def load_cases(name: str) -> list[dict]:
    """The cases of one tests/data JSON Lines file."""
    with open(DATA / name, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


@dataclass
class Run:
    """What one script run printed and sent."""

    status: int
    out: str
    err: str
    kernel: StandInKernel | None
    sent: list[bytes] = field(default_factory=list)


def run(text: str, *, kernel: bool = True, **kw: object) -> Run:
    """Run a script against a fresh stand-in kernel (or none); ``sent`` excludes the REGISTER."""
    k = StandInKernel() if kernel else None
    out, err = io.StringIO(), io.StringIO()
    status = run_script(text, k, out=out, err=err, now=lambda: NOW, pid=PID, **kw)  # type: ignore[arg-type]
    sent = k.sent[1:] if k is not None else []
    return Run(status, out.getvalue(), err.getvalue(), k, sent)


@pytest.fixture
def runner() -> Callable[..., Run]:
    """:func:`run` as a fixture."""
    return run
