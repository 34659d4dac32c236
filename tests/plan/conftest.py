"""Fixtures for the plan tests."""

from __future__ import annotations

import pytest

from tests.plan.helpers import Kernel


@pytest.fixture
def kernel() -> Kernel:
    """A fresh simulated kernel."""
    return Kernel()
