"""Authentication header field values (RFC 3261 §20.6, §20.7, §20.27, §20.28, §20.44, §25.1).

WWW-Authenticate and Proxy-Authenticate carry a :class:`Challenge`; Authorization and
Proxy-Authorization carry :class:`Credentials`. Both are ``auth-scheme LWS auth-param
*(COMMA auth-param)``: the commas separate the parameters of ONE value, which is why these
header fields are not comma-separated lists (§7.3.1). Parameter values are kept as written
(quoted strings keep their quotes, so the value survives a round trip byte for byte);
``get`` returns them with the quoting undone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar

from . import abnf
from .errors import ParseError
from .params import Parameters

__all__ = ["AuthenticationInfo", "Challenge", "Credentials", "parse_authentication_info"]

_SCHEME = re.compile(f"({abnf.token})(?:{abnf.LWS}(.*))?", re.S)
_AUTH_PARAM = re.compile(
    f"(?P<name>{abnf.token}){abnf.EQUAL}(?P<value>{abnf.token}|{abnf.quoted_string_bare})"
    f"{abnf.SWS}(?P<comma>,{abnf.SWS})?"
)
# RFC 7235 §2.1 token68, used by "Basic" and other non-Digest schemes.
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]++=*+")
_QUOTED_PAIR = re.compile(r"\\([\x00-\x09\x0b\x0c\x0e-\x7f])")
_FOLD = re.compile(r"\r\n[ \t]+")
_WS = " \t\r\n"


def _unquote(value: str | None) -> str | None:
    if value is None or len(value) < 2 or value[0] != '"' or value[-1] != '"':
        return value
    inner = _FOLD.sub(" ", value[1:-1]) if "\r" in value else value[1:-1]
    return _QUOTED_PAIR.sub(r"\1", inner) if "\\" in inner else inner


def _parse_auth_params(text: str, header: str, section: str) -> list[tuple[str, str | None]]:
    """``auth-param *(COMMA auth-param)``; raises ParseError naming ``header``."""
    items: list[tuple[str, str | None]] = []
    pos, end = 0, len(text)
    while pos < end:
        m = _AUTH_PARAM.match(text, pos)
        if m is None:
            raise ParseError(f"malformed auth-param at {text[pos : pos + 20]!r}", section, header)
        items.append((m["name"], m["value"]))
        pos = m.end()
        if m["comma"] is None and pos < end:
            raise ParseError("auth-params must be separated by commas", section, header)
        if m["comma"] is not None and pos == end:
            raise ParseError("trailing comma after the last auth-param", section, header)
    if len({name.lower() for name, _ in items}) != len(items):
        raise ParseError("an auth-param appears more than once", section, header)
    return items


@dataclass(slots=True, eq=False)
class _AuthValue:
    scheme: str
    params: Parameters = field(default_factory=Parameters)
    token68: str | None = None

    HEADER: ClassVar[str] = ""
    SECTION: ClassVar[str] = ""

    @classmethod
    def parse(cls, text: str, header: str | None = None):
        header = header or cls.HEADER
        m = _SCHEME.fullmatch(text.strip(_WS))
        if m is None or not m[2]:
            raise ParseError("expected an auth-scheme and its parameters", cls.SECTION, header)
        rest = m[2]
        # RFC 7235 §2.1 lets other schemes (Basic) carry one token68; Digest never does.
        if m[1].lower() != "digest" and "=" not in rest.rstrip("=") and _TOKEN68.fullmatch(rest):
            return cls(m[1], Parameters(), rest)
        return cls(m[1], Parameters(_parse_auth_params(rest, header, cls.SECTION)))

    def get(self, name: str) -> str | None:
        """The value of parameter ``name`` with quoting undone, or None."""
        return _unquote(self.params.get(name))

    @property
    def is_digest(self) -> bool:
        return self.scheme.lower() == "digest"

    @property
    def realm(self) -> str | None:
        return self.get("realm")

    @property
    def nonce(self) -> str | None:
        return self.get("nonce")

    @property
    def opaque(self) -> str | None:
        return self.get("opaque")

    @property
    def algorithm(self) -> str | None:
        return self.get("algorithm")

    def __eq__(self, other: object) -> bool:
        # auth-scheme is a token, hence case-insensitive (§7.3.1).
        if type(other) is not type(self):
            return NotImplemented
        return (self.scheme.lower(), self.params, self.token68) == (
            other.scheme.lower(),
            other.params,
            other.token68,
        )

    def __hash__(self) -> int:
        return hash((self.scheme.lower(), self.params, self.token68))

    def __str__(self) -> str:
        if self.token68 is not None:
            return f"{self.scheme} {self.token68}"
        return f"{self.scheme} " + ", ".join(f"{n}={v}" for n, v in self.params)


class Challenge(_AuthValue):
    """A WWW-Authenticate / Proxy-Authenticate value: ``challenge`` (§20.27, §20.44)."""

    __slots__ = ()
    HEADER: ClassVar[str] = "WWW-Authenticate"
    SECTION: ClassVar[str] = "20.44"

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-20.44
    ##% A WWW-Authenticate header field value contains an authentication
    ##% challenge.
    @classmethod
    def parse(cls, text: str, header: str | None = None) -> Challenge:
        return super().parse(text, header)

    @property
    def stale(self) -> bool:
        """``stale = "stale" EQUAL ( "true" / "false" )``, compared case-insensitively."""
        return (self.get("stale") or "").lower() == "true"

    @property
    def qop_options(self) -> list[str]:
        """The qop-value list of ``qop-options``, e.g. ``["auth", "auth-int"]``."""
        value = self.get("qop")
        return [] if value is None else [v.strip() for v in value.split(",") if v.strip()]

    @property
    def domain(self) -> list[str]:
        """The URIs of the domain parameter (separated by spaces)."""
        value = self.get("domain")
        return [] if value is None else value.split()


class Credentials(_AuthValue):
    """An Authorization / Proxy-Authorization value: ``credentials`` (§20.7, §20.28)."""

    __slots__ = ()
    HEADER: ClassVar[str] = "Authorization"
    SECTION: ClassVar[str] = "20.7"

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-20.7
    ##% The Authorization header field contains authentication credentials of
    ##% a UA.
    @classmethod
    def parse(cls, text: str, header: str | None = None) -> Credentials:
        return super().parse(text, header)

    @property
    def username(self) -> str | None:
        return self.get("username")

    @property
    def uri(self) -> str | None:
        return self.get("uri")

    @property
    def response(self) -> str | None:
        return self.get("response")

    @property
    def cnonce(self) -> str | None:
        return self.get("cnonce")

    @property
    def nc(self) -> str | None:
        return self.get("nc")

    @property
    def qop(self) -> str | None:
        return self.get("qop")


@dataclass(slots=True)
class AuthenticationInfo:
    """``Authentication-Info: ainfo *(COMMA ainfo)`` (§20.6)."""

    params: Parameters

    def get(self, name: str) -> str | None:
        return _unquote(self.params.get(name))

    def __str__(self) -> str:
        return ", ".join(f"{n}={v}" for n, v in self.params)


##= https://www.rfc-editor.org/rfc/rfc3261#section-20.6
##% Syntax and semantics follow those specified in RFC 2617 [17].
def parse_authentication_info(text: str) -> AuthenticationInfo:
    """Parse an Authentication-Info value (nextnonce, qop, rspauth, cnonce, nc)."""
    text = text.strip(_WS)
    if not text:
        raise ParseError("empty value", "20.6", "Authentication-Info")
    return AuthenticationInfo(Parameters(_parse_auth_params(text, "Authentication-Info", "20.6")))
