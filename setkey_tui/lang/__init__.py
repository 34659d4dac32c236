"""The setkey language: scanner, pyparsing grammar, statements, policy sub-language and compiler."""

from setkey_tui.lang.compile import compile_statement, deleteall_messages
from setkey_tui.lang.errors import SetkeyParseError
from setkey_tui.lang.grammar import parse, parse_one

__all__ = ["SetkeyParseError", "compile_statement", "deleteall_messages", "parse", "parse_one"]
