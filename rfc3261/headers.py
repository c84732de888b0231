"""Typed header field values (RFC 3261 §7.3, §8.1.1, §20, §25).

One dataclass (or one small function) per header field value the core uses, each with a
``parse`` that raises :class:`~rfc3261.errors.ParseError` naming the header, the defect and
the section, and a ``__str__`` that writes the value back. ``T.parse(str(v)) == v``.

The registry at the bottom tells the message layer how to parse each header field, its
compact form (§7.3.3) and whether it is a comma-separated list (§7.3.1);
:func:`split_header_values` splits such a list at its top-level commas. Its one door is
:func:`register_header`: RFC 3261's own header fields (§20) go through it at import, and
an extension's (RFC 3326 Reason, RFC 3515 Refer-To "r", ...) go through it the same way,
after which the message layer finds the header by its long or compact name in any case,
splits and parses it like a built-in, and cites its defining RFC section
(:attr:`HeaderType.reference`). Registering the same definition twice is harmless;
redefining a name or taking a compact form that is already held raises ValueError.
:data:`HEADER_TYPES`, :data:`COMPACT_FORMS` and :data:`CANONICAL_NAMES` are read-only
views of the registry, never copies, so they cannot go stale.

Theory of operation
-------------------
The message layer parses the usual header fields of every message, so the common shapes
(``SIP/2.0/UDP host:port;branch=...``, ``"Name" <sip:...>;tag=...``, ``4711 INVITE``) are
read by one compiled ``fullmatch`` with named groups and their parameters by
``str.split(";")``. Anything else (LWS around separators, quoted parameter values, escapes
in display names) falls through to a slower path that follows the §25 grammar with LWS
everywhere the ABNF allows it. Both paths produce the same values. Parameter values are
kept as written (a quoted-string keeps its quotes); :func:`unquote` reads them. A
name-addr's single ``name=value`` parameter (the usual ``;tag=...``) stays text until
``params`` is read, once the pattern has checked it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any, ClassVar

from . import abnf
from .errors import ParseError
from .params import Parameters
from .uri import _SIP_URI_GROUPS, AbsoluteURI, SipURI, _sip_uri_from_groups, parse_uri

__all__ = [
    "BRANCH_MAGIC_COOKIE",
    "CANONICAL_NAMES",
    "COMPACT_FORMS",
    "HEADER_TYPES",
    "MAX_COMMENT_DEPTH",
    "MAX_DELTA_SECONDS",
    "CSeq",
    "Contact",
    "ContentType",
    "HeaderType",
    "MediaRange",
    "NameAddr",
    "RetryAfter",
    "SipDate",
    "Timestamp",
    "Via",
    "Warning",
    "canonical_name",
    "parse_allow",
    "parse_call_id",
    "parse_content_length",
    "parse_expires",
    "parse_max_forwards",
    "parse_method",
    "parse_min_expires",
    "parse_option_tag",
    "quote",
    "register_header",
    "scan_comment",
    "split_header_values",
    "unquote",
    "unregister_header",
]

# Largest delta-seconds value kept as is (§10.2, §20.19, §20.23).
MAX_DELTA_SECONDS = 2**32 - 1

_TOKEN_CHARS = r"A-Za-z0-9\-.!%*_+`'~"
_TOKEN = re.compile(abnf.token)
_HOST = re.compile(abnf.host)
_IPV4 = re.compile(abnf.IPv4address)
_IPV6 = re.compile(abnf.IPv6address)
_IPV6_REF = re.compile(abnf.IPv6reference)
_QUOTED = re.compile(abnf.quoted_string_bare)
_LWS_RUN = re.compile(r"(?:[ \t]*\r\n)?[ \t]+")
_QUOTED_PAIR = re.compile(r"\\([\x00-\x09\x0b\x0c\x0e-\x7f])")
_FOLD = re.compile(r"\r\n[ \t]+")
# Characters that cannot stand raw inside a quoted-string (§25.1 qdtext) but may be
# written as a quoted-pair. CR and LF can be neither, and never reach __str__.
_NEEDS_ESCAPE = re.compile(r'[\x00-\x08\x0a-\x1f\x7f"\\]')
_WS = " \t\r\n"
_NONASCII = "\x80-\U0010ffff"


def _error(header: str, defect: str, section: str) -> ParseError:
    return ParseError(defect, section=section, header=header)


def unquote(value: str | None) -> str | None:
    """The text of a quoted-string with its quoted-pairs undone; other values unchanged."""
    if value is None or len(value) < 2 or value[0] != '"' or value[-1] != '"':
        return value
    inner = value[1:-1]
    if "\r" in inner:
        # §7.3.1: "The line break and the whitespace at the beginning of the next line
        # are treated as a single SP character."
        inner = _FOLD.sub(" ", inner)
    if "\\" in inner:
        inner = _QUOTED_PAIR.sub(r"\1", inner)
    return inner


def quote(text: str) -> str:
    """``text`` as a quoted-string, escaping what qdtext cannot hold (§25.1)."""
    return '"' + _NEEDS_ESCAPE.sub(lambda m: "\\" + m.group(), text) + '"'


# ---------------------------------------------------------------------------
# Parameters: *( SEMI generic-param )
# ---------------------------------------------------------------------------

# The common shape: no whitespace, no quotes, values that are tokens or "[...]" (an IPv6
# reference, checked afterwards). One fullmatch checks the whole run, then str.split
# takes it apart.
_PARAMS_FAST = re.compile(
    f"(?:;[{_TOKEN_CHARS}]++(?:=(?:[{_TOKEN_CHARS}]++|\\[[0-9A-Fa-f:.]++\\]))?)*+"
)
_PARAM_SLOW = re.compile(
    f"{abnf.SEMI}(?P<name>{abnf.token})(?:{abnf.EQUAL}(?P<value>{abnf.gen_value}))?"
)
# via-received also takes an IPv6address without brackets (RFC 3261 §25.1, RFC 5118 §4.5).
_VIA_PARAM_SLOW = re.compile(
    f"{abnf.SEMI}(?P<name>{abnf.token})"
    f"(?:{abnf.EQUAL}(?P<value>{abnf.IPv6address}(?![{_TOKEN_CHARS}:])|{abnf.gen_value}))?"
)
_TRAILING_SWS = re.compile(abnf.SWS)


def _split_params(text: str) -> list[tuple[str, str | None]]:
    items: list[tuple[str, str | None]] = []
    for part in text[1:].split(";"):
        name, eq, value = part.partition("=")
        items.append((name, value if eq else None))
    return items


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.1
##% Even though an arbitrary number of parameter pairs may be
##% attached to a header field value, any given parameter-name MUST NOT
##% appear more than once.
def _check_unique(items: list[tuple[str, str | None]], header: str) -> None:
    """§7.3.1: "any given parameter-name MUST NOT appear more than once"."""
    if len(items) == 2:  # the usual case (a Via's branch and rport): one comparison
        repeated = items[0][0].lower() == items[1][0].lower()
    else:
        repeated = len({name.lower() for name, _ in items}) != len(items)
    if repeated:
        raise _error(header, "a parameter appears more than once", "7.3.1")


##= https://www.rfc-editor.org/rfc/rfc3261#section-20
##% A UA SHOULD ignore extension header parameters that are not understood.
# Every generic-param is kept as written, known or not; only the typed properties
# (tag, branch, q, expires, ...) read the ones they understand.
def _parse_params(
    text: str, header: str, section: str, slow: re.Pattern[str] = _PARAM_SLOW
) -> list[tuple[str, str | None]]:
    """``*( SEMI generic-param )`` as ``(name, value-as-written)`` pairs."""
    if not text:
        return []
    if _PARAMS_FAST.fullmatch(text):
        items = _split_params(text)
    else:
        items = []
        pos, end = 0, len(text)
        while pos < end:
            m = slow.match(text, pos)
            if m is None:
                tail = _TRAILING_SWS.match(text, pos)
                if tail is not None and tail.end() == end:
                    break
                raise _error(header, f"malformed parameter at {text[pos : pos + 20]!r}", section)
            items.append((m["name"], m["value"]))
            pos = m.end()
    if len(items) > 1:
        names = {name.lower() for name, _ in items}
        if len(names) != len(items):
            # §7.3.1: "any given parameter-name MUST NOT appear more than once."
            raise _error(header, "a parameter appears more than once", "7.3.1")
    return items


# ---------------------------------------------------------------------------
# Via (§20.42, §8.1.1.7, §18.2.1, RFC 3581, RFC 5118 §4.5)
# ---------------------------------------------------------------------------

# https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.7
# The magic cookie that marks a branch built by RFC 3261 rules.
BRANCH_MAGIC_COOKIE = "z9hG4bK"

# The common shape in one pattern: "SIP/2.0/UDP", a host name or address (the host rule
# of §25.1), an optional port and parameters without whitespace or quotes.  The usual
# parameters, in lower case and in this order, are matched apart: a branch (a token:
# branch=token), then possibly an rport with or without a port number and a received
# IPv4 address (RFC 3581 §4, as a server adds them to a request it answers).  They need
# no check beyond this pattern but the rport range.
_VIA_FAST = re.compile(
    f"SIP/2\\.0/(?P<transport>[{_TOKEN_CHARS}]++) "
    f"(?P<host>{abnf.host})(?::(?P<port>[0-9]{{1,5}}))?"
    f"(?:;branch=(?P<branch>[{_TOKEN_CHARS}]++)"
    f"(?P<rport>;rport(?:=(?P<rport_value>[0-9]{{1,5}}))?)?"
    f"(?:;received=(?P<received>{abnf.IPv4address}))?"
    f"|(?P<params>{_PARAMS_FAST.pattern}))"
)
# Via.parse reads its groups in this order.
assert list(_VIA_FAST.groupindex) == [
    "transport", "host", "port", "branch", "rport", "rport_value", "received", "params",
] and _VIA_FAST.groups == 8  # fmt: skip
_VIA_SLOW = re.compile(
    f"(?P<name>{abnf.token}){abnf.SLASH}(?P<version>{abnf.token}){abnf.SLASH}"
    f"(?P<transport>{abnf.token}){abnf.LWS}(?P<host>{abnf.host})"
    f"(?:{abnf.COLON}(?P<port>[0-9]++))?(?P<params>.*)",
    re.S,
)
# What stands where sent-by should be, to name a bad host in the error.
_VIA_SENT_BY = re.compile(r"[^ \t]*+[ \t\r\n]++([^:;\s]++)")
_TTL = re.compile(abnf.ttl)
_DIGITS = re.compile("[0-9]++")


@dataclass(slots=True, eq=False)
class Via:
    """One via-parm: sent-protocol, sent-by and via-params."""

    transport: str
    host: str
    port: int | None = None
    params: Parameters = field(default_factory=Parameters)
    protocol: str = "SIP/2.0"

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-20.42
    ##% A Via header field value contains the transport protocol used to send
    ##% the message, the client's host name or network address, and possibly
    ##% the port number at which it wishes to receive responses.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-20.42
    ##% The host or network address and port number are not required to
    ##% follow the SIP URI syntax.  Specifically, LWS on either side of the
    ##% ":" or "/" is allowed, as shown here:
    @classmethod
    def parse(cls, text: str) -> Via:
        """Parse one via-parm (a Via header field value, already split at commas)."""
        m = _VIA_FAST.fullmatch(text)
        if m is None:
            return cls._parse_slow(text)
        transport, host, port, branch, rport, rport_value, received, params_text = m.groups()
        if port is not None:
            port = int(port)
            if port > 65535:
                raise _error("Via", f"port {port} out of range", "20.42")
        if branch is not None:
            # Fast path: the usual parameters, nothing more to check but the rport range.
            # The general path follows.
            items: list[tuple[str, str | None]] = [("branch", branch)]
            if rport is not None:
                if rport_value is not None and int(rport_value) > 65535:
                    raise _error("Via", "rport is not a port number", "RFC 3581 §5")
                items.append(("rport", rport_value))
            if received is not None:
                items.append(("received", received))
            return cls(transport, host, port, Parameters(items))
        if not params_text:
            return cls(transport, host, port, Parameters())
        items = _split_params(params_text)
        if len(items) > 1:
            _check_unique(items, "Via")
        for name, value in items:
            # Values here are tokens or "[...]"; check what the grammar restricts further.
            if value is None:
                if name.lower() in _VIA_NEEDS_VALUE:
                    _check_via_param(name.lower(), name, None)
            elif value[0] == "[" or name.lower() in _VIA_CHECKED:
                _check_via_param(name.lower(), name, value)
        return cls(transport, host, port, Parameters(items))

    @classmethod
    def _parse_slow(cls, text: str) -> Via:
        m = _VIA_SLOW.fullmatch(text.strip(_WS))
        if m is None:
            sent_by = _VIA_SENT_BY.match(text.strip(_WS))
            if sent_by is not None and _HOST.fullmatch(sent_by[1]) is None:
                raise _error("Via", f"{sent_by[1][:40]!r} is not a host name or address", "20.42")
            raise _error("Via", "malformed sent-protocol or sent-by", "20.42")
        port_text = m["port"]
        port = None
        if port_text is not None:
            port = int(port_text) if len(port_text) <= 5 else 65536
            if port > 65535:
                raise _error("Via", f"port {port_text} out of range", "20.42")
        items = _parse_params(m["params"], "Via", "20.42", _VIA_PARAM_SLOW)
        _check_via_params(items)
        protocol = f"{m['name']}/{m['version']}"
        return cls(m["transport"], m["host"], port, Parameters(items), protocol)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-20.42
    ##% Two Via header fields are equal if their sent-protocol and sent-by
    ##% fields are equal, both have the same set of parameters, and the
    ##% values of all parameters are equal.
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Via):
            return NotImplemented
        return (
            self.protocol.upper() == other.protocol.upper()
            and self.transport.upper() == other.transport.upper()
            and self.host.lower() == other.host.lower()
            and self.port == other.port
            and sorted((n.lower(), v) for n, v in self.params)
            == sorted((n.lower(), v) for n, v in other.params)
        )

    def __hash__(self) -> int:
        return hash((self.transport.upper(), self.host.lower(), self.port))

    def __str__(self) -> str:
        port = "" if self.port is None else f":{self.port}"
        return f"{self.protocol}/{self.transport} {self.host}{port}{self.params}"

    @property
    def sent_by(self) -> str:
        """``host[:port]`` as written in the value."""
        return self.host if self.port is None else f"{self.host}:{self.port}"

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.7
    ##% The branch ID inserted by an element compliant with this
    ##% specification MUST always begin with the characters "z9hG4bK".
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-20.42
    ##% For implementations compliant to this
    ##% specification, the value of the branch parameter MUST start with the
    ##% magic cookie "z9hG4bK", as discussed in Section 8.1.1.7.
    @property
    def has_rfc3261_branch(self) -> bool:
        """True when the branch starts with the magic cookie (a unique transaction id)."""
        branch = self.params.get("branch")
        return branch is not None and branch.startswith(BRANCH_MAGIC_COOKIE)

    @property
    def received(self) -> str | None:
        return self.params.get("received")

    ##= https://www.rfc-editor.org/rfc/rfc3581#section-5
    ##% response-port = "rport" [EQUAL 1*DIGIT]
    @property
    def rport(self) -> int | str | None:
        """None when absent, "" when present without a value, else the port number."""
        value = self.params.get("rport", "\0")
        if value == "\0":
            return None
        return "" if value is None else int(value)

    @property
    def maddr(self) -> str | None:
        return self.params.get("maddr")

    @property
    def ttl(self) -> int | None:
        value = self.params.get("ttl")
        return None if value is None else int(value)


def _check_via_params(items: list[tuple[str, str | None]]) -> None:
    if len(items) > 1 and len({name.lower() for name, _ in items}) != len(items):
        raise _error("Via", "a parameter appears more than once", "7.3.1")
    for name, value in items:
        _check_via_param(name.lower(), name, value)


# Parameters whose values Via's grammar restricts beyond generic-param (§25.1 via-params),
# and those that must have a value.
_VIA_CHECKED = frozenset(("received", "ttl", "maddr", "rport"))
_VIA_NEEDS_VALUE = frozenset(("branch", "received", "ttl", "maddr"))


def _check_via_param(key: str, name: str, value: str | None) -> None:
    if key == "received":
        ##= https://www.rfc-editor.org/rfc/rfc5118#section-4.5
        ##% Thus, the best that can be suggested is that
        ##% implementations must follow the Robustness Principle [RFC1122] and be
        ##% liberal in accepting a "received" parameter with or without the
        ##% delimiting "[" and "]" tokens.
        if value is None or not (
            _IPV4.fullmatch(value) or _IPV6.fullmatch(value) or _IPV6_REF.fullmatch(value)
        ):
            raise _error("Via", "received is not an IP address", "20.42")
        return
    if (
        value is not None
        and value[0] != '"'
        and (":" in value or "[" in value)
        and _IPV6_REF.fullmatch(value) is None
    ):
        raise _error("Via", f"malformed value of parameter {name!r}", "20.42")
    if key == "branch" and (value is None or _TOKEN.fullmatch(value) is None):
        raise _error("Via", "branch is not a token", "20.42")
    if key == "ttl" and (value is None or not _TTL.fullmatch(value) or int(value) > 255):
        raise _error("Via", "ttl is not a number from 0 to 255", "20.42")
    if key == "maddr" and (value is None or _HOST.fullmatch(value) is None):
        raise _error("Via", "maddr is not a host", "20.42")
    if key == "rport" and (
        value is not None
        and (not _DIGITS.fullmatch(value) or len(value) > 5 or int(value) > 65535)
    ):
        raise _error("Via", "rport is not a port number", "RFC 3581 §5")


# ---------------------------------------------------------------------------
# name-addr / addr-spec: From, To, Contact, Route, Record-Route, Reply-To (§20.10, §20.20)
# ---------------------------------------------------------------------------

# The common shapes in one pattern each: an optional display name (a quoted string
# without quoted-pairs, or tokens separated by single SPs), the URI in <...>, and header
# parameters without whitespace or quotes. The first checks a SIP or SIPS URI against the
# whole §25.1 grammar, with a group per component; the second takes any other URI, which
# parse_uri checks.
_DISPLAY_FAST = (
    f'(?:"(?P<quoted>[\\t !#-\\[\\]-~{_NONASCII}]*+)" ?'
    f"|(?P<tokens>{abnf.token}(?: {abnf.token})*+) ?)?"
)
_NAME_ADDR_SIP_FAST = re.compile(
    f"{_DISPLAY_FAST}<(?P<uri>{_SIP_URI_GROUPS})>(?P<params>{_PARAMS_FAST.pattern})"
)
# NameAddr.parse reads the groups of _NAME_ADDR_SIP_FAST by position.
assert list(_NAME_ADDR_SIP_FAST.groupindex) == [
    "quoted", "tokens", "uri", "scheme", "user", "password", "host", "port", "uri_params",
    "uri_headers", "params",
] and _NAME_ADDR_SIP_FAST.groups == 11  # fmt: skip
_FAST_GROUPS = (1, 2, 8, 9, 10, 11)  # quoted, tokens, port, uri_params, uri_headers, params
_FAST_URI_GROUPS = (4, 5, 6, 7, 8, 9, 10)  # the SIP URI's, in _sip_uri_from_groups order
_NAME_ADDR_FAST = re.compile(
    f'{_DISPLAY_FAST}<(?P<uri>[^<>"\\s]++)>(?P<params>{_PARAMS_FAST.pattern})'
)
_ADDR_SPEC_FAST = re.compile(f'(?P<uri>[^;,?<>"\\s]++)(?P<params>{_PARAMS_FAST.pattern})')
_NAME_ADDR_SLOW = re.compile(
    f"(?:(?P<quoted>{abnf.quoted_string_bare}){abnf.SWS}"
    f"|(?P<tokens>{abnf.token}(?:{abnf.LWS}{abnf.token})*+){abnf.SWS})?"
    f"<(?P<uri>[^<>]*+)>{abnf.SWS}(?P<params>.*)",
    re.S,
)
# §20.10: an addr-spec with any of these is written in <...>.
_NEEDS_ANGLE = re.compile(r"[;,?]")
_URI_STOP = re.compile(r"[\s,?<>\"]")


def _check_header_params(
    items: list[tuple[str, str | None]], header: str
) -> list[tuple[str, str | None]]:
    """Checks on name-addr header parameters: no repeats, host values, the tag token."""
    if len(items) > 1 and len({name.lower() for name, _ in items}) != len(items):
        # §7.3.1: "any given parameter-name MUST NOT appear more than once."
        raise _error(header, "a parameter appears more than once", "7.3.1")
    # Values are tokens, "[...]" (fast path) or quoted strings; only a token is a tag.
    for name, value in items:
        if value is None:
            if name.lower() == "tag":
                raise _error(header, "tag has no value", "19.3")
        elif value[0] == "[" or value[0] == '"':
            if value[0] == "[" and _IPV6_REF.fullmatch(value) is None:
                raise _error(header, f"malformed value of parameter {name!r}", "25.1")
            if name.lower() == "tag":
                raise _error(header, "tag is not a token", "19.3")
    return items


class NameAddr:
    """``(name-addr / addr-spec) *(SEMI generic-param)``: an address with header params.

    ``display_name`` holds the name's text (quoted-pairs undone), ``angle`` whether the URI
    was written between "<" and ">" (not compared). ``params`` are the header parameters,
    values as written. Used for From, To, Route, Record-Route, Reply-To, and the
    ``<absoluteURI>`` values of Alert-Info, Call-Info and Error-Info.

    A SIP URI without port, parameters or headers (the usual From and To) is checked
    against the grammar by ``parse`` and built into a SipURI when ``uri`` is first read.
    """

    __slots__ = ("_params", "_params_text", "_uri", "_uri_match", "angle", "display_name")

    HEADER: ClassVar[str] = "From/To"

    def __init__(
        self,
        display_name: str | None,
        uri: SipURI | AbsoluteURI | None,
        params: Parameters | None = None,
        angle: bool = True,
    ):
        self.display_name = display_name
        self._uri = uri
        # The match of a SIP URI checked by parse (_NAME_ADDR_SIP_FAST), until ``uri`` is
        # read: the SipURI is built from its groups then.
        self._uri_match: re.Match[str] | None = None
        # None until there is a parameter or ``params`` is read.
        self._params = params
        # One checked "name=value" header parameter as written (";tag=x", the usual From
        # and To), kept by parse until ``params`` is read: see ``tag``.
        self._params_text: str | None = None
        # How the value was written, not what it means: "the display name and presence
        # or absence of angle brackets do not affect matching" (§20.20), so not compared.
        self.angle = angle

    @property
    def uri(self) -> SipURI | AbsoluteURI:
        uri = self._uri
        if uri is None and self._uri_match is not None:
            uri = self._uri = _sip_uri_from_groups(self._uri_match.group(*_FAST_URI_GROUPS))
            self._uri_match = None
        return uri  # type: ignore[return-value]

    @uri.setter
    def uri(self, value: SipURI | AbsoluteURI) -> None:
        self._uri = value
        self._uri_match = None

    @property
    def params(self) -> Parameters:
        params = self._params
        if params is None:
            text = self._params_text
            params = self._params = Parameters(_split_params(text) if text else ())
            self._params_text = None
        return params

    @params.setter
    def params(self, value: Parameters) -> None:
        self._params = value
        self._params_text = None

    def _key(self) -> tuple[Any, ...]:
        return (self.display_name, self.uri, self.params)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._key() == other._key()  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(display_name={self.display_name!r}, uri={self.uri!r},"
            f" params={self.params!r}, angle={self.angle!r})"
        )

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-20.10
    ##% When the header field value contains a display name, the URI
    ##% including all URI parameters is enclosed in "<" and ">".  If no "<"
    ##% and ">" are present, all parameters after the URI are header
    ##% parameters, not URI parameters.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-20
    ##% If the URI is not enclosed in angle
    ##% brackets, any semicolon-delimited parameters are header-parameters,
    ##% not URI parameters.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-20.10
    ##% There may or may not be LWS between the display-name and the
    ##% "<".
    @classmethod
    def parse(cls, text: str, header: str | None = None) -> Any:
        """Parse a name-addr or addr-spec followed by header parameters."""
        header = header or cls.HEADER
        m = _NAME_ADDR_SIP_FAST.fullmatch(text)
        if m is not None:
            # Fast path: "Name" <sip:...>;params with the SIP URI already checked.  The
            # groups, by position: quoted, tokens, uri, then the URI's scheme, user,
            # password, host, port, uri_params, uri_headers, then the header params.
            quoted, tokens, port, uri_params, uri_headers, params_text = m.group(*_FAST_GROUPS)
            value = cls(quoted if quoted is not None else tokens, None)
            if port is None and not uri_params and uri_headers is None:
                value._uri_match = m  # no port, params or headers: the URI is built when read
            else:
                value._uri = _sip_uri_from_groups(m.group(*_FAST_URI_GROUPS), header)
        else:
            m = _NAME_ADDR_FAST.fullmatch(text)
            if m is not None:
                quoted, display, uri_text, params_text = m.groups()
                if quoted is not None:
                    display = quoted
                angle = True
            else:
                m = _ADDR_SPEC_FAST.fullmatch(text)
                if m is None or ":" not in m[1]:
                    return cls._parse_slow(text.strip(_WS), header)
                uri_text, params_text = m.groups()
                display, angle = None, False
            value = cls(display, parse_uri(uri_text, header), None, angle)
        if params_text:
            if "=" in params_text and "[" not in params_text and ";" not in params_text[1:]:
                # Fast path: one name=value parameter, name and value tokens (the grammar
                # matched above), so nothing repeats and a tag is a token: kept as text
                # until read.  The general path is _check_header_params.
                value._params_text = params_text
            else:
                items = _check_header_params(_split_params(params_text), header)
                value._params = Parameters(items)
        if cls is not NameAddr:
            value._check(header)
        return value

    @classmethod
    def _parse_slow(cls, text: str, header: str) -> Any:
        m = _NAME_ADDR_SLOW.fullmatch(text)
        if m is not None:
            uri_text = m["uri"]
            if uri_text != uri_text.strip(_WS):
                # LAQUOT = SWS "<" and RAQUOT = ">" SWS: no LWS inside the brackets
                # (RFC 4475 §3.1.2.14, "badaspec").
                raise _error(header, "whitespace inside <...>", "25.1")
            if m["quoted"] is not None:
                display = unquote(m["quoted"])
            elif m["tokens"] is not None:
                display = " ".join(_LWS_RUN.split(m["tokens"]))
            else:
                display = None
            params = m["params"]
            return cls._finish(display, parse_uri(uri_text, header), params, True, header)
        if text.startswith('"'):
            if _QUOTED.match(text) is None:
                raise _error(header, "unterminated quoted string in display name", "25.1")
            raise _error(header, "malformed name-addr after the display name", "25.1")
        semi = text.find(";")
        # SEMI = SWS ";" SWS: whitespace may come between the addr-spec and ";".
        head = text if semi < 0 else text[:semi].rstrip(_WS)
        if "<" in head:
            ##= https://www.rfc-editor.org/rfc/rfc3261#section-20.10
            ##% The display name can be tokens, or a
            ##% quoted string, if a larger character set is desired.
            raise _error(header, "display name is neither tokens nor a quoted string", "20.10")
        stop = _URI_STOP.search(head)
        if stop is not None:
            ##= https://www.rfc-editor.org/rfc/rfc3261#section-20.10
            ##% Even if the "display-name" is empty, the "name-addr" form MUST be
            ##% used if the "addr-spec" contains a comma, semicolon, or question
            ##% mark.
            if stop.group() in ",?":
                raise _error(
                    header, f"URI containing {stop.group()!r} must be enclosed in <>", "20.10"
                )
            raise _error(header, "malformed addr-spec", "25.1")
        uri = parse_uri(head, header)
        return cls._finish(None, uri, "" if semi < 0 else text[semi:], False, header)

    @classmethod
    def _finish(cls, display: str | None, uri: Any, params: str | None, angle: bool, header: str):
        items = _parse_params(params, header, "20.10") if params else []
        value = cls(display, uri, Parameters(_check_header_params(items, header)), angle)
        value._check(header)
        return value

    def _check(self, header: str) -> None:
        """Checks a subtype adds (Contact's q and expires)."""

    @property
    def tag(self) -> str | None:
        params = self._params
        if params is None:
            text = self._params_text
            if text is None:
                return None
            # The one name=value parameter that parse kept as text (see above).
            name, _, value = text[1:].partition("=")
            return value if name.lower() == "tag" else None
        return params.get("tag")

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-20
    ##% If the URI contains a comma, question mark or semicolon, the URI MUST
    ##% be enclosed in angle brackets (< and >).
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-20.20
    ##% Even if the "display-name" is empty, the "name-addr" form MUST be
    ##% used if the "addr-spec" contains a comma, question mark, or
    ##% semicolon.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-20.31
    ##% Even if the "display-name" is empty, the "name-addr" form MUST be
    ##% used if the "addr-spec" contains a comma, question mark, or
    ##% semicolon.
    def __str__(self) -> str:
        if not self.angle and self.display_name is None:
            uri = str(self.uri)
            if not _NEEDS_ANGLE.search(uri):
                return f"{uri}{self.params}"
            return f"<{uri}>{self.params}"
        if self.display_name is None:
            return f"<{self.uri}>{self.params}"
        # A quoted-string can hold any display name; tokens cannot (§25.1 display-name).
        return f"{quote(self.display_name)} <{self.uri}>{self.params}"


def _delta_seconds(text: str, header: str, section: str) -> int:
    """``delta-seconds = 1*DIGIT``, values above 2**32-1 read as 2**32-1."""
    if not _DIGITS.fullmatch(text):
        raise _error(header, f"{text[:20]!r} is not a number of seconds", section)
    digits = text.lstrip("0") or "0"
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-10.2
    ##% Implementations MAY treat values larger than 2**32-1
    ##% (4294967295 seconds or 136 years) as equivalent to 2**32-1.
    if len(digits) > 10:
        return MAX_DELTA_SECONDS
    return min(int(digits), MAX_DELTA_SECONDS)


_QVALUE = re.compile(abnf.qvalue)


class Contact(NameAddr):
    """A Contact value: a NameAddr with ``q`` and ``expires``, or the "*" (``is_star``,
    with ``uri`` None)."""

    __slots__ = ("is_star",)

    HEADER: ClassVar[str] = "Contact"

    def __init__(
        self,
        display_name: str | None,
        uri: SipURI | AbsoluteURI | None,
        params: Parameters | None = None,
        angle: bool = True,
        is_star: bool = False,
    ):
        NameAddr.__init__(self, display_name, uri, params, angle)
        self.is_star = is_star

    def _key(self) -> tuple[Any, ...]:
        return (self.display_name, self.uri, self.params, self.is_star)

    def __repr__(self) -> str:
        return f"{NameAddr.__repr__(self)[:-1]}, is_star={self.is_star!r})"

    # Contact.parse is NameAddr.parse: "*" matches none of its fast patterns, so it
    # reaches _parse_slow (text stripped of LWS), which reads it here.
    @classmethod
    def _parse_slow(cls, text: str, header: str) -> Any:
        if text == "*":
            return cls(None, None, Parameters(), False, True)
        return super()._parse_slow(text, header)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-20.10
    ##% This document defines the Contact parameters "q" and "expires".
    def _check(self, header: str) -> None:
        if not self._params and self._params_text is None:
            return
        q = self.params.get("q", "")
        if q is None or (q and not _QVALUE.fullmatch(q)):
            raise _error(header, "q is not a qvalue", "20.10")
        if "expires" in self.params:
            value = self.params.get("expires")
            _delta_seconds(value or "", header, "20.10")

    @property
    def q(self) -> float | None:
        value = self.params.get("q")
        return None if value is None else float(value)

    @property
    def expires(self) -> int | None:
        """The expires parameter in seconds (at most 2**32-1), or None."""
        value = self.params.get("expires")
        return None if value is None else _delta_seconds(value, "Contact", "20.10")

    def __str__(self) -> str:
        return "*" if self.is_star else NameAddr.__str__(self)


# ---------------------------------------------------------------------------
# CSeq, Call-ID, Max-Forwards, Content-Length, Expires, Min-Expires
# ---------------------------------------------------------------------------

# The methods of RFC 3261 and its usual extensions: all tokens, so a set lookup stands in
# for the token rule on the common path.
_COMMON_METHODS = frozenset(
    (
        "INVITE", "ACK", "OPTIONS", "BYE", "CANCEL", "REGISTER", "PRACK", "SUBSCRIBE",
        "NOTIFY", "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE",
    )
)  # fmt: skip
_CSEQ_SLOW = re.compile(f"([0-9]++){abnf.LWS}({abnf.token})")


@dataclass(slots=True)
class CSeq:
    """``CSeq: 1*DIGIT LWS Method`` (§20.16)."""

    number: int
    method: str

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.5
    ##% The sequence number value MUST be expressible as a 32-bit unsigned
    ##% integer and MUST be less than 2**31.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-20.16
    ##% The method part of CSeq is
    ##% case-sensitive.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-20.16
    ##% The sequence number MUST be expressible as a 32-bit unsigned integer.
    @classmethod
    def parse(cls, text: str) -> CSeq:
        number, _, method = text.partition(" ")
        if not (number.isascii() and number.isdigit() and 0 < len(number) <= 10) or (
            method not in _COMMON_METHODS and _TOKEN.fullmatch(method) is None
        ):
            # Not the usual "4711 INVITE": LWS, leading zeros or long numbers, or an error.
            m = _CSEQ_SLOW.fullmatch(text.strip(_WS))
            if m is None:
                raise _error("CSeq", "expected a sequence number and a method", "20.16")
            number, method = m[1].lstrip("0") or "0", m[2]
        value = int(number) if len(number) <= 10 else 2**31
        if value >= 2**31:
            raise _error("CSeq", "sequence number is not less than 2**31", "8.1.1.5")
        return cls(value, method)

    def __str__(self) -> str:
        return f"{self.number} {self.method}"


_CALLID = re.compile(abnf.callid)


##= https://www.rfc-editor.org/rfc/rfc3261#section-20.8
##% Call-IDs are case-sensitive and
##% are simply compared byte-by-byte.
def parse_call_id(text: str) -> str:
    """Validate ``callid = word [ "@" word ]`` and return it unchanged (§20.8)."""
    if _CALLID.fullmatch(text) is None:
        text = text.strip(_WS)
        if _CALLID.fullmatch(text) is None:
            raise _error("Call-ID", 'not word [ "@" word ]', "20.8")
    return text


def _digits(text: str, header: str, section: str) -> str:
    # 1*DIGIT: str.isdigit() alone would also take non-ASCII digits such as "²".
    if not (text.isascii() and text.isdigit()):
        text = text.strip(_WS)
        if not (text.isascii() and text.isdigit()):
            raise _error(header, f"{text[:20]!r} is not a decimal number", section)
    return text.lstrip("0") or "0"


##= https://www.rfc-editor.org/rfc/rfc3261#section-20.22
##% The Max-Forwards value is an integer in the range 0-255 indicating
##% the remaining number of times this request message is allowed to be
##% forwarded.
def parse_max_forwards(text: str) -> int:
    """``Max-Forwards: 1*DIGIT`` in the range 0-255 (§20.22)."""
    if 0 < len(text) <= 2 and text.isascii() and text.isdigit():
        return int(text)  # fast path: one or two digits ("70"); the general path follows
    digits = _digits(text, "Max-Forwards", "20.22")
    if len(digits) > 3 or int(digits) > 255:
        raise _error("Max-Forwards", "value is not in the range 0-255", "20.22")
    return int(digits)


##= https://www.rfc-editor.org/rfc/rfc3261#section-20.14
##% Any Content-Length greater than or equal to
##% zero is a valid value.
def parse_content_length(text: str) -> int:
    """``Content-Length: 1*DIGIT`` (§20.14); a sign or anything else is an error."""
    if 0 < len(text) <= 9 and text.isascii() and text.isdigit():
        return int(text)  # fast path: at most 9 digits, below 2**32-1; the general path follows
    digits = _digits(text, "Content-Length", "20.14")
    # No message is 4 GB long; refusing longer numbers keeps int() off huge digit runs.
    if len(digits) > 10 or int(digits) > MAX_DELTA_SECONDS:
        raise _error("Content-Length", "value is larger than 2**32-1", "20.14")
    return int(digits)


##= https://www.rfc-editor.org/rfc/rfc3261#section-20.19
##% The value of this field is an integral number of seconds (in decimal)
##% between 0 and (2**32)-1, measured from the receipt of the request.
def parse_expires(text: str) -> int:
    """``Expires: delta-seconds`` (§20.19); larger values read as 2**32-1 (§10.2)."""
    return _delta_seconds(text.strip(_WS), "Expires", "20.19")


##= https://www.rfc-editor.org/rfc/rfc3261#section-20.23
##% The
##% header field contains a decimal integer number of seconds from 0 to
##% (2**32)-1.
def parse_min_expires(text: str) -> int:
    """``Min-Expires: delta-seconds`` (§20.23); larger values read as 2**32-1."""
    return _delta_seconds(text.strip(_WS), "Min-Expires", "20.23")


# ---------------------------------------------------------------------------
# Token lists: Require, Supported, Unsupported, Proxy-Require (option-tag), Allow (Method)
# ---------------------------------------------------------------------------


def _token_parser(header: str, what: str, section: str):
    def parse(text: str) -> str:
        if _TOKEN.fullmatch(text) is None:
            text = text.strip(_WS)
            if _TOKEN.fullmatch(text) is None:
                raise _error(header, f"{text[:20]!r} is not {what}", section)
        return text

    parse.__name__ = f"parse_{what.replace(' ', '_').replace('-', '_')}"
    parse.__doc__ = f"Validate one {what} ({header}, §{section}) and return it."
    return parse


##= https://www.rfc-editor.org/rfc/rfc3261#section-20.32
##% The Require header field contains a list of option tags, described in
##% Section 19.2.
parse_option_tag = _token_parser("Require", "an option-tag", "20.32")
parse_method = _token_parser("Allow", "a Method", "20.5")


def parse_allow(text: str) -> list[str]:
    """An Allow field value: methods separated by commas (may be empty, §20.5)."""
    return [parse_method(v) for v in split_header_values(text)]


# ---------------------------------------------------------------------------
# Content-Type and Accept (§20.15, §20.1)
# ---------------------------------------------------------------------------

_MEDIA_FAST = re.compile(
    f"(?P<type>[{_TOKEN_CHARS}]++)/(?P<subtype>[{_TOKEN_CHARS}]++)"
    f"(?P<params>(?:;[{_TOKEN_CHARS}]++=[{_TOKEN_CHARS}]++)*+)"
)
_MEDIA_SLOW = re.compile(
    f"(?P<type>{abnf.token}){abnf.SLASH}(?P<subtype>{abnf.token})(?P<params>.*)", re.S
)


@dataclass(slots=True, eq=False)
class ContentType:
    """``media-type = m-type SLASH m-subtype *(SEMI m-parameter)`` (§20.15)."""

    type: str
    subtype: str
    params: Parameters = field(default_factory=Parameters)

    HEADER: ClassVar[str] = "Content-Type"
    SECTION: ClassVar[str] = "20.15"

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-20.15
    ##% The Content-Type header field indicates the media type of the
    ##% message-body sent to the recipient.
    @classmethod
    def parse(cls, text: str) -> Any:
        m = _MEDIA_FAST.fullmatch(text)
        if m is None:
            m = _MEDIA_SLOW.fullmatch(text.strip(_WS))
            if m is None:
                raise _error(cls.HEADER, "expected type/subtype", cls.SECTION)
        items = _parse_params(m["params"], cls.HEADER, cls.SECTION)
        cls._check_params(items)
        return cls(m["type"], m["subtype"], Parameters(items))

    @classmethod
    def _check_params(cls, items: list[tuple[str, str | None]]) -> None:
        for name, value in items:
            # m-parameter = m-attribute EQUAL m-value; m-value = token / quoted-string
            if value is None or (value[0] != '"' and _TOKEN.fullmatch(value) is None):
                raise _error(cls.HEADER, f"parameter {name!r} needs a value", cls.SECTION)

    @property
    def mime_type(self) -> str:
        """``type/subtype`` in lower case."""
        return f"{self.type}/{self.subtype}".lower()

    def __eq__(self, other: object) -> bool:
        # §7.3.1: tokens are case-insensitive; quoted parameter values are not.
        if not isinstance(other, ContentType):
            return NotImplemented
        return (
            self.type.lower() == other.type.lower()
            and self.subtype.lower() == other.subtype.lower()
            and self.params == other.params
        )

    def __hash__(self) -> int:
        return hash(self.mime_type)

    def __str__(self) -> str:
        return f"{self.type}/{self.subtype}{self.params}"


@dataclass(slots=True, eq=False)
class MediaRange(ContentType):
    """One Accept value: a media-range (``*/*``, ``type/*``) with accept-params (§20.1)."""

    HEADER: ClassVar[str] = "Accept"
    SECTION: ClassVar[str] = "20.1"

    @classmethod
    def parse(cls, text: str) -> MediaRange:
        value = super(MediaRange, cls).parse(text)
        if value.type == "*" and value.subtype != "*":
            raise _error("Accept", "*/subtype is not a media-range", "20.1")
        return value

    @classmethod
    def _check_params(cls, items: list[tuple[str, str | None]]) -> None:
        for name, value in items:
            if name.lower() == "q" and (value is None or not _QVALUE.fullmatch(value)):
                raise _error("Accept", "q is not a qvalue", "20.1")

    @property
    def q(self) -> float:
        value = self.params.get("q")
        return 1.0 if value is None else float(value)


# ---------------------------------------------------------------------------
# Retry-After (§20.33), comments (§25.1)
# ---------------------------------------------------------------------------

MAX_COMMENT_DEPTH = 32
_COMMENT_SPECIAL = re.compile(r"[()\\]")
_CTEXT_RUN = re.compile(f"(?:[ \\t\\x21-\\x27\\x2a-\\x5b\\x5d-\\x7e{_NONASCII}]|\\r\\n[ \\t])*+")


def scan_comment(text: str, start: int, header: str) -> int:
    """Index just past the comment that opens at ``text[start] == "("``.

    Comments nest (``comment = LPAREN *(ctext / quoted-pair / comment) RPAREN``), which
    a regular expression cannot count; this walks from one special character to the next
    with a depth counter, at most :data:`MAX_COMMENT_DEPTH` deep.
    """
    depth = 0
    pos, end = start, len(text)
    while pos < end:
        run = _CTEXT_RUN.match(text, pos)
        assert run is not None  # the pattern matches the empty string
        pos = run.end()
        if pos >= end:
            break
        char = text[pos]
        if char == "(":
            depth += 1
            if depth > MAX_COMMENT_DEPTH:
                raise _error(header, "comment nested too deeply", "25.1")
        elif char == ")":
            depth -= 1
            if depth == 0:
                return pos + 1
        elif (
            char == "\\"
            and pos + 1 < end
            and text[pos + 1] not in "\r\n"
            and text[pos + 1] < "\x80"
        ):
            pos += 1
        else:
            raise _error(header, f"character {char!r} not allowed in a comment", "25.1")
        pos += 1
    raise _error(header, "unterminated comment", "25.1")


_RETRY_FAST = re.compile(f"([0-9]++)((?:;[{_TOKEN_CHARS}]++(?:=[{_TOKEN_CHARS}]++)?)*+)")
_RETRY_HEAD = re.compile(f"([0-9]++){abnf.SWS}")


@dataclass(slots=True)
class RetryAfter:
    """``delta-seconds [ comment ] *( SEMI retry-param )`` (§20.33).

    ``comment`` is the comment's text between the outer parentheses, as written.
    """

    seconds: int
    comment: str | None = None
    params: Parameters = field(default_factory=Parameters)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-20.33
    ##% The value of this field is a positive integer
    ##% number of seconds (in decimal) after the time of the response.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-20.33
    ##% An optional comment can be used to indicate additional information
    ##% about the time of callback.
    @classmethod
    def parse(cls, text: str) -> RetryAfter:
        m = _RETRY_FAST.fullmatch(text)
        if m is not None:
            seconds = _delta_seconds(m[1], "Retry-After", "20.33")
            items = _split_params(m[2]) if m[2] else []
            return cls._build(seconds, None, items)
        text = text.strip(_WS)
        m = _RETRY_HEAD.match(text)
        if m is None:
            raise _error("Retry-After", "expected delta-seconds", "20.33")
        seconds = _delta_seconds(m[1], "Retry-After", "20.33")
        pos, comment = m.end(), None
        if text.startswith("(", pos):
            close = scan_comment(text, pos, "Retry-After")
            comment = text[pos + 1 : close - 1]
            pos = close
        rest = text[pos:]
        if rest and not rest.lstrip(" \t\r\n").startswith(";"):
            raise _error("Retry-After", "unexpected text after delta-seconds", "20.33")
        return cls._build(seconds, comment, _parse_params(rest, "Retry-After", "20.33"))

    @classmethod
    def _build(cls, seconds: int, comment: str | None, items: list) -> RetryAfter:
        for name, value in items:
            if name.lower() == "duration":
                _delta_seconds(value or "", "Retry-After", "20.33")
        if len(items) > 1 and len({n.lower() for n, _ in items}) != len(items):
            raise _error("Retry-After", "a parameter appears more than once", "7.3.1")
        return cls(seconds, comment, Parameters(items))

    @property
    def duration(self) -> int | None:
        value = self.params.get("duration")
        return None if value is None else _delta_seconds(value, "Retry-After", "20.33")

    def __str__(self) -> str:
        comment = "" if self.comment is None else f" ({self.comment})"
        return f"{self.seconds}{comment}{self.params}"


# ---------------------------------------------------------------------------
# Timestamp (§20.38), Date (§20.17), Warning (§20.43)
# ---------------------------------------------------------------------------

_TIMESTAMP = re.compile(f"([0-9]++(?:\\.[0-9]*+)?)(?:{abnf.LWS}([0-9]*+(?:\\.[0-9]*+)?))?")


@dataclass(slots=True)
class Timestamp:
    """``1*(DIGIT) [ "." *(DIGIT) ] [ LWS delay ]`` (§20.38), as exact decimals."""

    value: Decimal
    delay: Decimal | None = None

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-20.38
    ##% The Timestamp header field describes when the UAC sent the request to
    ##% the UAS.
    @classmethod
    def parse(cls, text: str) -> Timestamp:
        m = _TIMESTAMP.fullmatch(text.strip(_WS))
        if m is None:
            raise _error("Timestamp", "expected a decimal number and an optional delay", "20.38")
        delay = m[2]
        if delay == ".":
            raise _error("Timestamp", "delay has no digits", "20.38")
        return cls(Decimal(m[1]), Decimal(delay) if delay else None)

    def __str__(self) -> str:
        value = f"{self.value:f}"
        return value if self.delay is None else f"{value} {self.delay:f}"


_WKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DATE = re.compile(
    f"{abnf.wkday}, ([0-9]{{2}}) ({abnf.month}) ([0-9]{{4}}) "
    "([0-9]{2}):([0-9]{2}):([0-9]{2}) GMT"
)


@dataclass(slots=True)
class SipDate:
    """``SIP-date = rfc1123-date``, GMT only (§20.17), as an aware UTC datetime."""

    value: datetime

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-20.17
    ##% As
    ##% in [H3.3], SIP restricts the time zone in SIP-date to "GMT", while
    ##% RFC 1123 allows any time zone.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-20.17
    ##% An RFC 1123 date is case-sensitive.
    @classmethod
    def parse(cls, text: str) -> SipDate:
        m = _DATE.fullmatch(text.strip(_WS))
        if m is None:
            raise _error("Date", "not an RFC 1123 date in GMT", "20.17")
        day, month, year, hour, minute, second = m.groups()
        try:
            value = datetime(
                int(year), _MONTHS.index(month) + 1, int(day),
                int(hour), int(minute), int(second), tzinfo=UTC,
            )  # fmt: skip
        except ValueError as exc:
            raise _error("Date", f"no such date or time ({exc})", "20.17") from None
        return cls(value)

    def __str__(self) -> str:
        v = self.value.astimezone(UTC)
        return (
            f"{_WKDAYS[v.weekday()]}, {v.day:02d} {_MONTHS[v.month - 1]} {v.year:04d} "
            f"{v.hour:02d}:{v.minute:02d}:{v.second:02d} GMT"
        )


_WARNING = re.compile(
    f"([0-9]{{3}}){abnf.LWS}((?:{abnf.hostport}|{abnf.token})(?![^ \\t\\r\\n])){abnf.LWS}"
    f"({abnf.quoted_string_bare})"
)


@dataclass(slots=True, eq=False)
class Warning:
    """``warning-value = warn-code SP warn-agent SP warn-text`` (§20.43)."""

    code: int
    agent: str
    text: str

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-20.43
    ##% Warning header field values are sent
    ##% with responses and contain a three-digit warning code, host name, and
    ##% warning text.
    @classmethod
    def parse(cls, text: str) -> Warning:
        m = _WARNING.fullmatch(text.strip(_WS))
        if m is None:
            raise _error("Warning", "expected warn-code SP warn-agent SP warn-text", "20.43")
        return cls(int(m[1]), m[2], unquote(m[3]) or "")

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.1
    ##% Unless specified otherwise, values expressed as quoted strings are
    ##% case-sensitive.
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Warning):
            return NotImplemented
        return (self.code, self.agent.lower(), self.text) == (
            other.code,
            other.agent.lower(),
            other.text,
        )

    def __hash__(self) -> int:
        return hash((self.code, self.agent.lower(), self.text))

    def __str__(self) -> str:
        return f"{self.code:03d} {self.agent} {quote(self.text)}"


# ---------------------------------------------------------------------------
# Splitting comma-separated lists (§7.3, §7.3.1)
# ---------------------------------------------------------------------------

# One list element: runs of ordinary characters, quoted strings (with quoted-pairs) and
# <...> URIs; an unterminated quote or "<" runs to the end (the value's parser reports it).
# Every alternative is possessive, so a failed element cannot backtrack.
_ELEMENT = re.compile(r'((?:[^",<]++|"(?:[^"\\]++|\\[\s\S])*+"?|<[^>]*+>?)*+)(?:,|$)')
_LIST_SPECIAL = re.compile(r'[",<>()\\]')


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.1
##% Multiple header field rows with the same field-name MAY be present in
##% a message if and only if the entire field-value for that header field
##% is defined as a comma-separated list (that is, if follows the grammar
##% defined in Section 7.3).
def split_header_values(text: str, comments: bool = True) -> list[str]:
    """Split a field value at top-level commas (not inside quotes, <...> or comments).

    Each element is stripped of surrounding whitespace. An empty or all-whitespace
    value gives ``[]``; empty elements between commas are kept (as "") so that the
    element's parser can reject them. Runs in linear time and does not recurse.
    """
    if not text.strip(_WS):
        return []
    if '"' not in text and "<" not in text and (not comments or "(" not in text):
        return [part.strip(_WS) for part in text.split(",")]
    if not comments or "(" not in text:
        parts = _ELEMENT.findall(text)
        # findall also yields an empty match at the very end, after an element that ran
        # to the end of the text; only a value ending in a separator ends with a real one.
        if not text.endswith(","):
            parts.pop()
        return [part.strip(_WS) for part in parts]
    return _split_with_comments(text)


def _split_with_comments(text: str) -> list[str]:
    parts: list[str] = []
    start = 0
    depth = 0
    in_quote = in_angle = False
    escape_at = -1
    for m in _LIST_SPECIAL.finditer(text):
        pos = m.start()
        if pos == escape_at:
            continue
        char = m.group()
        if char == "\\":
            if in_quote or depth:
                escape_at = pos + 1
        elif in_quote:
            in_quote = char != '"'
        elif depth:
            depth += 1 if char == "(" else -1 if char == ")" else 0
        elif in_angle:
            in_angle = char != ">"
        elif char == '"':
            in_quote = True
        elif char == "<":
            in_angle = True
        elif char == "(":
            depth = 1
        elif char == ",":
            parts.append(text[start:pos].strip(_WS))
            start = pos + 1
    parts.append(text[start:].strip(_WS))
    return parts


# ---------------------------------------------------------------------------
# Registry (§7.3.3 compact forms, §20)
# ---------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class HeaderType:
    """How to parse one header field: ``parse`` reads one value; ``multi`` marks lists.

    ``rfc`` and ``section`` say where the header field is defined (RFC 3261 §20.x for
    the core's own, RFC 3326 §2 for Reason): :attr:`reference` and :attr:`url` cite it.
    """

    name: str
    parse: Any
    multi: bool = False
    section: str = ""
    compact: str | None = None
    empty_ok: bool = False
    comments: bool = True
    rfc: int = 3261

    @property
    def reference(self) -> str:
        """The defining section as text: ``"RFC 3261 §20.42"``."""
        return f"RFC {self.rfc} §{self.section}" if self.section else f"RFC {self.rfc}"

    @property
    def url(self) -> str:
        """The defining section on rfc-editor.org (the form annotations cite)."""
        base = f"https://www.rfc-editor.org/rfc/rfc{self.rfc}"
        return f"{base}#section-{self.section}" if self.section else base

    @property
    def cited(self) -> str:
        """The section as ParseError takes it: a bare number is RFC 3261's."""
        if self.rfc == 3261 and (not self.section or self.section[0].isdigit()):
            return self.section
        return self.reference

    def split(self, text: str) -> list[str]:
        """The values of one field row (the whole value unless ``multi``)."""
        if self.multi:
            return split_header_values(text, self.comments)
        return [text]

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.1
    ##% Implementations MUST be able to process multiple header field rows
    ##% with the same name in any combination of the single-value-per-line or
    ##% comma-separated value forms.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-20.12
    ##% If multiple encodings have been applied to an entity-body, the
    ##% content codings MUST be listed in the order in which they were
    ##% applied.
    def parse_all(self, rows: list[str]) -> list[Any]:
        """Parse every value of every row of this header, in order.

        Raises ParseError for an empty list element, an empty value where the grammar
        needs one, and (for Contact) a "*" that is not the only value.
        """
        values: list[Any] = []
        for row in rows:
            parts = self.split(row)
            if not parts and not self.empty_ok:
                raise _error(self.name, "empty value", self.cited)
            for part in parts:
                if not part:
                    raise _error(self.name, "empty element in a comma-separated list", "7.3")
                values.append(self.parse(part))
        if self.name == "Contact" and len(values) > 1 and any(v.is_star for v in values):
            ##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3
            ##% The Contact header field allows a comma-
            ##% separated list unless the header field value is "*".
            raise _error("Contact", '"*" must be the only Contact value', "7.3")
        return values


def _bound(cls: Any, header: str) -> Any:
    def parse(text: str) -> Any:
        return cls.parse(text, header)

    parse.__name__ = f"parse_{header.lower().replace('-', '_')}"
    return parse


def _name_addr_only(header: str, section: str) -> Any:
    def parse(text: str) -> NameAddr:
        value = NameAddr.parse(text, header)
        if not value.angle:
            raise _error(header, "value must be a name-addr (URI in <>)", section)
        return value

    return parse


def _info_uri(header: str, section: str) -> Any:
    def parse(text: str) -> NameAddr:
        value = NameAddr.parse(text, header)
        if not value.angle or value.display_name is not None:
            raise _error(header, "value must be LAQUOT absoluteURI RAQUOT", section)
        return value

    return parse


def _text(header: str, pattern: str) -> Any:
    compiled = re.compile(pattern)

    def parse(text: str) -> str:
        text = text.strip(_WS)
        if compiled.fullmatch(text) is None:
            raise _error(header, "malformed value", _TYPES[header.lower()].cited)
        return text

    return parse


def _option_tags(header: str, section: str) -> Any:
    return _token_parser(header, "an option-tag", section)


# The registry: one definition per header field name. register_header is the only writer
# of these four tables; everything else reads them (HEADER_TYPES, COMPACT_FORMS and
# CANONICAL_NAMES are read-only views of the first three).
_TYPES: dict[str, HeaderType] = {}  # lower-case long name -> definition
_COMPACT: dict[str, str] = {}  # compact form (lower case) -> lower-case long name
_CANONICAL: dict[str, str] = {}  # lower-case long name -> usual spelling ("Call-ID")
# The spellings the message layer meets most (usual, lower and upper case, compact forms
# in either case) -> lower-case long name: one dict lookup per header line on the parse
# path (rfc3261.message), any other spelling is checked and lower-cased there.
_SPELLINGS: dict[str, str] = {}
# A section number as RFCs write them: "20.42", "7.3.1", "A.1".
_SECTION = re.compile(r"(?:[0-9]+|[A-Z])(?:\.[0-9]+)*")


def register_header(
    name: str,
    parse: Callable[[str], Any],
    *,
    rfc: int,
    section: str,
    compact: str | None = None,
    multi: bool = False,
    empty_ok: bool = False,
    comments: bool = True,
) -> HeaderType:
    """Teach the message layer one header field; return its definition.

    ``name`` is the field name in its usual spelling (a token); ``parse`` reads one
    value (one list element if ``multi``) and raises ParseError; ``rfc`` and
    ``section`` name the defining section; ``compact`` is the one-letter compact form
    (§7.3.3); ``multi`` marks a comma-separated list (§7.3.1); ``empty_ok`` allows an
    empty value; ``comments=False`` splits a list at commas inside parentheses too.
    Registering the same definition again returns it; a different definition under a
    registered name, or a compact form another header holds, raises ValueError.
    """
    if not isinstance(name, str) or _TOKEN.fullmatch(name) is None:
        raise ValueError(f"header field name {name!r} is not a token (RFC 3261 §7.3.1)")
    if not callable(parse):
        raise TypeError(f"{name}: parse must be callable, not {type(parse).__name__}")
    if type(rfc) is not int or rfc < 1:
        raise ValueError(f"{name}: rfc must be an RFC number, not {rfc!r}")
    if not isinstance(section, str) or _SECTION.fullmatch(section) is None:
        raise ValueError(f"{name}: section must be a section number like '20.42', not {section!r}")
    if compact is not None and (
        not isinstance(compact, str)
        or len(compact) != 1
        or not compact.isascii()
        or not compact.isalpha()
    ):
        raise ValueError(
            f"{name}: a compact form is a single letter (RFC 3261 §7.3.3), not {compact!r}"
        )
    for flag, value in (("multi", multi), ("empty_ok", empty_ok), ("comments", comments)):
        if not isinstance(value, bool):
            raise TypeError(f"{name}: {flag} must be a bool, not {value!r}")
    key = name.lower()
    letter = compact.lower() if compact is not None else None
    entry = HeaderType(name, parse, multi, section, letter, empty_ok, comments, rfc)
    existing = _TYPES.get(key)
    if existing is not None:
        if existing == entry:
            return existing  # an extension installed twice in one process
        differ = ", ".join(
            f.name for f in fields(entry) if getattr(existing, f.name) != getattr(entry, f.name)
        )
        raise ValueError(
            f"{name}: already registered as {existing.name} ({existing.reference}) with a "
            f"different definition (differs in {differ})"
        )
    if key in _COMPACT:
        raise ValueError(f"{name}: already the compact form of {_CANONICAL[_COMPACT[key]]}")
    if letter is not None:
        if letter in _COMPACT:
            holder = _TYPES[_COMPACT[letter]]
            raise ValueError(
                f"{name}: compact form {letter!r} is already taken by {holder.name} "
                f"({holder.reference})"
            )
        if letter in _TYPES:
            raise ValueError(f"{name}: compact form {letter!r} is the name of a header field")
    _TYPES[key] = entry
    _CANONICAL[key] = name
    for spelling in (name, key, name.upper()):
        _SPELLINGS[spelling] = key
    if letter is not None:
        _COMPACT[letter] = key
        _SPELLINGS[letter] = _SPELLINGS[letter.upper()] = key
    return entry


def unregister_header(name: str) -> None:
    """Forget a header field an extension registered (for tests); RFC 3261's stay."""
    key = name.lower() if isinstance(name, str) else name
    entry = _TYPES.get(key)
    if entry is None:
        raise ValueError(f"{name!r} is not a registered header field name")
    if key in _RFC3261:
        raise ValueError(
            f"{entry.name} is RFC 3261's own ({entry.reference}); it stays registered"
        )
    del _TYPES[key], _CANONICAL[key]
    if entry.compact is not None:
        del _COMPACT[entry.compact]
    for spelling in [s for s, k in _SPELLINGS.items() if k == key]:
        del _SPELLINGS[spelling]


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.1
##% The exceptions
##% to this rule are the WWW-Authenticate, Authorization, Proxy-
##% Authenticate, and Proxy-Authorization header fields.
def _register_rfc3261() -> frozenset[str]:
    """RFC 3261's header fields (§20), registered as any extension's are."""
    from .auth_headers import Challenge, Credentials, parse_authentication_info

    params = f"(?:{abnf.SEMI}{abnf.generic_param})*+"
    L, S = True, False  # comma-separated list (§7.3) or single value
    # (name, parse one value, list?, section, compact form, may the value be empty?)
    table: list[tuple[str, Any, bool, str, str | None, bool]] = [
        ("Accept", MediaRange.parse, L, "20.1", None, True),
        ("Accept-Encoding", _text("Accept-Encoding", f"(?:{abnf.token}|\\*){params}"), L, "20.2",
         None, True),
        ("Accept-Language", _text("Accept-Language", f"{abnf.language_range}{params}"), L,
         "20.3", None, True),
        ("Alert-Info", _info_uri("Alert-Info", "20.4"), L, "20.4", None, False),
        ("Allow", parse_method, L, "20.5", None, True),
        ("Authentication-Info", parse_authentication_info, S, "20.6", None, False),
        ("Authorization", Credentials.parse, S, "20.7", None, False),
        ("Call-ID", parse_call_id, S, "20.8", "i", False),
        ("Call-Info", _info_uri("Call-Info", "20.9"), L, "20.9", None, False),
        ("Contact", Contact.parse, L, "20.10", "m", False),
        ("Content-Disposition", _text("Content-Disposition", f"{abnf.token}{params}"), S,
         "20.11", None, False),
        ("Content-Encoding", _token_parser("Content-Encoding", "a content-coding", "20.12"), L,
         "20.12", "e", False),
        ("Content-Language", _text("Content-Language", abnf.language_tag), L, "20.13", None,
         False),
        ("Content-Length", parse_content_length, S, "20.14", "l", False),
        ("Content-Type", ContentType.parse, S, "20.15", "c", False),
        ("CSeq", CSeq.parse, S, "20.16", None, False),
        ("Date", SipDate.parse, S, "20.17", None, False),
        ("Error-Info", _info_uri("Error-Info", "20.18"), L, "20.18", None, False),
        ("Expires", parse_expires, S, "20.19", None, False),
        ("From", _bound(NameAddr, "From"), S, "20.20", "f", False),
        ("In-Reply-To", parse_call_id, L, "20.21", None, False),
        ("Max-Forwards", parse_max_forwards, S, "20.22", None, False),
        ("Min-Expires", parse_min_expires, S, "20.23", None, False),
        ("MIME-Version", _text("MIME-Version", "[0-9]++\\.[0-9]++"), S, "20.24", None, False),
        ("Organization", _text("Organization", ".*"), S, "20.25", None, True),
        ("Priority", _token_parser("Priority", "a priority-value", "20.26"), S, "20.26", None,
         False),
        ("Proxy-Authenticate", _bound(Challenge, "Proxy-Authenticate"), S, "20.27", None, False),
        ("Proxy-Authorization", _bound(Credentials, "Proxy-Authorization"), S, "20.28", None,
         False),
        ("Proxy-Require", _option_tags("Proxy-Require", "20.29"), L, "20.29", None, False),
        ("Record-Route", _name_addr_only("Record-Route", "20.30"), L, "20.30", None, False),
        ("Reply-To", _bound(NameAddr, "Reply-To"), S, "20.31", None, False),
        ("Require", _option_tags("Require", "20.32"), L, "20.32", None, False),
        ("Retry-After", RetryAfter.parse, S, "20.33", None, False),
        ("Route", _name_addr_only("Route", "20.34"), L, "20.34", None, False),
        ("Server", _text("Server", ".+"), S, "20.35", None, False),
        ("Subject", _text("Subject", ".*"), S, "20.36", "s", True),
        ("Supported", _option_tags("Supported", "20.37"), L, "20.37", "k", True),
        ("Timestamp", Timestamp.parse, S, "20.38", None, False),
        ("To", _bound(NameAddr, "To"), S, "20.39", "t", False),
        ("Unsupported", _option_tags("Unsupported", "20.40"), L, "20.40", None, False),
        ("User-Agent", _text("User-Agent", ".+"), S, "20.41", None, False),
        ("Via", Via.parse, L, "20.42", "v", False),
        ("Warning", Warning.parse, L, "20.43", None, False),
        ("WWW-Authenticate", Challenge.parse, S, "20.44", None, False),
    ]  # fmt: skip
    for name, parse, multi, section, compact, empty_ok in table:
        # Call-IDs may hold "(" and '"' (§25.1 word): split In-Reply-To at every comma.
        comments = name != "In-Reply-To"
        register_header(
            name, parse, rfc=3261, section=section, compact=compact, multi=multi,
            empty_ok=empty_ok, comments=comments,
        )  # fmt: skip
    return frozenset(_TYPES)


_RFC3261 = _register_rfc3261()

HEADER_TYPES: Mapping[str, HeaderType] = MappingProxyType(_TYPES)

##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.3
##% A compact
##% form MAY be substituted for the longer form of a header field name at
##% any time without changing the semantics of the message.
COMPACT_FORMS: Mapping[str, str] = MappingProxyType(_COMPACT)

CANONICAL_NAMES: Mapping[str, str] = MappingProxyType(_CANONICAL)


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.1
##% When comparing header fields, field names are always case-
##% insensitive.
def canonical_name(name: str) -> str:
    """The lower-case long name for a field name as written (compact forms expanded)."""
    key = name.lower()
    return _COMPACT.get(key, key)
