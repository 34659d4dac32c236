"""af_key's ``gen_reqid``: the reqid a Linux kernel picks for a ``unique`` request that names none."""

from __future__ import annotations

from collections.abc import Container

from setkey_tui.pfkey.constants import IPSEC_MANUAL_REQID_MAX


def next_reqid(last: int, used: Container[int]) -> int | None:
    """The first reqid after ``last`` that ``used`` lacks, wrapping from 2**32 - 1 to just above the manual
    range (``IPSEC_MANUAL_REQID_MAX``); None when every one is in use."""
    reqid = last
    while True:
        reqid = (reqid + 1) & 0xFFFFFFFF
        if reqid == 0:
            reqid = IPSEC_MANUAL_REQID_MAX + 1
        if reqid not in used:
            return reqid
        if reqid == last:
            return None
