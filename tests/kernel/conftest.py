"""Shared set-up of tests/kernel: the project and the helper modules beside the tests are importable."""

import sys
from pathlib import Path

import pytest

_HERE = Path(__file__).resolve().parent
for _path in (str(_HERE.parents[1]), str(_HERE), str(_HERE / "uml")):
    if _path not in sys.path:
        sys.path.insert(0, _path)

pytest.register_assert_rewrite("pfkey_conversation", "scenario_replay")
