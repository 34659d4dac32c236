"""Old name of :mod:`setkey_tui.render.export` (confused with ``setkey_tui/script.py``, the ``-f`` driver).

Kept until ``tui/ops.py`` imports from ``render.export``; nothing new should import it.
"""

from setkey_tui.render.export import ExportError, sa_to_statement, sp_to_statement

__all__ = ["ExportError", "sa_to_statement", "sp_to_statement"]
