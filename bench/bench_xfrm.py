"""The XFRM transport against iproute2 (and against real af_key where there is one), same state, same run.

Part 1, this machine's kernel in a private user + network namespace (`unshare -Urn`):
- 100k policies: `setkey-tui --kernel xfrm -DP` (the path a user takes: dump, translate to PF_KEY, render
  setkey's text) against `ip xfrm policy list`: wall times and their ratio; the raw dump through the transport
  (KeyService.spddump: PF_KEY messages, no rendering) in messages/s;
- larval SAs (`ip xfrm state allocspi`: this kernel may lack ESP/AH; allocspi slows down with the count and a
  larval SA lives 30 s, so 20k of them): `-D` against `ip xfrm state list`;
- notification latency (change made → PF_KEY message decoded by a listener) at 1k and 10k changes/s, for the
  XFRM transport against a bare XFRM netlink listener (what `ip xfrm monitor` reads), p50/p99/max.
Part 2, inside user-mode-linux (Linux 6.1 with ESP and af_key; skipped without it): 100k ESP SAs,
`setkey-tui --kernel xfrm -D` against `ip xfrm state list` and against `setkey-tui --kernel pfkey -D`
(the real af_key), and the raw dumps through both transports.

Run: `python bench/run.py xfrm`. `SETKEY_BENCH_XFRM_N` overrides the 100k.
"""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INNER = "SETKEY_BENCH_XFRM_INNER"
N = int(os.environ.get("SETKEY_BENCH_XFRM_N", "100000"))
N_LARVAL = min(N, 20_000)
RATES = (1_000, 10_000)
SECONDS_PER_RATE = 2.0


def _addr(i: int) -> str:
    return f"10.{1 + i // 65536}.{(i // 256) % 256}.{i % 256}"


def _batch(lines: list[str]) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".batch", delete=False) as fh:
        fh.write("\n".join(lines) + "\n")
    try:
        t0 = time.perf_counter()
        subprocess.run(["ip", "-batch", fh.name], check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - t0
    finally:
        os.unlink(fh.name)


def _timed(cmd: list[str]) -> tuple[float, int]:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, cwd=ROOT)
    return time.perf_counter() - t0, done.stdout.count(b"\n")


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "setkey_tui", "--kernel", "xfrm", *args]


def dumps() -> None:
    """Populate the SPD and SAD, then time the dumps both ways."""
    from setkey_tui.kernel.xfrm.transport import XfrmTransport
    from setkey_tui.service import KeyService

    t = _batch([f"xfrm policy add src {_addr(i)}/32 dst 172.16.0.1/32 dir out tmpl proto esp mode transport"
                for i in range(N)])
    print(f"  setup: {N} policies via ip -batch in {t:.1f} s")
    ref, ref_lines = _timed(["ip", "xfrm", "policy", "list"])
    ours, our_lines = _timed(_cli("-DP"))
    print(f"  SPD dump, {N} policies: ip xfrm policy list {ref:.2f} s ({ref_lines} lines) | "
          f"setkey-tui --kernel xfrm -DP {ours:.2f} s ({our_lines} lines) | ratio {ours / ref:.1f}x")
    with XfrmTransport() as tr:
        t0 = time.perf_counter()
        got = len(KeyService(tr).spddump(timeout=60))
        raw = time.perf_counter() - t0
    print(f"  SPD raw dump through the transport: {got} messages in {raw:.2f} s ({got / raw:,.0f} msgs/s)")
    subprocess.run(["ip", "xfrm", "policy", "flush"], check=True)

    # Larval SAs live net.core.xfrm_acq_expires (30 s): everything below is timed right after the set-up.
    t = _batch([f"xfrm state allocspi src 10.0.0.1 dst {_addr(i)} proto esp" for i in range(N_LARVAL)])
    print(f"  setup: {N_LARVAL} larval SAs via ip -batch (allocspi) in {t:.1f} s")
    made = time.monotonic()
    ref, ref_lines = _timed(["ip", "xfrm", "state", "list"])
    ours, our_lines = _timed(_cli("-D"))
    with XfrmTransport() as tr:
        t0 = time.perf_counter()
        got = len(KeyService(tr).dump(timeout=60))
        raw = time.perf_counter() - t0
    late = time.monotonic() - made
    print(f"  SAD dump, {N_LARVAL} larval SAs: ip xfrm state list {ref:.2f} s ({ref_lines} lines) | "
          f"setkey-tui --kernel xfrm -D {ours:.2f} s ({our_lines} lines) | ratio {ours / ref:.1f}x")
    print(f"  SAD raw dump through the transport: {got} messages in {raw:.2f} s ({got / raw:,.0f} msgs/s)"
          + ("" if got == N_LARVAL and late < 30 else f"  [WARNING: {got} of {N_LARVAL}, {late:.0f} s after]"))
    subprocess.run(["ip", "xfrm", "state", "flush"], check=True)


# ------------------------------------------------------------------------------------------ notifications
def _writer(rate: int, count: int, w: int) -> None:
    """Add ``count`` policies at ``rate`` per second over raw XFRM netlink; send times go to fd ``w``."""
    from setkey_tui.kernel.xfrm import netlink as nl
    from setkey_tui.kernel.xfrm import structs as S

    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, nl.NETLINK_XFRM)
    sel = S.Selector(daddr=S.addr_bytes(bytes([172, 16, 0, 1])), family=S.AF_INET, prefixlen_d=32, prefixlen_s=32)
    msgs = []
    for i in range(count):
        src = bytes([10, 1 + i // 65536, (i // 256) % 256, i % 256])
        info = S.UserPolicyInfo(sel._replace(saddr=S.addr_bytes(src)), priority=i, dir=S.POLICY_OUT)
        msgs.append(nl.encode_msg(S.NEWPOLICY, nl.NLM_F_REQUEST, i + 1, 0, info.pack()))
    sent = []
    start = time.perf_counter()
    for i, m in enumerate(msgs):
        due = start + i / rate
        while time.perf_counter() < due:
            pass
        sent.append(time.perf_counter())
        s.send(m)
    os.write(w, " ".join(f"{x:.9f}" for x in sent).encode() + b"\n")
    os._exit(0)


def _bare_listener() -> tuple[socket.socket, object]:
    from setkey_tui.kernel.xfrm import netlink as nl
    from setkey_tui.kernel.xfrm import structs as S

    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, nl.NETLINK_XFRM)
    s.bind((0, 0))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 << 20)
    s.setsockopt(nl.SOL_NETLINK, nl.NETLINK_ADD_MEMBERSHIP, S.GRP_POLICY)

    def recv(timeout: float) -> int | None:
        s.settimeout(timeout)
        try:
            data = s.recv(65536)
        except TimeoutError:
            return None
        for m in nl.split_msgs(data):
            if m.type == S.NEWPOLICY:
                return S.UserPolicyInfo.unpack(m.payload).priority
        return -1

    return s, recv


def _our_listener() -> tuple[object, object]:
    from setkey_tui.kernel.xfrm.transport import XfrmTransport
    from setkey_tui.pfkey.constants import ExtType, MsgType
    from setkey_tui.pfkey.message import decode
    from setkey_tui.pfkey.platform import LINUX

    t = XfrmTransport()

    def recv(timeout: float) -> int | None:
        data = t.recv(timeout)
        if data is None:
            return None
        m = decode(data, LINUX)
        if m.type != MsgType.X_SPDADD:
            return -1
        return m.get(ExtType.X_POLICY).priority  # type: ignore[union-attr]

    return t, recv


def _latency(make: object, rate: int) -> list[float]:
    count = int(rate * SECONDS_PER_RATE)
    handle, recv = make()  # type: ignore[operator]
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        _writer(rate, count, w)
    os.close(w)
    got: dict[int, float] = {}
    deadline = time.monotonic() + SECONDS_PER_RATE + 20
    while len(got) < count and time.monotonic() < deadline:
        idx = recv(1.0)  # type: ignore[operator]
        if idx is not None and idx >= 0:
            got[idx] = time.perf_counter()
    with os.fdopen(r) as fh:
        sent = [float(x) for x in fh.read().split()]
    os.waitpid(pid, 0)
    handle.close()  # type: ignore[attr-defined]
    subprocess.run(["ip", "xfrm", "policy", "flush"], check=True)
    return [got[i] - sent[i] for i in range(count) if i in got]


def notifications() -> None:
    """Latency of policy notifications at each rate: bare netlink listener vs the XFRM transport."""
    for rate in RATES:
        row = []
        for name, make in (("bare netlink", _bare_listener), ("XFRM transport", _our_listener)):
            lat = sorted(_latency(make, rate))
            n = int(rate * SECONDS_PER_RATE)
            p50, p99 = statistics.median(lat) * 1e3, lat[int(len(lat) * 0.99) - 1] * 1e3
            row.append(p50)
            print(f"  {rate:>6}/s {name:<15} {len(lat)}/{n} seen  p50 {p50:.3f} ms  p99 {p99:.3f} ms  "
                  f"max {lat[-1] * 1e3:.3f} ms")
        print(f"  {rate:>6}/s median latency ratio (transport / bare): {row[1] / row[0]:.1f}x")


def esp_sas() -> None:
    """Inside user-mode-linux: 100k ESP SAs dumped by ip, by setkey-tui over XFRM and over real af_key."""
    from setkey_tui.kernel.pfkey_socket import PFKeySocket
    from setkey_tui.kernel.xfrm.transport import XfrmTransport
    from setkey_tui.service import KeyService

    key = "0x00112233445566778899aabbccddeeff"
    t = 0.0
    for start in range(0, N, 10_000):
        t += _batch([f"xfrm state add src 10.0.0.1 dst {_addr(i)} proto esp spi {0x1000 + i} enc 'cbc(aes)' {key}"
                     for i in range(start, min(N, start + 10_000))])
    print(f"  setup: {N} ESP SAs via ip -batch in {t:.1f} s")
    ref, ref_lines = _timed(["ip", "xfrm", "state", "list"])
    ours, our_lines = _timed(_cli("-D"))
    pf, pf_lines = _timed([sys.executable, "-m", "setkey_tui", "--kernel", "pfkey", "-D"])
    print(f"  SAD dump, {N} ESP SAs: ip xfrm state list {ref:.2f} s ({ref_lines} lines) | "
          f"setkey-tui --kernel xfrm -D {ours:.2f} s ({our_lines} lines) | "
          f"setkey-tui --kernel pfkey -D {pf:.2f} s ({pf_lines} lines)")
    print(f"  ratios: xfrm/ip {ours / ref:.1f}x, xfrm/pfkey (real af_key) {ours / pf:.2f}x")
    for name, cls in (("XFRM transport", XfrmTransport), ("PF_KEY socket", PFKeySocket)):
        with cls() as tr:
            t0 = time.perf_counter()
            got = len(KeyService(tr).dump(timeout=120))
            raw = time.perf_counter() - t0
        print(f"  raw SADB_DUMP through the {name}: {got} messages in {raw:.2f} s ({got / raw:,.0f} msgs/s)")


def _in_uml() -> None:
    sys.path.insert(0, str(ROOT / "tests" / "kernel" / "uml"))
    from uml_boot import UmlError, find_uml, run_in_uml

    uml = find_uml()
    if uml is None:
        print("  SKIPPED part 2: no user-mode-linux here (apt-get install user-mode-linux)")
        return
    cmd = (f"cd {ROOT} && PYTHONDONTWRITEBYTECODE=1 {INNER}=uml SETKEY_BENCH_XFRM_N={N} "
           f"{ROOT / '.venv/bin/python'} {Path(__file__).resolve()} 2>&1")
    out: list[bytes] = []
    try:
        run = run_in_uml(cmd, uml=uml, timeout=900, mem="8000M", echo_stdout=out.append)
        problem = "" if run.status == 0 else f"exit {run.status}: {run.stderr.strip()[-500:]}"
    except UmlError as exc:  # also raised after a good run when the guest's crypto modprobe complains
        problem = str(exc).strip()[-500:]
    sys.stdout.write(b"".join(out).decode(errors="replace"))
    if problem and b"raw SADB_DUMP through the PF_KEY socket" not in b"".join(out):
        print(f"  FAILED part 2: {problem}")
    sys.stdout.flush()


def main() -> None:
    """Part 1 inside `unshare -Urn`, part 2 inside user-mode-linux; print the figures."""
    where = os.environ.get(INNER)
    if where == "uml":
        print("part 2: user-mode-linux (Linux 6.1, af_key and xfrm_user)", flush=True)
        esp_sas()
        return
    if where != "1":
        if shutil.which("unshare") is None or shutil.which("ip") is None:
            print("  SKIPPED: needs unshare(1) and ip(8)")
            return
        env = dict(os.environ, **{INNER: "1"}, PYTHONPATH=str(ROOT))
        print("part 1: this kernel, in a user + network namespace", flush=True)
        done = subprocess.run(["unshare", "-Urn", sys.executable, __file__], env=env, cwd=ROOT, check=False)
        if done.returncode:
            print(f"  FAILED or SKIPPED (exit {done.returncode}): user namespaces may be disabled here")
        _in_uml()
        return
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    dumps()
    notifications()


if __name__ == "__main__":
    main()
