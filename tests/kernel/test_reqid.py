"""af_key's gen_reqid, shared by the simulated kernel and the XFRM transport."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from setkey_tui.kernel.reqid import next_reqid
from setkey_tui.pfkey.constants import IPSEC_MANUAL_REQID_MAX

AUTO = IPSEC_MANUAL_REQID_MAX + 1


def test_the_next_free_one_after_the_last() -> None:
    assert next_reqid(IPSEC_MANUAL_REQID_MAX, set()) == AUTO
    assert next_reqid(AUTO, {AUTO + 1, AUTO + 2}) == AUTO + 3


def test_wraps_above_the_manual_range() -> None:
    assert next_reqid(0xFFFFFFFF, set()) == AUTO
    assert next_reqid(0xFFFFFFFE, {0xFFFFFFFF}) == AUTO


def test_skips_what_is_used_across_the_wrap() -> None:
    used = set(range(0xFFFFFFF0, 0x100000000)) | set(range(AUTO, AUTO + 10))
    assert next_reqid(0xFFFFFFEF, used) == AUTO + 10


@given(st.integers(IPSEC_MANUAL_REQID_MAX, 0xFFFFFFFF), st.sets(st.integers(AUTO, 0xFFFFFFFF), max_size=20))
def test_never_manual_never_used(last: int, used: set[int]) -> None:
    reqid = next_reqid(last, used)
    assert reqid is not None and reqid > IPSEC_MANUAL_REQID_MAX and reqid not in used
