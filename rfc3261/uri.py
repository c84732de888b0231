"""SIP and SIPS URIs (RFC 3261 §19.1, §25.1; RFC 5954).

``parse_uri`` reads a Request-URI or addr-spec: ``sip:``/``sips:`` URIs become a
:class:`SipURI` with their components split out (§19.1.1), anything else a
:class:`AbsoluteURI` kept opaque (tel:, mailto:, urn:, http: ...). Components are
kept as written, escapes included, so ``str(parse_uri(x)) == x``. ``uri_equal``
implements the comparison rules of §19.1.4 with the RFC 5954 §4.2 clarification for
IP addresses. ``escape``/``unescape`` apply §19.1.2's escaping to each component.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

from . import abnf
from .errors import ParseError
from .params import Parameters

__all__ = [
    "HEADER_SAFE",
    "PARAM_SAFE",
    "PASSWORD_SAFE",
    "USER_SAFE",
    "AbsoluteURI",
    "SipURI",
    "escape",
    "escape_header",
    "escape_param",
    "escape_password",
    "escape_user",
    "parse_sip_uri",
    "parse_uri",
    "unescape",
    "unescape_bytes",
    "uri_equal",
]

# ---------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------

##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.1
##% The format for a SIPS URI is the same, except that the scheme is
##% "sips" instead of sip.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.1
##% The userinfo part of a URI is optional and MAY be absent when the
##% destination host does not have a notion of users or when the
##% host itself is the resource being identified.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.1
##% If the host being addressed can process telephone numbers, for
##% instance, an Internet telephony gateway, a telephone-subscriber
##% field defined in RFC 2806 [9] MAY be used to populate the user field.
# The common case in one compiled pattern: SIP-URI / SIPS-URI of §25.1 with a named group
# per component. The user part may hold ";" and "?" (user-unreserved) but never "@", and
# neither parameters nor headers may hold "@", so the first "@" ends the userinfo.
_SIP_URI_GROUPS = (
    "(?P<scheme>(?i:sips?)):"
    f"(?:(?P<user>{abnf.user})(?::(?P<password>{abnf.password}))?@)?"
    f"(?P<host>{abnf.host})(?::(?P<port>[0-9]++))?"
    f"(?P<uri_params>{abnf.uri_parameters})"
    f"(?:\\?(?P<uri_headers>{abnf.header}(?:&{abnf.header})*+))?"
)
_SIP_URI_RE = re.compile(_SIP_URI_GROUPS)
_ABSOLUTE_URI_RE = re.compile(abnf.absoluteURI)
_SCHEME_RE = re.compile(abnf.scheme)
_USER_RE = re.compile(abnf.user)
_PASSWORD_RE = re.compile(abnf.password)
_HOST_RE = re.compile(abnf.host)
_PARAM_RE = re.compile(abnf.other_param)
_HEADER_RE = re.compile(abnf.header)
_TTL_RE = re.compile(abnf.ttl)
_CONTROL_OR_SPACE_RE = re.compile(r"[\x00-\x20\x7f]")

_SECTION = "25.1"


def _show(text: str) -> str:
    """``text`` quoted for an error message, shortened when long."""
    return repr(text if len(text) <= 80 else text[:77] + "...")


def parse_uri(text: str, header: str | None = None) -> SipURI | AbsoluteURI:
    """Parse a Request-URI or addr-spec (§25.1): a SipURI, or an opaque AbsoluteURI.

    ``header`` names where the URI was found (e.g. ``"Request-URI"``, ``"To"``) and
    prefixes error messages.
    """
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.2
    ##% All SIP implementations MUST support the SIP URI scheme.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.2
    ##% Any implementation that supports TLS MUST support the SIPS URI scheme.
    match = _SIP_URI_RE.fullmatch(text)
    if match is not None:
        return _sip_uri_from_groups(match.groups(), header)

    scheme, colon, _ = text.partition(":")
    if colon and scheme.lower() in ("sip", "sips"):
        raise _diagnose_sip(text, header)
    return _parse_absolute(text, header)


def parse_sip_uri(text: str, header: str | None = None) -> SipURI:
    """Parse a SIP-URI or SIPS-URI (§25.1); any other scheme is a ParseError."""
    match = _SIP_URI_RE.fullmatch(text)
    if match is not None:
        return _sip_uri_from_groups(match.groups(), header)
    scheme, colon, _ = text.partition(":")
    if colon and scheme.lower() in ("sip", "sips"):
        raise _diagnose_sip(text, header)
    raise ParseError(f"not a SIP or SIPS URI: {_show(text)}", "19.1", header)


def _sip_uri_from_groups(groups: tuple[Any, ...], header: str | None = None) -> SipURI:
    """A SipURI from the seven groups of a ``_SIP_URI_RE`` match (see below)."""
    scheme_text, user, password, host, port_text, params_text, headers_text = groups
    return _sip_uri_from_parts(
        scheme_text, user, password, host, port_text, params_text, headers_text, header
    )


def _sip_uri_from_parts(
    scheme_text: str,
    user: str | None,
    password: str | None,
    host: str,
    port_text: str | None,
    params_text: str,
    headers_text: str | None,
    header: str | None = None,
) -> SipURI:
    """A SipURI from the components of a text that matched the SIP-URI grammar.

    The caller has matched the grammar (``_SIP_URI_RE``, or a bigger pattern that embeds
    ``_SIP_URI_GROUPS``); this adds the checks the grammar cannot express.
    """
    port: int | None = None
    if port_text is not None:
        port = int(port_text)
        if port > 65535:
            # Deviation: port = 1*DIGIT has no upper bound, but no transport can use a
            # port above 65535, so such a URI is rejected as malformed.
            raise ParseError(f"port out of range {_show(port_text)}", _SECTION, header)
    params = Parameters()
    if params_text:
        if params_text.count(";") == 1:
            # One parameter (";transport=tcp", ";lr"): nothing can repeat.
            name, eq, value = params_text[1:].partition("=")
            params._items.append((name, value if eq else None))
        else:
            _parse_params(params, params_text, header)
    headers: list[tuple[str, str]] = []
    if headers_text is not None:
        for item in headers_text.split("&"):
            name, _, value = item.partition("=")
            headers.append((name, value))
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.1
    ##% For a SIPS URI, the transport parameter MUST
    ##% indicate a reliable transport.
    if scheme_text[-1] in "sS":
        transport = params.get("transport")
        if transport is not None and transport.lower() == "udp":
            raise ParseError(
                "SIPS URI with transport=udp: a SIPS URI needs a reliable transport",
                "19.1.1",
                header,
            )
    scheme = scheme_text if scheme_text == "sip" else scheme_text.lower()
    uri = SipURI(scheme, user, password, host, port, params, headers)
    if scheme_text != scheme:
        uri._scheme_text = scheme_text
    if port_text is not None and port_text[0] == "0" and len(port_text) > 1:
        uri._port_text = port_text  # leading zeros (":05060"), kept for serialization
    return uri


def _parse_params(params: Parameters, params_text: str, header: str | None) -> None:
    """Add ``;name=value;flag`` (already matched by the grammar) to ``params``."""
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.1
    ##% Since the uri-parameter mechanism is extensible, SIP elements
    ##% MUST silently ignore any uri-parameters that they do not
    ##% understand.
    # Every parameter is kept as written, known or not; only the properties read them.
    items = params._items  # built here directly: one list append per parameter
    for item in params_text[1:].split(";"):
        name, eq, value = item.partition("=")
        items.append((name, value if eq else None))
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.1
    ##% Even though an arbitrary number of URI parameters may be
    ##% included in a URI, any given parameter-name MUST NOT appear
    ##% more than once.
    if len(items) > 1:
        names = [name.lower() for name, _ in items]
        if len(set(names)) != len(names):
            repeated = next(name for name in names if names.count(name) > 1)
            raise ParseError(
                f"uri-parameter {_show(repeated)} appears more than once", "19.1.1", header
            )


def _parse_absolute(text: str, header: str | None) -> AbsoluteURI:
    if _ABSOLUTE_URI_RE.fullmatch(text) is None:
        scheme, colon, _ = text.partition(":")
        if not colon or _SCHEME_RE.fullmatch(scheme) is None:
            raise ParseError(f"missing or invalid URI scheme in {_show(text)}", _SECTION, header)
        if _CONTROL_OR_SPACE_RE.search(text):
            raise _unescaped_space(text, header)
        raise ParseError(f"invalid absoluteURI {_show(text)}", _SECTION, header)
    scheme = text.partition(":")[0]
    return AbsoluteURI(scheme.lower(), text)


##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.2
##% URIs MUST NOT contain unescaped space and control
##% characters.
##= https://www.rfc-editor.org/rfc/rfc3261#section-7.1
##% The Request-URI MUST NOT contain unescaped spaces or control
##% characters and MUST NOT be enclosed in "<>".
def _unescaped_space(text: str, header: str | None) -> ParseError:
    return ParseError(
        f"unescaped space or control character in URI {_show(text)}", "19.1.2", header
    )


def _diagnose_sip(text: str, header: str | None) -> ParseError:
    """Name the first defect of a SIP/SIPS URI the fast pattern rejected (slow path)."""
    if _CONTROL_OR_SPACE_RE.search(text):
        return _unescaped_space(text, header)
    rest = text.partition(":")[2]
    if "@" in rest:
        userinfo, _, rest = rest.partition("@")
        user, colon, password = userinfo.partition(":")
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.1
        ##% If the @ sign is
        ##% present in a SIP or SIPS URI, the user field MUST NOT be empty.
        # (abnf.user is 1*(...): an empty user does not match it.)
        if _USER_RE.fullmatch(user) is None:
            return ParseError(f"invalid user part {_show(user)}", _SECTION, header)

        if colon and _PASSWORD_RE.fullmatch(password) is None:
            return ParseError(f"invalid password {_show(password)}", _SECTION, header)
    hostport, query, headers_text = rest.partition("?")
    if rest.startswith("["):
        end = rest.find("]")
        host, after = (rest, "") if end < 0 else (rest[: end + 1], rest[end + 1 :])
    else:
        cut = len(hostport)
        for delimiter in ":;":
            position = hostport.find(delimiter)
            if 0 <= position < cut:
                cut = position
        host, after = rest[:cut], rest[cut:]
    if not host:
        return ParseError(f"missing host in {_show(text)}", _SECTION, header)
    if not host.startswith("[") and hostport.count(":") >= 2:
        # RFC 5118 §4.2: an IPv6 address must be written as an IPv6reference.
        return ParseError(
            f"IPv6 address not enclosed in '[' ']' in {_show(text)}", _SECTION, header
        )
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.2
    ##% Current
    ##% implementations MUST NOT attempt to improve robustness by treating
    ##% received escaped characters in the host component as literally
    ##% equivalent to their unescaped counterpart.
    # The host grammar has no "%": an escaped host is refused, and named as the defect;
    # nothing unescapes a host anywhere (comparison included).
    if _HOST_RE.fullmatch(host) is None:
        return ParseError(f"invalid host {_show(host)}", _SECTION, header)
    after_host, query, headers_text = after.partition("?")
    params_text = after_host
    if after_host.startswith(":"):
        port_text, _, params_text = after_host[1:].partition(";")
        params_text = ";" + params_text if params_text else ""
        if not port_text.isdigit() or not port_text.isascii():
            return ParseError(f"invalid port {_show(port_text)}", _SECTION, header)
    elif after_host and not after_host.startswith(";"):
        return ParseError(f"invalid host {_show(host + after_host)}", _SECTION, header)
    for item in params_text[1:].split(";") if params_text else ():
        if _PARAM_RE.fullmatch(item) is None:
            return ParseError(f"invalid uri-parameter {_show(item)}", _SECTION, header)
    if query:
        for item in headers_text.split("&"):
            if _HEADER_RE.fullmatch(item) is None:
                return ParseError(f"invalid URI header {_show(item)}", _SECTION, header)
    return ParseError(f"invalid SIP URI {_show(text)}", _SECTION, header)


# ---------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------

_DEFAULT_SCHEME_TRANSPORT = {"sip": "udp", "sips": "tcp"}


@dataclass(eq=False, slots=True)
class SipURI:
    """A SIP or SIPS URI (§19.1.1); components as written (escaped form)."""

    scheme: str = "sip"
    user: str | None = None
    password: str | None = None
    host: str = ""
    port: int | None = None
    params: Parameters = field(default_factory=Parameters)
    headers: list[tuple[str, str]] = field(default_factory=list)
    # The scheme and port exactly as written when that differs from the normal form
    # ("SIP:", ":05060"), so that an unmodified URI serializes to its original text.
    _scheme_text: str | None = field(default=None, repr=False)
    _port_text: str | None = field(default=None, repr=False)

    def __str__(self) -> str:
        scheme = self.scheme
        if self._scheme_text is not None and self._scheme_text.lower() == scheme:
            scheme = self._scheme_text
        parts = [scheme, ":"]
        if self.user is not None:
            parts.append(self.user)
            if self.password is not None:
                parts += (":", self.password)
            parts.append("@")
        parts.append(self.host)
        if self.port is not None:
            port_text = self._port_text
            if port_text is None or int(port_text) != self.port:
                port_text = str(self.port)
            parts += (":", port_text)
        if self.params:
            parts.append(str(self.params))
        if self.headers:
            parts.append("?")
            parts.append("&".join(f"{name}={value}" for name, value in self.headers))
        return "".join(parts)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SipURI):
            return NotImplemented
        return uri_equal(self, other)

    def __hash__(self) -> int:
        return hash(_comparison_key(self))

    def copy(self) -> SipURI:
        """An independent copy (parameters and headers are copied too)."""
        return SipURI(
            self.scheme,
            self.user,
            self.password,
            self.host,
            self.port,
            self.params.copy(),
            list(self.headers),
            self._scheme_text,
            self._port_text,
        )

    @property
    def is_secure(self) -> bool:
        """True for a SIPS URI (§19.1: the resource is to be reached over TLS)."""
        return self.scheme == "sips"

    @property
    def host_lower(self) -> str:
        """The host, lower-cased (host names compare case-insensitively, §19.1.4)."""
        return self.host.lower()

    @property
    def host_port(self) -> str:
        """``host[:port]``, the hostport of §25.1."""
        return self.host if self.port is None else f"{self.host}:{self.port}"

    @property
    def transport(self) -> str | None:
        """The transport parameter, lower-cased; None when absent."""
        value = self.params.get("transport")
        return None if value is None else value.lower()

    @property
    def default_transport(self) -> str:
        """The transport parameter, else the scheme's default (Table 1 note (2))."""
        return self.transport or _DEFAULT_SCHEME_TRANSPORT.get(self.scheme, "udp")

    @property
    def maddr(self) -> str | None:
        """The maddr parameter as written; None when absent."""
        return self.params.get("maddr")

    @property
    def ttl(self) -> int | None:
        """The ttl parameter (0..255); None when absent. ParseError when malformed."""
        if "ttl" not in self.params:
            return None
        value = self.params.get("ttl") or ""
        if _TTL_RE.fullmatch(value) is None or int(value) > 255:
            raise ParseError(f"invalid ttl parameter {_show(value)}", _SECTION, "URI")
        return int(value)

    @property
    def user_param(self) -> str | None:
        """The user parameter ("phone", "ip", ...), lower-cased; None when absent."""
        value = self.params.get("user")
        return None if value is None else value.lower()

    @property
    def method(self) -> str | None:
        """The method parameter as written (methods are case-sensitive); None when absent."""
        return self.params.get("method")

    @property
    def lr(self) -> bool:
        """True when the lr parameter is present (loose routing, §16.12)."""
        return "lr" in self.params


@dataclass(eq=False, slots=True)
class AbsoluteURI:
    """Any non-SIP absoluteURI (§25.1), kept opaque: ``text`` is the whole URI as written."""

    scheme: str
    text: str

    def __str__(self) -> str:
        return self.text

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AbsoluteURI):
            return NotImplemented
        return uri_equal(self, other)

    def __hash__(self) -> int:
        return hash((self.scheme.lower(), self.text.partition(":")[2]))

    def copy(self) -> AbsoluteURI:
        return AbsoluteURI(self.scheme, self.text)


# ---------------------------------------------------------------------------
# Escaping (§19.1.2)
# ---------------------------------------------------------------------------

_UNRESERVED_SET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.!~*'()"

##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.2
##% For each component, the set of valid BNF expansions defines exactly
##% which characters may appear unescaped.
# The character sets of user, password, other-param (paramchar) and header (hname/hvalue).
USER_SAFE = frozenset(_UNRESERVED_SET + "&=+$,;?/")
PASSWORD_SAFE = frozenset(_UNRESERVED_SET + "&=+$,")
PARAM_SAFE = frozenset(_UNRESERVED_SET + "[]/:&+$")
HEADER_SAFE = frozenset(_UNRESERVED_SET + "[]/?:+$")

# RFC 2396 "reserved": escaping one of these changes the meaning of the URI.
_RESERVED_SET = frozenset(";/?:@&=+$,")


##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.2
##% All other characters MUST be
##% escaped.
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.2
##% Excluded US-
##% ASCII characters (RFC 2396 [5]), such as space and control
##% characters and characters used as URI delimiters, also MUST be
##% escaped.
def escape(text: str, safe: frozenset[str]) -> str:
    """Escape every character of ``text`` not in ``safe`` as ``%XX`` (UTF-8 octets)."""
    if all(char in safe for char in text):
        return text
    out = []
    for char in text:
        if char in safe:
            out.append(char)
        else:
            out.extend(f"%{octet:02X}" for octet in char.encode("utf-8", "surrogateescape"))
    return "".join(out)


##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.2
##% For example, "@" is not in the set of characters in the user
##% component, so the user "j@s0n" must have at least the @ sign encoded,
##% as in "j%40s0n".
##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.2
##% Any characters occurring in a telephone-subscriber
##% that do not appear in an expansion of the BNF for the user rule MUST
##% be escaped.
##= https://www.rfc-editor.org/rfc/rfc3261#section-25.1
##% Note,
##% however, that any characters allowed there that are not allowed in
##% the user part of the SIP URI MUST be escaped.
def escape_user(text: str) -> str:
    """``text`` escaped for the user part of a SIP URI (§25.1 ``user``)."""
    return escape(text, USER_SAFE)


def escape_password(text: str) -> str:
    """``text`` escaped for the password part of a SIP URI (§25.1 ``password``)."""
    return escape(text, PASSWORD_SAFE)


def escape_param(text: str) -> str:
    """``text`` escaped for a uri-parameter name or value (§25.1 ``paramchar``)."""
    return escape(text, PARAM_SAFE)


##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.2
##% Expanding the hname and hvalue tokens in Section 25 show that all URI
##% reserved characters in header field names and values MUST be escaped.
def escape_header(text: str) -> str:
    """``text`` escaped for a URI header name or value (§25.1 ``hname``/``hvalue``)."""
    return escape(text, HEADER_SAFE)


_ESCAPE_RE = re.compile(r"%([0-9A-Fa-f]{2})")


def unescape_bytes(text: str) -> bytes:
    """The octets ``text`` stands for: each ``%XX`` decoded; a lone ``%`` kept as is."""
    out = bytearray()
    position = 0
    for match in _ESCAPE_RE.finditer(text):
        out += text[position : match.start()].encode("utf-8", "surrogateescape")
        out.append(int(match.group(1), 16))
        position = match.end()
    out += text[position:].encode("utf-8", "surrogateescape")
    return bytes(out)


def unescape(text: str) -> str:
    """``text`` with every ``%XX`` decoded, read as UTF-8 (invalid octets: surrogateescape)."""
    if "%" not in text:
        return text
    return unescape_bytes(text).decode("utf-8", "surrogateescape")


def _canonical_escapes(text: str) -> str:
    """One spelling per character: unreserved ASCII unescaped, the rest ``%XX`` upper-case."""
    if "%" not in text:
        return text
    return _ESCAPE_RE.sub(_canonical_escape, text)


def _canonical_escape(match: re.Match[str]) -> str:
    octet = int(match.group(1), 16)
    char = chr(octet)
    if octet < 0x80 and char not in _RESERVED_SET:
        return char
    return f"%{octet:02X}"


# ---------------------------------------------------------------------------
# Comparison (§19.1.4, RFC 5954 §4.2)
# ---------------------------------------------------------------------------

# Parameters that must appear in both URIs or in neither.
_MUST_MATCH_PARAMS = ("user", "ttl", "method", "maddr", "transport")


##= https://www.rfc-editor.org/rfc/rfc5954#section-4.2
##% Accordingly, the existing rule from the bulleted list in Section
##% 19.1.4 of RFC 3261 MUST be modified as follows:
##= https://www.rfc-editor.org/rfc/rfc5954#section-4.2
##% In addition, the text in the following paragraph MUST be added to the
##% existing list of examples in Section 19.1.4 of RFC 3261 in order to
##% demonstrate the intent of the modified rule:
##= https://www.rfc-editor.org/rfc/rfc5954#section-4.2
##% If the host component contains a textual
##% representation of IP addresses, then the representation of those
##% IP addresses may vary.  If so, the host components are considered
##% to match if the different textual representations yield the same
##% binary IP address.
def _host_key(host: str) -> object:
    """What a host compares by: the binary address for IP literals, else lower-case text."""
    if host.startswith("["):
        literal = host[1:-1]
        if ":::" in literal:
            # RFC 5118 §4.10: the extra colon of RFC 3261's flawed ABNF is ignored.
            literal = literal.replace(":::", "::", 1)
        try:
            return ipaddress.IPv6Address(literal)
        except ValueError:
            return host.lower()
    if host[:1].isdigit():
        try:
            return ipaddress.IPv4Address(host)
        except ValueError:
            return host.lower()
    return host.lower()


def _param_key(name: str, value: str | None) -> object:
    if value is None:
        return None
    if name == "maddr":
        return _host_key(value)
    return _canonical_escapes(value).lower()


def _params_dict(uri: SipURI) -> dict[str, str | None]:
    """Parameters by canonical name; the first of repeated names wins."""
    return {
        _canonical_escapes(name).lower(): value for name, value in reversed(uri.params.items())
    }


def _comparison_key(uri: SipURI) -> tuple[object, ...]:
    """The components that must match for two URIs to be equal (used by ``__hash__``)."""
    params = _params_dict(uri)
    required = tuple(
        (name, (True, _param_key(name, params[name])) if name in params else (False,))
        for name in _MUST_MATCH_PARAMS
    )
    return (
        uri.scheme,
        None if uri.user is None else _canonical_escapes(uri.user),
        None if uri.password is None else _canonical_escapes(uri.password),
        _host_key(uri.host),
        uri.port,
        required,
        _headers_key(uri),
    )


def _headers_key(uri: SipURI) -> frozenset[tuple[str, str]]:
    return frozenset(
        (_canonical_escapes(name).lower(), _canonical_escapes(value))
        for name, value in uri.headers
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.4
##% SIP and SIPS URIs are compared for equality
##% according to the following rules:
def uri_equal(a: SipURI | AbsoluteURI, b: SipURI | AbsoluteURI) -> bool:
    """Whether two URIs are equivalent by the rules of §19.1.4 (and RFC 5954 §4.2).

    Other absoluteURIs are equal when their schemes match case-insensitively and the
    rest is identical (RFC 3261 defines no finer rule for them).
    """
    if isinstance(a, AbsoluteURI) or isinstance(b, AbsoluteURI):
        if not (isinstance(a, AbsoluteURI) and isinstance(b, AbsoluteURI)):
            return False
        return (
            a.scheme.lower() == b.scheme.lower()
            and a.text.partition(":")[2] == b.text.partition(":")[2]
        )

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.4
    ##% A SIP and SIPS URI are never equivalent.
    if a.scheme != b.scheme:
        return False

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.4
    ##% Comparison of the userinfo of SIP and SIPS URIs is case-
    ##% sensitive.  This includes userinfo containing passwords or
    ##% formatted as telephone-subscribers.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.4
    ##% Characters other than those in the "reserved" set (see RFC 2396
    ##% [5]) are equivalent to their ""%" HEX HEX" encoding.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.4
    ##% For two URIs to be equal, the user, password, host, and port
    ##% components must match.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.4
    ##% A URI omitting the user component will not match a URI that
    ##% includes one.  A URI omitting the password component will not
    ##% match a URI that includes one.
    if (a.user is None) != (b.user is None) or (a.password is None) != (b.password is None):
        return False
    if a.user is not None and _canonical_escapes(a.user) != _canonical_escapes(b.user or ""):
        return False
    if a.password is not None and _canonical_escapes(a.password) != _canonical_escapes(
        b.password or ""
    ):
        return False

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.4
    ##% Comparison of all other components of the URI is case-insensitive unless
    ##% explicitly defined otherwise.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.4
    ##% An IP address that is the result of a DNS lookup of a host name
    ##% does not match that host name.
    if _host_key(a.host) != _host_key(b.host):
        return False

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.4
    ##% For instance, a URI omitting the optional port
    ##% component will not match a URI explicitly declaring port 5060.
    if a.port != b.port:
        return False

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.4
    ##% The ordering of parameters and header fields is not significant
    ##% in comparing SIP and SIPS URIs.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.4
    ##% Any uri-parameter appearing in both URIs must match.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.4
    ##% A user, ttl, or method uri-parameter appearing in only one
    ##% URI never matches, even if it contains the default value.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.4
    ##% A URI that includes an maddr parameter will not match a URI
    ##% that contains no maddr parameter.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.4
    ##% The same is true for the transport-parameter, ttl-parameter,
    ##% user-parameter, and method components.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.4
    ##% All other uri-parameters appearing in only one URI are
    ##% ignored when comparing the URIs.
    a_params = _params_dict(a)
    b_params = _params_dict(b)
    for name in _MUST_MATCH_PARAMS:
        if (name in a_params) != (name in b_params):
            return False
    for name, value in a_params.items():
        if name in b_params and _param_key(name, value) != _param_key(name, b_params[name]):
            return False

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.4
    ##% URI header components are never ignored.  Any present header
    ##% component MUST be present in both URIs and match for the URIs
    ##% to match.
    if _headers_key(a) != _headers_key(b):  # noqa: SIM103 (a statement verify can break)
        return False

    return True
