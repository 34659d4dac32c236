"""The setkey grammar (ipsec-tools parse.y) in pyparsing, and ``parse()``.

The scanner (:mod:`setkey_tui.lang.lexer`) turns a statement into tokens; their one-character kinds form
the statement's *shape*, which the pyparsing grammar below checks. Shapes repeat (a 100k-line file has a
handful), so their parses are cached. A failed parse gives the index of the offending token, hence
setkey's ``syntax error at [TOKEN]``. :func:`build` then turns the tokens into a statement dataclass,
doing the checks parse.y does in its actions (addresses, SPI, replay, upper-layer protocol, policy).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

from setkey_tui.lang import addresses as addr
from setkey_tui.lang import shape_cache
from setkey_tui.lang.errors import SetkeyParseError
from setkey_tui.lang.lexer import K, Scanner, Token
from setkey_tui.lang.policy import ParseTree, Policy, PolicyError, parse_policy
from setkey_tui.lang.statements import (
    AddressRange,
    DeleteAllStatement,
    DumpStatement,
    ExitStatement,
    FlushStatement,
    HostPort,
    SAOptions,
    SAStatement,
    SecurityContext,
    Source,
    SPDDumpStatement,
    SPDFlushStatement,
    SPDStatement,
    SPDTaggedStatement,
    Statement,
    TokenRef,
)
from setkey_tui.pfkey.platform import LINUX, Platform

if TYPE_CHECKING:
    import pyparsing as pp

SPI_MAX = 0xFFFFFFFF
_ULONG_MAX = 2**64 - 1

# The widest value of every numeric field of the language (the PF_KEY field it lands in), and the message
# for one beyond it. setkey stores these with C's silent truncation (port 70000 becomes 4464, ``-r 256`` 0);
# setkey-tui refuses them, in the words of setkey's own ``SPI too big.`` (docs/compatibility.md).
U8_MAX, U16_MAX, U32_MAX, U64_MAX = 0xFF, 0xFFFF, 0xFFFFFFFF, 2**64 - 1
RANGES: dict[str, tuple[int, str]] = {
    "port": (U16_MAX, "port too big."),
    "-u": (U32_MAX, "reqid too big."),
    "-r": (U8_MAX, "replay window too big."),
    "-lh": (U64_MAX, "lifetime too big."),
    "-ls": (U64_MAX, "lifetime too big."),
    "-bh": (U64_MAX, "lifetime bytes too big."),
    "-bs": (U64_MAX, "lifetime bytes too big."),
    "doi": (U8_MAX, "security context DOI too big."),
    "alg": (U8_MAX, "security context algorithm too big."),
    "prefix": (U8_MAX, "prefix length too big."),
    "upper": (U8_MAX, "upper layer protocol too big."),
}
UPPER_SPEC_TOO_BIG = "upper layer protocol spec too big."


def _t(kind: str, name: str) -> pp.ParserElement:
    """One token of the given kind; its value in the results is the token's index."""
    import pyparsing as pp

    el = pp.Literal(kind).set_name(name)
    el.set_parse_action(lambda _s, loc, _toks: loc)
    return el


@cache
def _build_grammar() -> pp.ParserElement:
    """The statement grammar (built at its first use: pyparsing is imported only for a shape not shipped)."""
    import pyparsing as pp

    T = _t
    string, dec, hexs = T(K.STRING, "STRING"), T(K.DECSTRING, "DECSTRING"), T(K.HEXSTRING, "HEXSTRING")
    quoted, eot = T(K.QUOTEDSTRING, "QUOTEDSTRING"), T(K.EOT, "';'")("eot")

    aiflags = pp.Group(pp.ZeroOrMore(T(K.F_AIFLAGS, "-4/-6/-n")))("aiflags")
    portstr = T(K.BLCL, "'['") - (T(K.ANY, "any") | dec | string)("port") - T(K.ELCL, "']'")("portend")

    def ipandport(name: str) -> pp.ParserElement:
        return pp.Group(string("host") + pp.Optional(portstr))(name)

    protocol = pp.Optional(
        T(K.PR_ESPUDP, "esp-udp")("proto") + pp.Optional(string("oa"))
        | (T(K.PR_ESP, "esp") | T(K.PR_AH, "ah") | T(K.PR_IPCOMP, "ipcomp") | T(K.PR_TCP, "tcp"))("proto")
    )
    spi = (dec | hexs)("spi")
    number_flags = (T(K.F_REQID, "-u") | T(K.F_REPLAY, "-r") | T(K.F_LIFETIME_HARD, "-lh")
                    | T(K.F_LIFETIME_SOFT, "-ls") | T(K.F_LIFEBYTE_HARD, "-bh") | T(K.F_LIFEBYTE_SOFT, "-bs"))
    ctx = T(K.SECURITY_CTX, "-ctx")("ctx") - dec("doi") - dec("alg") - quoted("label")
    extension = pp.Group(
        T(K.F_EXT, "-f")("flag") - (T(K.EXTENSION, "pad") | T(K.NOCYCLICSEQ, "nocyclic-seq"))("value")
        | T(K.F_MODE, "-m")("flag") - (T(K.MODE, "mode") | T(K.ANY, "any"))("value")
        | number_flags("flag") - dec("value")
        | ctx
    )
    extensions = pp.Group(pp.ZeroOrMore(extension))("exts")
    key = quoted | hexs
    enc_alg = (
        (T(K.ALG_ENC, "algorithm") | T(K.ALG_ENC_DESDERIV, "des-deriv") | T(K.ALG_ENC_DES32IV, "des-32iv"))("enc")
        - key("enckey")
        | (T(K.ALG_ENC_NOKEY, "null") | T(K.ALG_ENC_OLD, "simple"))("enc")
    )
    auth_alg = T(K.ALG_AUTH, "algorithm")("auth") - key("authkey") | T(K.ALG_AUTH_NOKEY, "null")("auth")
    algorithm = (
        T(K.F_ENC, "-E") - enc_alg + pp.Optional(T(K.F_AUTH, "-A") - auth_alg)
        | T(K.F_AUTH, "-A") - auth_alg
        | T(K.F_COMP, "-C") - T(K.ALG_COMP, "compression")("comp") + pp.Optional(T(K.F_RAWCPI, "-R")("raw"))
    )
    add = (T(K.ADD, "add")("cmd") - aiflags - ipandport("src") - ipandport("dst") - protocol - spi
           - extensions - algorithm - eot)
    get_delete = ((T(K.GET, "get") | T(K.DELETE, "delete"))("cmd") - aiflags - ipandport("src")
                  - ipandport("dst") - protocol - spi - extensions - eot)
    deleteall = T(K.DELETEALL, "deleteall")("cmd") - aiflags - string("src") - string("dst") - protocol - eot
    flush = T(K.FLUSH, "flush")("cmd") - protocol - eot
    dump = T(K.DUMP, "dump")("cmd") - protocol - eot

    def addr_range(name: str) -> pp.ParserElement:
        return pp.Group(string("host") + pp.Optional(T(K.SLASH, "'/'") - dec("prefix")) + pp.Optional(portstr))(name)

    upper = (dec | T(K.ANY, "any") | T(K.PR_TCP, "tcp") | string)("upper")
    policy = T(K.F_POLICY, "-P") - T(K.PL_REQUESTS, "policy")("pl")
    spd_body = (aiflags - addr_range("src") - addr_range("dst") - upper - pp.Optional(string("misc"))
                - pp.Optional(ctx) - policy - eot)
    tagged = T(K.TAGGED, "tagged")("tagged") - quoted("tag") - policy - eot
    spdadd = (T(K.SPDADD, "spdadd") | T(K.SPDUPDATE, "spdupdate"))("cmd") - (tagged | spd_body)
    spddelete = T(K.SPDDELETE, "spddelete")("cmd") - spd_body
    spdflush = T(K.SPDFLUSH, "spdflush")("cmd") - eot
    spddump = T(K.SPDDUMP, "spddump")("cmd") - eot
    exit_ = T(K.EXIT, "exit")("cmd") - eot
    statement = add | get_delete | deleteall | flush | dump | spdadd | spddelete | spdflush | spddump | exit_
    return statement.leave_whitespace()


def parse_with_grammar(shape: str) -> ParseTree | int:
    """The pyparsing grammar's parse of a statement shape as nested dicts (result name → token index, lists
    for repetitions), or the index of the token where the shape goes wrong."""
    import pyparsing as pp

    try:
        tree: ParseTree = _build_grammar().parse_string(shape, parse_all=True).as_dict()
    except pp.ParseBaseException as exc:
        return exc.loc
    return tree


@lru_cache(maxsize=512)
def parse_shape(shape: str) -> ParseTree | int:
    """:func:`parse_with_grammar`, taken from the shipped table of common shapes when it is there."""
    shipped = shape_cache.statement(shape)
    return shipped if shipped is not None else parse_with_grammar(shape)


class _Ctx:
    """What the builder needs: the statement's tokens and the whole source (for positions)."""

    __slots__ = ("toks", "script")

    def __init__(self, toks: list[Token], script: str) -> None:
        self.toks = toks
        self.script = script

    def ref(self, i: int, text: str | None = None) -> TokenRef:
        tok = self.toks[i]
        return TokenRef(tok.line, tok.text if text is None else text, tok.pos, self.script)

    def text(self, i: int) -> str:
        return self.toks[i].text

    def number(self, i: int, field: str) -> int:
        """The decimal token ``i`` as a value of ``field`` (a key of :data:`RANGES`); refused beyond it."""
        value = _decimal(self.text(i))
        limit, message = RANGES[field]
        if value > limit:
            raise self.error(message, i)
        return value

    def error(self, message: str, i: int, text: str | None = None, *, fatal: bool = False,
              stderr_lines: tuple[str, ...] = ()) -> SetkeyParseError:
        return error_at(message, self.ref(i, text), fatal=fatal, stderr_lines=stderr_lines)


def error_at(message: str, ref: TokenRef, *, fatal: bool = False, silent: bool = False,
             stderr_lines: tuple[str, ...] = (), partial: Statement | None = None) -> SetkeyParseError:
    """A :class:`SetkeyParseError` about the token ``ref``."""
    return SetkeyParseError(message, ref.line, ref.column, ref.text, source_line=ref.source_line, fatal=fatal,
                            silent=silent, stderr_lines=stderr_lines, pos=ref.pos, partial=partial)


def _decimal(text: str) -> int:
    """A token of decimal digits as a number (the exact value: range checks come after)."""
    digits = text.lstrip("0") or "0"
    if len(digits) > 40:
        return 10**40  # beyond every field; spares converting a megabyte of digits
    return int(digits)


def _strtoul(text: str, base: int = 10) -> int:
    """C's strtoul on a whole token of digits (saturating at ULONG_MAX, however long the token)."""
    digits = text.lstrip("0") or "0"
    if len(digits) > (20 if base == 10 else 16):
        return _ULONG_MAX
    return min(int(digits, base), _ULONG_MAX)


def address_flags(flags: tuple[str, ...]) -> tuple[int, bool]:
    """The getaddrinfo hints of ``-4``/``-6``/``-n`` flags (``-46n`` too): family (0, 4 or 6), numeric only."""
    family, numeric = 0, False
    for f in flags:
        for ch in f[1:]:
            if ch == "4":
                family = 4
            elif ch == "6":
                family = 6
            else:
                numeric = True
    return family, numeric


def _aiflags(c: _Ctx, r: ParseTree) -> tuple[tuple[str, ...], int, bool]:
    if not r["aiflags"]:
        return (), 0, False
    flags = tuple(c.text(i) for i in r["aiflags"])
    return (flags, *address_flags(flags))


def _port_text(c: _Ctx, g: ParseTree) -> str | None:
    """The ``[port]`` as written (None when absent); a decimal port beyond 65535 is refused."""
    if "port" not in g:
        return None
    if c.toks[g["port"]].kind == K.DECSTRING:
        c.number(g["port"], "port")
    return c.text(g["port"])


def _resolve(c: _Ctx, host: str, port: str | None, family: int, numeric: bool, at: int) -> None:
    try:
        addr.resolve(host, _service(port), family=family, numeric=numeric)
    except addr.ResolveError as exc:
        raise c.error(str(exc), at) from None


def _service(port: str | None) -> str | None:
    """The service string setkey hands getaddrinfo for a ``[port]`` (``any`` and absent are "0")."""
    if port is None or port == "any":
        return "0"
    if port.isdigit():
        return str(_strtoul(port))
    return port


def _spi(c: _Ctx, i: int) -> int:
    tok = c.toks[i]
    value = _strtoul(tok.text[2:], 16) if tok.kind == K.HEXSTRING else _strtoul(tok.text)
    if value > SPI_MAX:
        raise c.error("SPI too big.", i)
    return value


def _key(c: _Ctx, i: int) -> bytes:
    tok = c.toks[i]
    if tok.kind == K.QUOTEDSTRING:
        return tok.text.encode("utf-8", "surrogateescape")
    digits = tok.text[2:]
    if len(digits) % 2:
        digits = "0" + digits
    return bytes.fromhex(digits)


def _sec_ctx(c: _Ctx, r: ParseTree) -> SecurityContext:
    return SecurityContext(c.number(r["doi"], "doi"), c.number(r["alg"], "alg"),
                           c.text(r["label"]).encode("utf-8", "surrogateescape"))


_NO_OPTIONS = SAOptions()


def _sa_options(c: _Ctx, exts: list[ParseTree], old: bool) -> SAOptions:
    if not exts:
        return _NO_OPTIONS
    values: dict[str, Any] = {}
    flags: list[str] = []
    for g in exts:
        if "ctx" in g:
            values["ctx"] = _sec_ctx(c, g)
            continue
        flag = c.text(g["flag"])
        value = c.text(g["value"])
        if flag == "-f":
            flags.append(value)
        elif flag == "-m":
            values["mode"] = value
        elif flag == "-r":
            if old:
                raise c.error("replay prevention cannot be used with ah/esp-old", g["value"])
            values["replay"] = c.number(g["value"], "-r")
        else:
            name = {"-u": "reqid", "-lh": "hard_time", "-ls": "soft_time", "-bh": "hard_bytes",
                    "-bs": "soft_bytes"}[flag]
            values[name] = c.number(g["value"], flag)
    return SAOptions(flags=tuple(flags), **values)


def _build_sa(c: _Ctx, r: ParseTree) -> SAStatement:
    toks = c.toks
    cmd = toks[r["cmd"]].text
    ai_flags, family, numeric = _aiflags(c, r)
    hosts: list[HostPort] = []
    for name in ("src", "dst"):
        g = r[name]
        host, port = toks[g["host"]].text, _port_text(c, g)
        try:
            addr.resolve(host, _service(port), family=family, numeric=numeric)
        except addr.ResolveError as exc:
            raise c.error(str(exc), g["portend"] if "portend" in g else g["host"] + 1) from None
        hosts.append(HostPort(host, port))
    protocol = toks[r["proto"]].text if "proto" in r else None
    oa = None
    if "oa" in r:
        oa = c.text(r["oa"])
        _resolve(c, oa, None, family, numeric, r["oa"])
    spi = _spi(c, r["spi"])
    old = protocol in ("esp-old", "ah-old")
    options = _sa_options(c, r["exts"], old)
    warnings: list[tuple[str, TokenRef]] = []
    enc = enc_key = auth = auth_key = comp = None
    enc_ref = auth_ref = None
    if "enc" in r:
        enc = c.text(r["enc"])
        if "enckey" in r:
            enc_key = _key(c, r["enckey"])
            enc_ref = c.ref(r["enckey"])
            if (enc == "des-deriv" and old) or (enc == "des-32iv" and not old):
                raise c.error("algorithm mismatched", r["enckey"])
        elif enc == "simple":
            warnings.append(("WARNING: obsolete algorithm", c.ref(r["enc"])))
    if "auth" in r:
        auth = c.text(r["auth"])
        if "authkey" in r:
            auth_key = _key(c, r["authkey"])
            auth_ref = c.ref(r["authkey"])
    if "comp" in r:
        comp = c.text(r["comp"])
    end = c.ref(r["eot"])
    if cmd != "add" and options.mode not in (None, "any"):
        warnings.append(("WARNING: mode is obsolete", end))
    stmt = SAStatement(cmd, hosts[0], hosts[1], protocol, spi, ai_flags, oa, options, enc, enc_key, auth,
                       auth_key, comp, "raw" in r,
                       Source(end, enc_ref, auth_ref, tuple(warnings)))
    if cmd == "delete":
        for hp in hosts:
            if len(addr.resolve(hp.host, _service(hp.port), family=family, numeric=numeric)) > 1:
                raise error_at("multiple address specified", end)
    return stmt


def _build_deleteall(c: _Ctx, r: ParseTree) -> DeleteAllStatement:
    ai_flags, family, numeric = _aiflags(c, r)
    for name in ("src", "dst"):
        _resolve(c, c.text(r[name]), None, family, numeric, r[name])
    protocol = c.text(r["proto"]) if "proto" in r else None
    if "oa" in r:
        _resolve(c, c.text(r["oa"]), None, family, numeric, r["oa"])
    return DeleteAllStatement(c.text(r["src"]), c.text(r["dst"]), protocol, ai_flags, Source(c.ref(r["eot"])))


def _policy(c: _Ctx, r: ParseTree) -> Policy:
    try:
        return parse_policy(c.text(r["pl"]))
    except PolicyError as exc:
        raise c.error(exc.message, r["pl"], stderr_lines=exc.stderr_lines) from None


def _build_spd(c: _Ctx, r: ParseTree) -> SPDStatement | SPDTaggedStatement:
    cmd = c.text(r["cmd"])
    if "tagged" in r:
        policy = _policy(c, r)
        return SPDTaggedStatement(cmd, c.text(r["tag"]), policy, Source(c.ref(r["eot"])))
    ai_flags, family, numeric = _aiflags(c, r)
    ranges = []
    for name in ("src", "dst"):
        g = r[name]
        prefix = c.number(g["prefix"], "prefix") if "prefix" in g else None
        ranges.append(AddressRange(c.text(g["host"]), prefix, _port_text(c, g)))
    upper = c.text(r["upper"])
    if c.toks[r["upper"]].kind == K.STRING and addr.protocol_number(upper) is None:
        raise c.error("invalid upper layer protocol", r["upper"])
    if c.toks[r["upper"]].kind == K.DECSTRING:
        c.number(r["upper"], "upper")
    misc = c.text(r["misc"]) if "misc" in r else None
    ctx = None
    if "ctx" in r:
        ctx = _sec_ctx(c, r)
    policy = _policy(c, r)
    # Checks done once the ';' is read: yytext is then the policy text and the ';' (flex yymore()).
    end = c.ref(r["eot"], c.text(r["pl"]) + ";")
    stmt = SPDStatement(cmd, ranges[0], ranges[1], upper, policy, ai_flags, misc, ctx, Source(end))
    try:
        sport, dport = spd_ports(stmt)
    except ValueError as exc:
        raise error_at(str(exc), end) from None
    for rng, port in ((ranges[0], sport), (ranges[1], dport)):
        try:
            found = addr.resolve(rng.host, port, family=family, numeric=numeric)
        except addr.ResolveError as exc:
            raise error_at(str(exc), end) from None
        if len(found) > 1:
            raise error_at("multiple address specified", end)
    return stmt


def upper_number(upper: str) -> int:
    """The upper-layer protocol number of an ``spdadd`` (``any`` is 255)."""
    if upper == "any":
        return 255
    if upper == "tcp":
        return 6
    if upper.isdigit():
        return _strtoul(upper) & 0xFFFFFFFF
    number = addr.protocol_number(upper)
    if number is None:
        raise ValueError("invalid upper layer protocol")
    return number


def _scan_ints(text: str, count: int, sep: str) -> list[int]:
    """Like sscanf with ``count`` ``%d`` separated by ``sep``: the numbers read before the first mismatch
    (their exact values: :func:`spd_ports` refuses those its fields cannot hold)."""
    out: list[int] = []
    rest = text
    for n in range(count):
        stripped = rest.lstrip()
        j = 0
        if j < len(stripped) and stripped[j] in "+-":
            j += 1
        k = j
        while k < len(stripped) and stripped[k].isdigit():
            k += 1
        if k == j:
            break
        sign = -1 if stripped[:j] == "-" else 1
        out.append(sign * _decimal(stripped[j:k]))
        rest = stripped[k:]
        if n < count - 1:
            if not rest.startswith(sep):
                break
            rest = rest[1:]
    return out


def spd_ports(stmt: SPDStatement) -> tuple[str, str]:
    """The source and destination service strings setkey resolves (after fix_portstr's ICMP/GRE rules)."""
    sport, dport = _service(stmt.src.port), _service(stmt.dst.port)
    if stmt.misc is None:
        return sport or "0", dport or "0"
    proto = upper_number(stmt.upper)
    if proto in (1, 58, 135):
        # ICMP / ICMPv6 type and code, MH type: one byte each.
        nums = _scan_ints(stmt.misc, 2, ",")
        if not nums:
            raise ValueError("invalid an upper layer protocol spec")
        if max(nums) > U8_MAX:
            raise ValueError(UPPER_SPEC_TOO_BIG)
        sport = str(nums[0])
        dport = str(nums[1]) if len(nums) > 1 else "0"
    elif proto == 47:
        # A GRE key: four bytes (``1.2.3.4``) or one number, which setkey reads as a C int.
        nums = _scan_ints(stmt.misc, 4, ".")
        if len(nums) == 4:
            if min(nums) < 0:
                raise ValueError("invalid an upper layer protocol spec")
            if max(nums) > U8_MAX:
                raise ValueError(UPPER_SPEC_TOO_BIG)
            sport, dport = str((nums[0] << 8) + nums[1]), str((nums[2] << 8) + nums[3])
        elif nums and nums[0] >= 0:
            if nums[0] > 0x7FFFFFFF:
                raise ValueError(UPPER_SPEC_TOO_BIG)
            sport, dport = str(nums[0] >> 16), str(nums[0] & 0xFFFF)
        else:
            raise ValueError("invalid an upper layer protocol spec")
    return sport or "0", dport or "0"


_BUILDERS: dict[str, Callable[[_Ctx, ParseTree], Statement]] = {
    K.ADD: _build_sa, K.GET: _build_sa, K.DELETE: _build_sa, K.DELETEALL: _build_deleteall,
    K.SPDADD: _build_spd, K.SPDUPDATE: _build_spd, K.SPDDELETE: _build_spd,
}


# Token kinds that finish an incomplete statement, tried in order (see _partial), and their texts.
_COMPLETIONS = (";", "46;", "046;", "s046;", "ss046;", "0;", "s0;", "ss0;", "3;", "C;", "s;", "ss;", "PL;",
                "nPL;", "snPL;", "ssnPL;", "]", "];", "]046;", "]s046;", "]0;", "]s0;", "]snPL;", "]nPL;")
_FILLER = {K.EOT: ";", K.F_ENC: "-E", K.ALG_ENC_NOKEY: "null", K.DECSTRING: "0", K.STRING: "0.0.0.0",
           K.ALG_AUTH_NOKEY: "null", K.ALG_COMP: "deflate", K.F_POLICY: "-P", K.PL_REQUESTS: " out",
           K.ANY: "any", K.ELCL: "]"}


def _partial(toks: list[Token], k: int, script: str) -> Statement | SetkeyParseError | None:
    """setkey's parser runs the checks of everything before the token it chokes on (token ``k``, and the
    reductions that token triggers as lookahead). Rebuild that: complete the tokens before ``k`` with filler
    tokens and build; an error about a real token up to ``k`` is what setkey reports first."""
    bad = toks[k]
    shape = "".join([tok.kind for tok in toks[:k]])
    for j in range(k, 0, -1):
        for suffix in _COMPLETIONS:
            if isinstance(parse_shape(shape[:j] + suffix), int):
                continue
            filler = []
            for i, kind in enumerate(suffix):
                # The first filler stands where the bad token is: a check triggered by it (as lookahead)
                # is reported at the bad token, as setkey does.
                real = i == 0 and j == k and kind != K.EOT and bad.kind != K.ERROR
                filler.append(Token(kind, _FILLER[kind], bad.pos if real else -1, bad.line))
            try:
                return build(toks[:j] + filler, script)
            except SetkeyParseError as exc:
                limit = bad.pos if bad.kind != K.ERROR else bad.pos - 1
                if exc.silent or not 0 <= exc.pos <= limit:
                    return None
                if exc.pos == bad.pos:
                    return error_at(exc.message, TokenRef(bad.line, bad.text, bad.pos, script),
                                    stderr_lines=exc.stderr_lines)
                return exc
    return None


def build(toks: list[Token], script: str) -> Statement:
    """The statement of one statement's tokens (raises :class:`SetkeyParseError`)."""
    c = _Ctx(toks, script)
    shape = "".join([tok.kind for tok in toks])
    r = parse_shape(shape)
    if isinstance(r, int):
        k = min(r, len(toks) - 1)
        partial = _partial(toks, k, script)
        if isinstance(partial, SetkeyParseError):
            raise partial
        if toks[k].kind == K.ERROR:
            raise error_at("Syntax error", c.ref(k), fatal=True, partial=partial)
        raise error_at("syntax error", c.ref(k), partial=partial)
    kind = toks[0].kind
    builder = _BUILDERS.get(kind)
    if builder is not None:
        return builder(c, r)
    end = Source(c.ref(r["eot"]))
    if kind in (K.FLUSH, K.DUMP):
        proto = c.text(r["proto"]) if "proto" in r else None
        if "oa" in r:
            _resolve(c, c.text(r["oa"]), None, 0, False, r["oa"])
        return FlushStatement(proto, end) if kind == K.FLUSH else DumpStatement(proto, end)
    if kind == K.SPDFLUSH:
        return SPDFlushStatement(end)
    if kind == K.SPDDUMP:
        return SPDDumpStatement(end)
    return ExitStatement(toks[0].text, end)


def parse(text: str, *, platform: Platform = LINUX) -> list[Statement]:
    """Every statement of a setkey script, stopping at ``exit``; raises at the first bad one."""
    del platform  # the language is the same everywhere this tool runs; compile.py uses the platform
    scanner = Scanner(text)
    out: list[Statement] = []
    while True:
        toks = scanner.statement()
        if len(toks) == 1 and toks[0].kind == K.EOF:
            return out
        stmt = build(toks, text)
        out.append(stmt)
        if isinstance(stmt, ExitStatement):
            return out


def parse_one(text: str) -> Statement:
    """Exactly one statement (what a TUI form builds); raises :class:`SetkeyParseError` otherwise."""
    stmts = parse(text)
    if len(stmts) != 1:
        end = text.count("\n") + 1
        raise SetkeyParseError("expected exactly one statement", end, 1, "", source_line="", silent=True)
    return stmts[0]
