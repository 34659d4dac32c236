"""Every numeric field of the language refuses a value its PF_KEY field cannot hold, instead of wrapping it
(docs/compatibility.md, "Numbers too big for their field"), and accepts the largest value that fits."""

from __future__ import annotations

import pytest

from tests.lang.conftest import run

KEY = "0x00112233445566778899aabbccddeeff"
SPD = "spdadd 10.0.0.0/24 10.0.1.0/24"

# (statement with the largest value that fits, the same with one more, the message, the token it names)
CASES = [
    (f"add 10.0.0.1[65535] 10.0.0.2 esp 0x1000 -E aes-cbc {KEY};",
     f"add 10.0.0.1[65536] 10.0.0.2 esp 0x1000 -E aes-cbc {KEY};", "port too big.", "65536"),
    (f"add 10.0.0.1 10.0.0.2[65535] esp-udp 0x1000 -E aes-cbc {KEY};",
     f"add 10.0.0.1 10.0.0.2[70000] esp-udp 0x1000 -E aes-cbc {KEY};", "port too big.", "70000"),
    ("get 10.0.0.1[65535] 10.0.0.2 esp 0x1000;", "get 10.0.0.1[99999999999] 10.0.0.2 esp 0x1000;",
     "port too big.", "99999999999"),
    (f"add 10.0.0.1 10.0.0.2 esp 0x1000 -u 4294967295 -E aes-cbc {KEY};",
     f"add 10.0.0.1 10.0.0.2 esp 0x1000 -u 4294967296 -E aes-cbc {KEY};", "reqid too big.", "4294967296"),
    (f"add 10.0.0.1 10.0.0.2 esp 0x1000 -r 255 -E aes-cbc {KEY};",
     f"add 10.0.0.1 10.0.0.2 esp 0x1000 -r 256 -E aes-cbc {KEY};", "replay window too big.", "256"),
    (f"add 10.0.0.1 10.0.0.2 esp 0x1000 -lh {2**64 - 1} -E aes-cbc {KEY};",
     f"add 10.0.0.1 10.0.0.2 esp 0x1000 -lh {2**64} -E aes-cbc {KEY};", "lifetime too big.", str(2**64)),
    (f"add 10.0.0.1 10.0.0.2 esp 0x1000 -ls {2**64 - 1} -E aes-cbc {KEY};",
     f"add 10.0.0.1 10.0.0.2 esp 0x1000 -ls {10**30} -E aes-cbc {KEY};", "lifetime too big.", str(10**30)),
    (f"add 10.0.0.1 10.0.0.2 esp 0x1000 -bh {2**64 - 1} -E aes-cbc {KEY};",
     f"add 10.0.0.1 10.0.0.2 esp 0x1000 -bh {2**64} -E aes-cbc {KEY};", "lifetime bytes too big.", str(2**64)),
    (f"add 10.0.0.1 10.0.0.2 esp 0x1000 -bs {2**64 - 1} -E aes-cbc {KEY};",
     f"add 10.0.0.1 10.0.0.2 esp 0x1000 -bs {2**64} -E aes-cbc {KEY};", "lifetime bytes too big.", str(2**64)),
    (f'add 10.0.0.1 10.0.0.2 esp 0x1000 -ctx 255 1 "l" -E aes-cbc {KEY};',
     f'add 10.0.0.1 10.0.0.2 esp 0x1000 -ctx 256 1 "l" -E aes-cbc {KEY};', "security context DOI too big.",
     "256"),
    (f'{SPD} any -ctx 1 255 "l" -P out none;', f'{SPD} any -ctx 1 300 "l" -P out none;',
     "security context algorithm too big.", "300"),
    (f"{SPD}[65535] any -P out none;", f"{SPD}[70000] any -P out none;", "port too big.", "70000"),
    ("spdadd 10.0.0.0/255 10.0.1.0/24 any -P out none;", "spdadd 10.0.0.0/256 10.0.1.0/24 any -P out none;",
     "prefix length too big.", "256"),
    ("spdadd 10.0.0.0/24 10.0.1.0/255 any -P out none;",
     "spdadd 10.0.0.0/24 10.0.1.0/99999999999999999999 any -P out none;", "prefix length too big.",
     "99999999999999999999"),
    (f"{SPD} 255 -P out none;", f"{SPD} 99999 -P out none;", "upper layer protocol too big.", "99999"),
    (f"{SPD} icmp 255,255 -P out none;", f"{SPD} icmp 8,256 -P out none;", "upper layer protocol spec too big.",
     " out none;"),
    (f"{SPD} gre 255.255.255.255 -P out none;", f"{SPD} gre 1.2.3.256 -P out none;",
     "upper layer protocol spec too big.", " out none;"),
    (f"{SPD} gre 2147483647.0 -P out none;", f"{SPD} gre 2147483648.0 -P out none;",
     "upper layer protocol spec too big.", " out none;"),
    (f"{SPD} any -P out ipsec esp/transport//unique:4294967295;",
     f"{SPD} any -P out ipsec esp/transport//unique:4294967296;", "reqid too big.",
     " out ipsec esp/transport//unique:4294967296"),
    (f"{SPD} any -P out ipsec esp/tunnel/10.0.0.1[65535]-10.0.0.2[4500]/require;",
     f"{SPD} any -P out ipsec esp/tunnel/10.0.0.1[4500]-10.0.0.2[65536]/require;", "port too big.",
     " out ipsec esp/tunnel/10.0.0.1[4500]-10.0.0.2[65536]/require"),
]


@pytest.mark.parametrize(("fits", "too_big", "message", "token"), CASES, ids=[c[2] + " " + c[3] for c in CASES])
def test_a_number_beyond_its_field_is_refused(fits: str, too_big: str, message: str, token: str) -> None:
    ok = run(fits, kernel_mode=True)
    assert ok.status == 0 and not ok.out.startswith("line 1:")  # (the stand-in kernel has no SA to get)
    assert ok.sent
    refused = run(too_big, kernel_mode=True)
    assert refused.status == 1
    assert refused.out == f"line 1: {message} at [{token}]\nparse failed, line 1.\n"
    assert refused.sent == []


def test_the_largest_values_reach_the_message_unchanged() -> None:
    from setkey_tui.lang import parse_one
    from setkey_tui.lang.compile import compile_statement
    from setkey_tui.pfkey.constants import ExtType

    stmt = parse_one(f"add 10.0.0.1[65535] 10.0.0.2 esp 0x1000 -u 4294967295 -r 255 -lh {2**64 - 1} "
                     f"-bs {2**64 - 1} -E aes-cbc {KEY};")
    (msg,) = compile_statement(stmt)
    sa, sa2 = msg.get(ExtType.SA), msg.get(ExtType.X_SA2)
    hard, soft = msg.get(ExtType.LIFETIME_HARD), msg.get(ExtType.LIFETIME_SOFT)
    src = msg.get(ExtType.ADDRESS_SRC)
    assert sa.replay == 255 and sa2.reqid == 2**32 - 1  # type: ignore[union-attr]
    assert hard.addtime == 2**64 - 1 and soft.byte_count == 2**64 - 1  # type: ignore[union-attr]
    assert src.sockaddr.port == 65535  # type: ignore[union-attr]
