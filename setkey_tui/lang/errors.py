"""Diagnostics of the setkey language: one exception carrying setkey's wording and where it happened."""

from __future__ import annotations

# The longest token an error message echoes whole, and the widest source line the caret picture shows
# (a 10 MB line must not write 10 MB to the terminal twice).
TOKEN_SHOWN_MAX = 256
LINE_SHOWN_MAX = 512
_LINE_CONTEXT = 64  # characters shown before the offending column on a cut line


def clip(text: str, limit: int = TOKEN_SHOWN_MAX) -> str:
    """``text`` as an error message echoes it: whole up to ``limit`` characters, else its start and a marker
    saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}...({len(text) - limit} more characters)"


class SetkeyParseError(Exception):
    """A statement setkey would refuse.

    ``message`` is setkey's own wording (``syntax error``, ``Invalid key length`` ...), ``line`` the line
    setkey reports (the line where the offending token ends, as flex counts), ``column`` the 1-based column
    where ``token`` starts on ``source_line`` (the text shown under the caret), ``token`` setkey's ``yytext``
    (cut by :func:`clip` when longer than :data:`TOKEN_SHOWN_MAX` characters).

    ``fatal``: a lexer error (``Syntax error``), after which setkey exits at once without ``parse failed``.
    ``silent``: setkey prints no ``line N: ...`` message, only ``parse failed`` (e.g. ``add`` with no address
    pair of one family). ``stderr_lines``: what setkey itself writes to stderr before the message
    (``56 64 64`` for a bad key length, ``libipsec: ...`` for a policy error). ``pos``: the token's offset in
    the source (-1 when unknown). ``partial``: for a syntax error, the statement made of the tokens before
    it (minimally completed), whose checks setkey would have run before meeting the bad token.
    """

    def __init__(
        self,
        message: str,
        line: int,
        column: int,
        token: str,
        *,
        source_line: str = "",
        fatal: bool = False,
        silent: bool = False,
        stderr_lines: tuple[str, ...] = (),
        pos: int = -1,
        partial: object | None = None,
    ) -> None:
        self.message = message
        self.line = line
        self.column = column
        self.token = clip(token)
        self.source_line = source_line
        self.fatal = fatal
        self.silent = silent
        self.stderr_lines = stderr_lines
        self.pos = pos
        self.partial = partial
        super().__init__(self.describe())

    def describe(self) -> str:
        """``line N: MESSAGE at [TOKEN]`` as setkey prints it (or a plain sentence for a silent failure)."""
        if self.silent:
            return f"line {self.line}: {self.message}"
        return f"line {self.line}: {self.message} at [{self.token}]"

    def caret(self) -> str:
        """The source line and a caret under the offending column."""
        if not self.source_line:
            return "(end of the input)\n^"
        line, col = self.source_line, max(self.column - 1, 0)
        if len(line) > LINE_SHOWN_MAX:
            start = max(col - _LINE_CONTEXT, 0)
            end = start + LINE_SHOWN_MAX
            head = f"...({start} characters) " if start else ""
            tail = f" ...({len(line) - end} more characters)" if end < len(line) else ""
            line, col = head + line[start:end] + tail, len(head) + col - start
        pad = "".join(c if c == "\t" else " " for c in line[:col])
        return f"{line}\n{pad}^"
