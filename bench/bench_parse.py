"""Parse and compile a generated 100k-statement script as ``setkey-tui -d`` does (hex lines to /dev/null).

Half the statements are ``add`` (ESP, tunnel mode, reqid, aes-cbc + hmac-sha256 keys), half ``spdadd``
with a tunnel ``ipsec`` policy. Prints the wall time and statements per second (target: ≤ 10 s).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from setkey_tui.script import run_script  # noqa: E402

STATEMENTS = 100_000


def generate(n: int = STATEMENTS) -> str:
    """A script of ``n`` statements: alternating SA ``add`` and tunnel ``spdadd``."""
    lines = []
    for i in range(n // 2):
        a, b = divmod(i, 250)
        src, dst = f"10.{a % 256}.{b}.1", f"10.{a % 256}.{b}.2"
        lines.append(
            f"add {src} {dst} esp {0x1000 + i:#x} -m tunnel -u {i % 16000 + 1}"
            f" -E aes-cbc 0x{i:032x} -A hmac-sha256 0x{i:064x};"
        )
        lines.append(
            f"spdadd 172.16.{a % 256}.{b}/32 192.168.{a % 256}.{b}/32 any -P out ipsec"
            f" esp/tunnel/{src}-{dst}/require;"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    """Generate, then time the -d run of the whole script."""
    t0 = time.perf_counter()
    text = generate()
    t1 = time.perf_counter()
    c1 = time.process_time()
    with open(os.devnull, "w") as sink:
        status = run_script(text, None, dry_run=True, out=sink, err=sys.stderr)
    t2 = time.perf_counter()
    cpu = time.process_time() - c1
    wall = t2 - t1
    print(f"statements:            {STATEMENTS}")
    print(f"script size:           {len(text) / 1e6:.1f} MB (generated in {t1 - t0:.2f} s)")
    print(f"parse+compile (-d):    {wall:.2f} s wall (target <= 10 s), exit status {status}")
    print(f"CPU time:              {cpu:.2f} s (the machine is shared: wall time includes waiting)")
    print(f"throughput:            {STATEMENTS / wall:,.0f} statements/s wall, {STATEMENTS / cpu:,.0f} per CPU second")


if __name__ == "__main__":
    main()
