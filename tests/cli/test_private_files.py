"""setkey_tui.files: files that may hold keys are written with mode 0600, also over a wider existing file."""

from __future__ import annotations

import os
import stat

import pytest

from setkey_tui.files import open_private, write_private


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_new_file_is_private_whatever_the_umask(tmp_path) -> None:
    path = tmp_path / "new.conf"
    old = os.umask(0)  # a umask that would leave a plain open() world-readable
    try:
        write_private(path, "add 10.0.0.1 10.0.0.2 esp 0x1000 -E null ;\n")
    finally:
        os.umask(old)
    assert _mode(path) == 0o600
    assert path.read_text() == "add 10.0.0.1 10.0.0.2 esp 0x1000 -E null ;\n"


def test_an_existing_wider_file_is_emptied_and_made_private(tmp_path) -> None:
    path = tmp_path / "old.rec"
    path.write_text("a much longer old content that must not survive\n")
    os.chmod(path, 0o644)
    with open_private(path, encoding="ascii") as f:
        f.write("1700000000.000000 0209\n")
    assert _mode(path) == 0o600
    assert path.read_text() == "1700000000.000000 0209\n"


def test_a_path_that_cannot_be_written_raises_oserror(tmp_path) -> None:
    with pytest.raises(OSError):
        write_private(tmp_path / "missing" / "x.conf", "x")
    with pytest.raises(OSError):
        write_private(tmp_path, "x")  # a folder
