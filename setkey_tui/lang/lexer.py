"""The setkey scanner: flex's longest-match rules of ipsec-tools' token.l, start conditions included.

Tokens are :class:`Token` tuples whose ``kind`` is a one-character code from :class:`K`; a statement's token
kinds joined give its *shape*, the string the pyparsing grammar (:mod:`setkey_tui.lang.grammar`) reads.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import NamedTuple

from setkey_tui.algorithms import AUTH_NOKEY, COMP_WORDS
from setkey_tui.algorithms import AUTH_WORDS as ALGORITHM_AUTH_WORDS
from setkey_tui.algorithms import ENC_WORDS as ALGORITHM_ENC_WORDS


class K:
    """Token kinds (one character each, so that a shape string index is a token index)."""

    ADD = "a"
    DELETE = "d"
    DELETEALL = "D"
    GET = "g"
    FLUSH = "f"
    DUMP = "u"
    EXIT = "x"
    SPDADD = "A"
    SPDUPDATE = "U"
    SPDDELETE = "X"
    SPDDUMP = "Z"
    SPDFLUSH = "F"
    TAGGED = "t"
    F_POLICY = "P"
    PL_REQUESTS = "L"
    F_AIFLAGS = "o"
    PR_AH = "h"
    PR_ESP = "e"
    PR_ESPUDP = "E"
    PR_IPCOMP = "i"
    PR_TCP = "T"
    F_AUTH = "1"
    ALG_AUTH = "2"
    ALG_AUTH_NOKEY = "3"
    F_ENC = "4"
    ALG_ENC = "5"
    ALG_ENC_NOKEY = "6"
    ALG_ENC_OLD = "7"
    ALG_ENC_DESDERIV = "8"
    ALG_ENC_DES32IV = "9"
    F_COMP = "c"
    ALG_COMP = "C"
    F_RAWCPI = "R"
    F_MODE = "m"
    MODE = "M"
    F_REQID = "q"
    F_EXT = "y"
    EXTENSION = "Y"
    NOCYCLICSEQ = "N"
    F_REPLAY = "r"
    F_LIFETIME_HARD = "H"
    F_LIFETIME_SOFT = "S"
    F_LIFEBYTE_HARD = "b"
    F_LIFEBYTE_SOFT = "B"
    SECURITY_CTX = "z"
    ANY = "n"
    SLASH = "/"
    BLCL = "["
    ELCL = "]"
    EOT = ";"
    DECSTRING = "0"
    HEXSTRING = "#"
    QUOTEDSTRING = "Q"
    STRING = "s"
    EOF = "$"
    ERROR = "!"


class Token(NamedTuple):
    """One token: its kind, its text (``yytext``), its start offset and setkey's line counter after it."""

    kind: str
    text: str
    pos: int
    line: int


# Words that are keywords everywhere (flex rules before the generic STRING rule).
KEYWORDS: dict[str, str] = {
    "add": K.ADD, "delete": K.DELETE, "deleteall": K.DELETEALL, "get": K.GET, "flush": K.FLUSH,
    "dump": K.DUMP, "exit": K.EXIT, "quit": K.EXIT, "bye": K.EXIT,
    "spdadd": K.SPDADD, "spdupdate": K.SPDUPDATE, "spddelete": K.SPDDELETE, "spddump": K.SPDDUMP,
    "spdflush": K.SPDFLUSH, "tagged": K.TAGGED,
    "ah": K.PR_AH, "esp": K.PR_ESP, "ah-old": K.PR_AH, "esp-old": K.PR_ESP, "esp-udp": K.PR_ESPUDP,
    "ipcomp": K.PR_IPCOMP, "tcp": K.PR_TCP,
    **dict.fromkeys(COMP_WORDS, K.ALG_COMP),
    "transport": K.MODE, "tunnel": K.MODE,
    "random-pad": K.EXTENSION, "seq-pad": K.EXTENSION, "zero-pad": K.EXTENSION, "nocyclic-seq": K.NOCYCLICSEQ,
    "any": K.ANY,
}
# Keywords whose flex rule comes before the -P policy-text rule (they win a tie with it).
_BEFORE_PL = frozenset({"add", "delete", "deleteall", "get", "flush", "dump", "exit", "quit", "bye",
                        "spdadd", "spdupdate", "spddelete", "spddump", "spdflush", "tagged"})

# -A words (start condition S_AUTHALG), from the language's algorithm table. tcp-md5 has no PF_KEY number on
# Linux: flex swallows the word.
AUTH_SWALLOWED = frozenset({"tcp-md5"})
AUTH_WORDS: dict[str, str] = {
    w: K.ALG_AUTH_NOKEY if w in AUTH_NOKEY else K.ALG_AUTH for w in ALGORITHM_AUTH_WORDS if w not in AUTH_SWALLOWED
}
# -E words (start condition S_ENCALG); four of them have a token of their own in parse.y.
_ENC_KINDS = {"null": K.ALG_ENC_NOKEY, "simple": K.ALG_ENC_OLD, "des-deriv": K.ALG_ENC_DESDERIV,
              "des-32iv": K.ALG_ENC_DES32IV}
ENC_WORDS: dict[str, str] = {w: _ENC_KINDS.get(w, K.ALG_ENC) for w in ALGORITHM_ENC_WORDS}

_DASH: dict[str, str] = {
    "-P": K.F_POLICY, "-A": K.F_AUTH, "-E": K.F_ENC, "-C": K.F_COMP, "-R": K.F_RAWCPI, "-m": K.F_MODE,
    "-u": K.F_REQID, "-f": K.F_EXT, "-r": K.F_REPLAY, "-lh": K.F_LIFETIME_HARD, "-ls": K.F_LIFETIME_SOFT,
    "-bh": K.F_LIFEBYTE_HARD, "-bs": K.F_LIFEBYTE_SOFT, "-ctx": K.SECURITY_CTX,
}

_WORD = re.compile(r"[A-Za-z0-9:][A-Za-z0-9:%.\-]*")
_COMMA = re.compile(r"[0-9,]+")
_HEX = re.compile(r"0[xX][0-9A-Fa-f]+")
_PL = re.compile(r"[a-zA-Z0-9:.\-_/ \n\t][a-zA-Z0-9:.%\-+_/ \n\t\]\[]*")
_PL_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:.-_/ \n\t")
_SINGLE = {";": K.EOT, "/": K.SLASH, "[": K.BLCL, "]": K.ELCL}

_MASTER = re.compile(
    r"(?P<skip>(?:[ \t\n]+|#[^\n]*)+)|(?P<word>[A-Za-z0-9:][A-Za-z0-9:%.\-]*)|(?P<single>[;/\[\]])"
    r'|(?P<dash>-(?:ctx|lh|ls|bh|bs|[n46]+|[PAECRmufr]))|(?P<quoted>"[^"]*")|(?P<comma>[0-9,]+)'
)

_FAST_WORD = re.compile(r"([A-Za-z0-9:][A-Za-z0-9:%.\-]*)[ \t]*")
_FAST_SKIP = re.compile(r"(?:[ \t\n]+|#[^\n]*)+")
_PLAIN_RUN = re.compile(r"[A-Za-z0-9:%.\- \t]*")

INITIAL, S_PL, S_AUTHALG, S_ENCALG = 0, 1, 2, 3


def _word_kind(w: str) -> str:
    """A word that is no keyword: HEXSTRING, DECSTRING or STRING (flex's rule order on ties)."""
    if not w[0].isdigit():
        return K.STRING
    if w.isdigit():
        return K.DECSTRING
    if _HEX.fullmatch(w):
        return K.HEXSTRING
    return K.STRING


class Scanner:
    """Turns setkey text into tokens, one at a time, as flex does (state kept between statements)."""

    __slots__ = ("text", "pos", "line", "state", "_n")

    def __init__(self, text: str, *, first_line: int = 1) -> None:
        self.text = text
        self.pos = 0
        self.line = first_line
        self.state = INITIAL
        self._n = len(text)

    def next(self) -> Token:
        """The next token (``EOF`` at the end, ``ERROR`` for a character no rule matches)."""
        text = self.text
        n = self._n
        while True:
            p = self.pos
            if p >= n:
                return Token(K.EOF, "", p, self.line)
            c = text[p]
            if self.state == S_PL and c in _PL_START:
                m = _PL.match(text, p)
                assert m is not None
                run = m.group()
                w = _WORD.match(text, p)
                if w is not None and w.end() == m.end() and w.group() in _BEFORE_PL:
                    word = w.group()
                    self.pos = m.end()
                    return Token(KEYWORDS[word], word, p, self.line)
                if run == "-P":
                    self.pos = p + 2
                    return Token(K.F_POLICY, run, p, self.line)
                self.pos = m.end()
                self.line += run.count("\n")
                return Token(K.PL_REQUESTS, run, p, self.line)
            m = _MASTER.match(text, p)
            if m is None:
                self.pos = p + 1
                return Token(K.ERROR, c, p, self.line)
            group = m.lastgroup
            self.pos = end = m.end()
            if group == "skip":
                self.line += m.group().count("\n")
                continue
            if group == "word":
                word = m.group()
                if end < n and text[end] == "," and word.isdigit():
                    cm = _COMMA.match(text, p)
                    assert cm is not None
                    self.pos = cm.end()
                    return Token(K.STRING, cm.group(), p, self.line)
                state = self.state
                if state == S_AUTHALG:
                    if word in AUTH_SWALLOWED:
                        continue
                    kind = AUTH_WORDS.get(word)
                    if kind is not None:
                        self.state = INITIAL
                        return Token(kind, word, p, self.line)
                elif state == S_ENCALG:
                    kind = ENC_WORDS.get(word)
                    if kind is not None:
                        self.state = INITIAL
                        return Token(kind, word, p, self.line)
                kind = KEYWORDS.get(word)
                if kind is None:
                    kind = _word_kind(word)
                return Token(kind, word, p, self.line)
            if group == "single":
                single = _SINGLE[c]
                if single == K.EOT and self.state == S_PL:
                    self.state = INITIAL
                return Token(single, c, p, self.line)
            if group == "quoted":
                return Token(K.QUOTEDSTRING, m.group()[1:-1], p, self.line)
            if group == "comma":
                return Token(K.STRING, m.group(), p, self.line)
            if group == "dash":
                word = m.group()
                kind = _DASH.get(word, K.F_AIFLAGS)
                if kind == K.F_POLICY:
                    self.state = S_PL
                elif kind == K.F_AUTH:
                    self.state = S_AUTHALG
                elif kind == K.F_ENC:
                    self.state = S_ENCALG
                return Token(kind, word, p, self.line)
            self.pos = p + 1
            return Token(K.ERROR, c, p, self.line)

    def statement(self) -> list[Token]:
        """The tokens of the next statement: up to and including ``;``, an ``ERROR`` or ``EOF``."""
        toks: list[Token] = []
        append = toks.append
        nxt = self.next
        text, n, fast_word, fast_skip = self.text, self._n, _FAST_WORD.match, _FAST_SKIP.match
        keyword = KEYWORDS.get
        word_kind = _word_kind
        new = tuple.__new__
        pos, line = self.pos, self.line
        if self.state == INITIAL:
            m = fast_skip(text, pos)
            if m is not None:
                line += m.group().count("\n")
                pos = m.end()
            self.pos, self.line = pos, line
            plain = self._plain_statement()
            if plain is not None:
                return plain
        while True:
            # Fast path for the bulk of a script: plain words (with the blanks after them) and the ';' in
            # the initial state, blank runs and the algorithm word after -E/-A; everything else goes
            # through next(), which this path must agree with token for token.
            state = self.state
            m = fast_word(text, pos)
            if m is not None:
                wend = m.end(1)
                if wend == n or text[wend] != ",":
                    word = m.group(1)
                    if state == INITIAL:
                        kind = keyword(word) or word_kind(word)
                        append(new(Token, (kind, word, pos, line)))
                        pos = m.end()
                        continue
                    if state != S_PL:
                        alg = (AUTH_WORDS if state == S_AUTHALG else ENC_WORDS).get(word)
                        if alg is not None:
                            self.state = INITIAL
                            append(new(Token, (alg, word, pos, line)))
                            pos = m.end()
                            continue
            elif state != S_PL:
                if state == INITIAL and pos < n and text[pos] == ";":
                    append(new(Token, (K.EOT, ";", pos, line)))
                    self.pos, self.line = pos + 1, line
                    return toks
                m = fast_skip(text, pos)
                if m is not None:
                    line += m.group().count("\n")
                    pos = m.end()
                    continue
            self.pos, self.line = pos, line
            tok = nxt()
            pos, line = self.pos, self.line
            append(tok)
            kind = tok.kind
            if kind == K.EOT or kind == K.EOF or kind == K.ERROR:
                return toks

    def _plain_statement(self) -> list[Token] | None:
        """The common statement in one go: from ``pos`` (initial state, on a word) to the next ``;``, only
        words of ``[A-Za-z0-9:%.-]`` and single blanks, no ``-P``. None (nothing consumed) for anything
        else, which the token-by-token path then scans. Agrees with :meth:`next` token for token."""
        text, pos = self.text, self.pos
        semi = text.find(";", pos)
        if semi < 0 or not _PLAIN_RUN.fullmatch(text, pos, semi):
            return None
        seg = text[pos:semi]
        if "  " in seg or "\t" in seg:
            return None
        toks: list[Token] = []
        append = toks.append
        new = tuple.__new__
        keyword = KEYWORDS.get
        word_kind = _word_kind
        line, state = self.line, INITIAL
        p = pos
        for word in seg.split(" "):
            if not word:  # a blank at the end, before the ';'
                p += 1
                continue
            c = word[0]
            if c == "-":
                kind = _DASH.get(word)
                if kind is None:
                    if len(word) < 2 or word.strip("-n46") or word.count("-") != 1:
                        return None
                    kind = K.F_AIFLAGS
                elif kind == K.F_POLICY:
                    return None
                elif kind == K.F_AUTH:
                    state = S_AUTHALG
                elif kind == K.F_ENC:
                    state = S_ENCALG
                append(new(Token, (kind, word, p, line)))
                p += len(word) + 1
                continue
            if c == "%" or c == ".":
                return None
            kind = None
            if state == S_AUTHALG:
                if word in AUTH_SWALLOWED:
                    p += len(word) + 1
                    continue
                kind = AUTH_WORDS.get(word)
            elif state == S_ENCALG:
                kind = ENC_WORDS.get(word)
            if kind is not None:
                state = INITIAL
            else:
                kind = keyword(word) or word_kind(word)
            append(new(Token, (kind, word, p, line)))
            p += len(word) + 1
        append(new(Token, (K.EOT, ";", semi, line)))
        self.pos, self.state = semi + 1, state
        return toks

    def __iter__(self) -> Iterator[Token]:
        while True:
            tok = self.next()
            yield tok
            if tok.kind == K.EOF:
                return


def tokenize(text: str) -> list[Token]:
    """Every token of ``text`` (ending with ``EOF``; an ``ERROR`` token does not stop the scan)."""
    return list(Scanner(text))
