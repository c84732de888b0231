"""SIP messages: parsing, header fields and serialization (RFC 3261 §7, §18.3, §20.14).

Theory of operation
-------------------
A SIP message is a start-line, header fields, an empty line and an optional body
(§7).  ``parse`` reads one message from the bytes of a datagram:

1. split the head from the body at the first empty line (CRLF CRLF) and decode the
   head once as UTF-8; the body stays bytes;
2. split the head into lines, joining folded continuation lines (§7.3.1) only when
   the head holds a line that starts with SP or HTAB;
3. cut every header line at its first colon into a field ``(name, key, value, raw)``:
   the name as written, the canonical lower-case long name (compact forms resolved,
   §7.3.3, as registered in ``rfc3261.headers``: a header an extension adds with
   ``register_header`` is resolved the same way), the value with folding replaced by
   one SP, and the raw line(s) as received, so that unmodified fields are sent again
   byte for byte;
4. check the start-line and the header fields every transaction needs (Via, From,
   To, Call-ID, CSeq, Max-Forwards, Content-Length), parsing them into typed values;
5. take the body from the octets that follow, bounded by Content-Length (§18.3).

Every other header field is parsed on first access through ``message.header(name)``
or a typed property (``contact``, ``route``, ...), which raises ``ParseError`` then.
Typed values are cached in the ``Headers`` container and dropped when a field of
that name changes; they are views of the text, so change a header by writing it
back (``headers.set("Contact", str(contact))``), not by mutating the typed value.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any, ClassVar

from rfc3261 import abnf
from rfc3261.errors import ParseError
from rfc3261.headers import (
    _CANONICAL,
    _COMMON_METHODS,
    _COMPACT,
    _SPELLINGS,
    _TYPES,
    Contact,
    ContentType,
    CSeq,
    HeaderType,
    NameAddr,
    Via,
    parse_call_id,
    parse_content_length,
    parse_max_forwards,
    split_header_values,
)
from rfc3261.status import reason_phrase
from rfc3261.uri import _SIP_URI_RE, AbsoluteURI, SipURI, _sip_uri_from_groups, parse_uri

__all__ = [
    "Headers",
    "Message",
    "Request",
    "Response",
    "bad_request_response",
    "parse",
]

SIP_VERSION = "SIP/2.0"
_UNSET: Any = object()

_TOKEN = re.compile(abnf.token)
_REASON_PHRASE = re.compile(abnf.Reason_Phrase)
# C0 controls and DEL other than HTAB, CR and LF: allowed only as a quoted-pair
# inside a quoted-string (§25.1), e.g. the NUL in the To display name of RFC 4475
# intmeth.dat.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_BYTES = bytes([*range(0x09), *range(0x0A, 0x20), 0x7F])
_QUOTE_OR_BACKSLASH = re.compile(r'["\\]')

# A field is (name as written, canonical key, value, raw text or None).  ``raw`` is
# the line(s) exactly as received, folding included; fields added through the API
# have none and are written as "Name: value".
Field = tuple[str, str, str, "str | None"]

# RFC 3261's own definitions cannot be replaced or unregistered, so this one stays current.
_VIA = _TYPES["via"]

##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.1
##% The exceptions
##% to this rule are the WWW-Authenticate, Authorization, Proxy-
##% Authenticate, and Proxy-Authorization header fields.  Multiple header
##% field rows with these names MAY be present in a message, but since
##% their grammar does not follow the general form listed in Section 7.3,
##% they MUST NOT be combined into a single header field row.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20.7
##% Although not a comma-separated list, this header field name may be
##% present multiple times, and MUST NOT be combined into a single header
##% line using the usual rules described in Section 7.3.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20.28
##% Although not a comma-separated list, this header field name may be
##% present multiple times, and MUST NOT be combined into a single header
##% line using the usual rules described in Section 7.3.1.
_REPEATED_NOT_LIST = frozenset(
    {"www-authenticate", "authorization", "proxy-authenticate", "proxy-authorization"}
)

# -- header field names ------------------------------------------------------------

# Header field names come from the registry in rfc3261.headers (register_header), read
# live: _SPELLINGS maps the usual spellings of every registered name (canonical, lower-case,
# upper-case, compact) to its canonical key; any other spelling is checked and lower-cased.


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.3
##% Implementations MUST accept both the long and short forms
##% of each header name.
##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.3
##% A header
##% field name MAY appear in both long and short forms within the same
##% message.
def _key(name: str) -> str:
    """The canonical lower-case long form of a header field name (``"v"`` -> ``"via"``)."""
    known = _SPELLINGS.get(name)
    if known is not None:
        return known
    lower = name.strip(" \t").lower()
    return _COMPACT.get(lower, lower)


def _display_name(key: str) -> str:
    """The usual spelling of a header field name (``"call-id"`` -> ``"Call-ID"``)."""
    return _CANONICAL.get(key) or "-".join(part.capitalize() for part in key.split("-"))


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.1
##% The formal grammar for a message-header specified in Section 25
##% allows for an arbitrary amount of whitespace on either side of the
##% colon; however, implementations should avoid spaces between the field
##% name and the colon and use a single space (SP) between the colon and
##% the field-value.
def _field_name(written: str, line: str) -> tuple[str, str]:
    """Validate a header field name seen on the wire; return (name, key)."""
    name = written.rstrip(" \t")
    if not name or _TOKEN.fullmatch(name) is None:
        shown = line if len(line) <= 60 else line[:57] + "..."
        raise ParseError(f"header field name is not a token in line {shown!r}", "7.3.1")
    return name, _key(name)


# -- the Headers container ------------------------------------------------------------


class Headers:
    """The header fields of a message, in the order written.

    Lookup is case-insensitive and accepts compact forms (``"v"`` finds Via).
    Iteration yields ``(name, value)`` pairs as written.  Fields that were parsed
    and not changed since are serialized from their raw text, so unknown headers
    and parameters survive a round trip untouched.
    """

    __slots__ = ("_fields", "_index", "_typed")

    def __init__(self, fields: Iterable[tuple[str, Any]] = ()):
        self._fields: list[Field] = []
        self._index: dict[str, list[Field]] | None = None
        self._typed: dict[str, Any] = {}
        for name, value in fields:
            self.add(name, value)

    @classmethod
    def _from_fields(cls, fields: list[Field], index: dict[str, list[Field]]) -> Headers:
        headers = cls.__new__(cls)
        headers._fields = fields
        headers._index = index
        headers._typed = {}
        return headers

    # -- reading

    def _lookup(self, key: str) -> list[Field]:
        index = self._index
        if index is None:
            index = {}
            for field in self._fields:
                bucket = index.get(field[1])
                if bucket is None:
                    index[field[1]] = [field]
                else:
                    bucket.append(field)
            self._index = index
        return index.get(key) or []

    def get(self, name: str, default: str | None = None) -> str | None:
        """The value of the first field called ``name`` (folding replaced by SP)."""
        fields = self._lookup(_key(name))
        return fields[0][2] if fields else default

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name``: one per row, list headers split at their commas."""
        key = _key(name)
        fields = self._lookup(key)
        spec = _TYPES.get(key)
        if spec is None or not spec.multi:
            return [field[2] for field in fields]
        return [value for field in fields for value in spec.split(field[2])]

    def typed(self, name: str) -> Any:
        """The typed value of ``name`` (parsed on first use and cached).

        List headers give a list (empty when absent); single-value headers give the
        value or None; unknown headers give the raw text of the first row.
        """
        key = _key(name)
        value = self._typed.get(key, _UNSET)
        if value is not _UNSET:
            return value
        try:
            value = self._parse_typed(key)
        except ParseError:
            raise
        except ValueError as exc:
            raise _stray(exc, _display_name(key)) from exc
        self._typed[key] = value
        return value

    def _parse_typed(self, key: str) -> Any:
        fields = self._lookup(key)
        spec = _TYPES.get(key)
        if spec is None:
            return fields[0][2] if fields else None
        if spec.multi:
            return _parse_list(fields, spec)
        if key in _REPEATED_NOT_LIST:
            return [spec.parse(field[2]) for field in fields]
        if not fields:
            return None
        if len(fields) > 1:
            raise _repeated(key)
        return spec.parse(fields[0][2])

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and bool(self._lookup(_key(name)))

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return ((field[0], field[2]) for field in self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def fields(self) -> list[tuple[str, str]]:
        """The ``(name, value)`` pairs as written, in order."""
        return [(field[0], field[2]) for field in self._fields]

    def raw_lines(self) -> list[str]:
        """The header lines as they will be serialized (raw text where unchanged)."""
        return [
            raw if raw is not None else f"{name}: {value}" for name, _, value, raw in self._fields
        ]

    # -- changing

    def _new_field(self, name: str, value: Any) -> Field:
        # A usual spelling of a registered name is a token (rfc3261.headers checks it
        # when the name is registered); any other name is checked here.
        key = _SPELLINGS.get(name) if isinstance(name, str) else None
        if key is None:
            if not isinstance(name, str) or _TOKEN.fullmatch(name) is None:
                raise ValueError(f"header field name {name!r} is not a token (RFC 3261 §7.3.1)")
            key = _key(name)
        text = str(value).strip(" \t")
        if "\r" in text or "\n" in text:
            raise ValueError(f"{name}: a header field value may not contain CR or LF")
        return (name, key, text, None)

    def _changed(self, key: str) -> None:
        self._index = None
        self._typed.pop(key, None)

    def add(self, name: str, value: Any) -> None:
        """Append a field ``name: value`` after all others."""
        field = self._new_field(name, value)
        self._fields.append(field)
        self._changed(field[1])

    def prepend(self, name: str, value: Any) -> None:
        """Insert a field above the first field of the same name (or at the top).

        This is how a proxy adds its Via or Record-Route value (§16.6).
        """
        field = self._new_field(name, value)
        position = next(
            (i for i, existing in enumerate(self._fields) if existing[1] == field[1]), 0
        )
        self._fields.insert(position, field)
        self._changed(field[1])

    def set(self, name: str, value: Any) -> None:
        """Replace every field called ``name`` by one field, in the first one's place."""
        field = self._new_field(name, value)
        key = field[1]
        fields: list[Field] = []
        placed = False
        for existing in self._fields:
            if existing[1] != key:
                fields.append(existing)
            elif not placed:
                fields.append(field)
                placed = True
        if not placed:
            fields.append(field)
        self._fields = fields
        self._changed(key)

    def remove(self, name: str) -> int:
        """Remove every field called ``name``; return how many were removed."""
        key = _key(name)
        before = len(self._fields)
        self._fields = [field for field in self._fields if field[1] != key]
        self._changed(key)
        return before - len(self._fields)

    def remove_first(self, name: str) -> str | None:
        """Remove the first value of list header ``name`` (e.g. the top Via); return it."""
        key = _key(name)
        for position, field in enumerate(self._fields):
            if field[1] != key:
                continue
            values = split_header_values(field[2])
            if len(values) <= 1:
                del self._fields[position]
            else:
                rest = ", ".join(values[1:])
                self._fields[position] = (field[0], key, rest, None)
            self._changed(key)
            return values[0] if values else ""
        return None

    def copy(self, *, parsed: bool = False) -> Headers:
        """A copy sharing no state with this container (typed values are not copied).

        ``parsed=True``: the copy starts with this container's typed values, so that it
        is not parsed again (a proxy's copy of a request, §16.6 step 1).  They are views
        of the text that nobody changes in place (a change writes text back and drops
        the changed field's value in the container changed only), so sharing them is safe.
        """
        copy = Headers._from_fields(list(self._fields), {})._reindexed()
        if parsed:
            copy._typed = dict(self._typed)
        return copy

    def _reindexed(self) -> Headers:
        self._index = None
        return self

    def __eq__(self, other: object) -> bool:
        # Equal on values: canonical names and values, in order.
        if not isinstance(other, Headers):
            return NotImplemented
        return [(f[1], f[2]) for f in self._fields] == [(f[1], f[2]) for f in other._fields]

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Headers({self.fields()!r})"


def _repeated(key: str) -> ParseError:
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.1
    ##% Multiple header field rows with the same field-name MAY be present in
    ##% a message if and only if the entire field-value for that header field
    ##% is defined as a comma-separated list (that is, if follows the grammar
    ##% defined in Section 7.3).
    return ParseError(
        "appears more than once but is not a comma-separated list", "7.3.1", _display_name(key)
    )


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3
##% [H4.2] also specifies that multiple header fields of the same field
##% name whose value is a comma-separated list can be combined into one
##% header field.
##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.1
##% Implementations MUST be able to process multiple header field rows
##% with the same name in any combination of the single-value-per-line or
##% comma-separated value forms.
##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.1
##% It MUST be possible to combine the multiple
##% header field rows into one "field-name: field-value" pair, without
##% changing the semantics of the message, by appending each subsequent
##% field-value to the first, each separated by a comma.
def _parse_list(fields: list[Field], spec: HeaderType) -> list[Any]:
    """Every value of a list header, rows split at their top-level commas (§7.3)."""
    if len(fields) == 1:
        value = fields[0][2]
        if value and "," not in value:
            return [spec.parse(value)]
    return spec.parse_all([field[2] for field in fields])


# -- messages --------------------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.4.1
##% SIP messages MAY contain binary bodies or body parts.
##= https://www.rfc-editor.org/rfc/rfc3261#section-7.4.1
##% The "multipart" MIME type defined in RFC 2046 [11] MAY be used within
##% the body of the message.
class Message:
    """What requests and responses share: header fields, a body, typed access (§7).

    The body is bytes, never decoded: its type is the Content-Type's business.
    """

    __slots__ = ("body", "defects", "headers")

    version: ClassVar[str] = SIP_VERSION

    def __init__(self, headers: Headers | Iterable[tuple[str, Any]] | None, body: bytes):
        self.headers = headers if isinstance(headers, Headers) else Headers(headers or ())
        self.body = bytes(body)
        # Deviations from the grammar that the parser tolerated (see parse()).
        self.defects: list[str] = []

    def _start_line(self) -> str:
        raise NotImplementedError

    # -- typed access (parsed on first use, cached in self.headers)

    def header(self, name: str) -> Any:
        """The typed value of header ``name``; see ``Headers.typed``."""
        return self.headers.typed(name)

    # The properties read the cache of typed values first: parse() fills it for the
    # header fields every transaction needs.

    @property
    def via(self) -> list[Via]:
        """Every Via value, top first."""
        vias = self.headers._typed.get("via")
        return vias if vias is not None else self.headers.typed("via")

    @property
    def top_via(self) -> Via:
        """The topmost Via value (the one this hop's transaction is keyed on)."""
        vias = self.headers._typed.get("via")
        if not vias:
            vias = self.headers.typed("via")
            if not vias:
                raise ParseError("missing Via header field", "8.1.1.7")
        return vias[0]

    def replace_top_via(self, via: Via) -> None:
        """Put ``via`` in place of the topmost Via value; the values below stay as parsed.

        For the transport's ``received``/``rport`` (§18.2.1) and a client's own Via: the
        request is then not parsed again to read its Via.
        """
        vias = self.via
        headers = self.headers
        rows = headers._lookup("via")
        if rows and len(rows) == len(vias):
            # One value per Via row, the usual case: the top row is rewritten where it
            # stands (its name as written), and the index of the rows stays valid.
            top = rows[0]
            field = (top[0], "via", str(via), None)
            fields = headers._fields
            fields[fields.index(top)] = field
            rows[0] = field
        else:
            headers.remove_first("Via")
            headers.prepend("Via", str(via))
        headers._typed["via"] = [via, *vias[1:]]

    def push_via(self, value: str) -> None:
        """Put the Via ``value`` on top (a proxy's own, §16.6 step 8); those below stay as
        parsed, and only the new value is read."""
        below = self.via
        via = _VIA.parse(value)
        headers = self.headers
        rows = headers._lookup("via")
        if rows:
            # Above the first Via row, as prepend does, keeping the index of the rows.
            field = headers._new_field("Via", value)
            fields = headers._fields
            fields.insert(fields.index(rows[0]), field)
            rows.insert(0, field)
        else:
            headers.prepend("Via", value)
        headers._typed["via"] = [via, *below]

    def pop_top_via(self) -> None:
        """Remove the topmost Via value (a proxy's own, §16.7 step 3, §16.11); those
        below stay as parsed."""
        vias = self.via
        headers = self.headers
        rows = headers._lookup("via")
        if rows and len(rows) == len(vias):
            # One value per Via row: the top row goes, and the index of the rows stays.
            headers._fields.remove(rows.pop(0))
        else:
            headers.remove_first("Via")
        headers._typed["via"] = vias[1:]

    @property
    def from_(self) -> NameAddr:
        value = self.headers._typed.get("from")
        return value if value is not None else self._required("from")

    @property
    def to(self) -> NameAddr:
        value = self.headers._typed.get("to")
        return value if value is not None else self._required("to")

    @property
    def call_id(self) -> str:
        value = self.headers._typed.get("call-id")
        return value if value is not None else self._required("call-id")

    @property
    def cseq(self) -> CSeq:
        value = self.headers._typed.get("cseq")
        return value if value is not None else self._required("cseq")

    @property
    def max_forwards(self) -> int | None:
        value = self.headers._typed.get("max-forwards", _UNSET)
        return value if value is not _UNSET else self.headers.typed("max-forwards")

    @property
    def contact(self) -> list[Contact]:
        headers = self.headers
        value = headers._typed.get("contact")
        if value is not None:
            return value
        fields = headers._index.get("contact") if headers._index is not None else None
        if fields is not None and len(fields) == 1:
            text = fields[0][2]
            if text and "," not in text:
                # Fast path: one Contact row holding one value (the usual request or 2xx).
                # The general path is Headers.typed, which this matches.
                try:
                    value = headers._typed["contact"] = [Contact.parse(text)]
                except ParseError:
                    raise
                except ValueError as exc:
                    raise _stray(exc, "Contact") from exc
                return value
        return headers.typed("contact")

    @property
    def route(self) -> list[NameAddr]:
        return self.headers.typed("route")

    @property
    def record_route(self) -> list[NameAddr]:
        return self.headers.typed("record-route")

    @property
    def content_type(self) -> ContentType | None:
        return self.headers.typed("content-type")

    @property
    def expires(self) -> int | None:
        return self.headers.typed("expires")

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-18.3
    ##% If the message
    ##% has no Content-Length header field, the message body is assumed to
    ##% end at the end of the transport packet.
    @property
    def content_length(self) -> int:
        """The Content-Length value, or the body's length when the header is absent."""
        value = self.headers._typed.get("content-length", _UNSET)
        if value is _UNSET:
            value = self.headers.typed("content-length")
        return len(self.body) if value is None else value

    def _required(self, key: str) -> Any:
        value = self.headers.typed(key)
        if value is None:
            raise ParseError(f"missing {_display_name(key)} header field", "8.1.1")
        return value

    # -- building

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-20.14
    ##% If no body is present in a message, then the Content-Length header
    ##% field value MUST be set to zero.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-7.4.1
    ##% The Internet media type of the message body MUST be given by the
    ##% Content-Type header field.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-7.4.2
    ##% The "chunked" transfer encoding of HTTP/1.1 MUST NOT be used for SIP.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-20.14
    ##% Applications SHOULD use this field to indicate the size of the
    ##% message-body to be transferred, regardless of the media type of the
    ##% entity.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-20.15
    ##% The Content-Type header field MUST be present if the body is not empty.
    def set_body(self, body: bytes, content_type: str | None = None) -> None:
        """Replace the body, keeping Content-Length (and Content-Type if given) in step.

        A non-empty body needs a Content-Type: given here, or already in the header
        fields; ValueError otherwise, and the message is left as it was.
        """
        body = bytes(body)
        if content_type is None and body and "Content-Type" not in self.headers:
            raise ValueError("a non-empty body needs a Content-Type (RFC 3261 §20.15)")
        self.body = body
        if content_type is not None:
            self.headers.set("Content-Type", content_type)
        self.headers.set("Content-Length", len(body))

    # -- serialization

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-7
    ##% The start-line, each message-header line, and the empty line MUST be
    ##% terminated by a carriage-return line-feed sequence (CRLF).  Note that
    ##% the empty line MUST be present even if the message-body is not.
    def __bytes__(self) -> bytes:
        lines = [self._start_line()]
        for name, _, value, raw in self.headers._fields:
            lines.append(raw if raw is not None else f"{name}: {value}")
        lines.append("\r\n")
        return "\r\n".join(lines).encode("utf-8") + self.body

    def __eq__(self, other: object) -> bool:
        # Equal on values: start line, header fields (names compared by their
        # canonical form) and body.
        if type(self) is not type(other):
            return NotImplemented
        assert isinstance(other, Message)
        return (
            self._start_line() == other._start_line()
            and self.headers == other.headers
            and self.body == other.body
        )

    __hash__ = None  # type: ignore[assignment]


# Header fields that Request.build places right after Via and Max-Forwards (§7.3.1).
_PROXY_HEADERS = frozenset(("route", "record-route", "proxy-require", "proxy-authorization"))


class Request(Message):
    """A SIP request: Request-Line, header fields and body (§7.1)."""

    __slots__ = ("_to_tag", "_uri", "_uri_match", "method")

    _uri: SipURI | AbsoluteURI | None
    _uri_match: re.Match[str] | None

    def __init__(
        self,
        method: str,
        uri: SipURI | AbsoluteURI | str,
        headers: Headers | Iterable[tuple[str, Any]] | None = None,
        body: bytes = b"",
    ):
        if not isinstance(method, str) or _TOKEN.fullmatch(method) is None:
            raise ValueError(f"method {method!r} is not a token (RFC 3261 §7.1)")
        super().__init__(headers, body)
        self.method = method
        self.uri = parse_uri(uri) if isinstance(uri, str) else uri
        self._to_tag: str | None = None

    @property
    def uri(self) -> SipURI | AbsoluteURI:
        """The Request-URI."""
        uri = self._uri
        if uri is None:
            # parse() matched a SIP URI that needs no check beyond the grammar (no port,
            # parameters or headers) and kept the match: build the SipURI now.
            match = self._uri_match
            assert match is not None
            uri = self._uri = _sip_uri_from_groups(match.groups())
            self._uri_match = None
        return uri

    @uri.setter
    def uri(self, value: SipURI | AbsoluteURI) -> None:
        self._uri = value
        self._uri_match = None

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1
    ##% A valid SIP request formulated by a UAC MUST, at a minimum, contain
    ##% the following header fields: To, From, CSeq, Call-ID, Max-Forwards,
    ##% and Via; all of these header fields are mandatory in all SIP
    ##% requests.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-20.14
    ##% Applications SHOULD use this field to indicate the size of the
    ##% message-body to be transferred, regardless of the media type of the
    ##% entity.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-20
    ##% t: The header field SHOULD be sent, but clients/servers need to be
    ##% prepared to receive messages without that header field.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-20
    ##% If a stream-based protocol (such as TCP) is used as a transport, then
    ##% the header field MUST be sent.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.1
    ##% However, it is RECOMMENDED that header fields which are needed for
    ##% proxy processing (Via, Route, Record-Route, Proxy-Require,
    ##% Max-Forwards, and Proxy-Authorization, for example) appear towards
    ##% the top of the message to facilitate rapid parsing.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-20.15
    ##% The Content-Type header field MUST be present if the body is not empty.
    @classmethod
    def build(
        cls,
        method: str,
        uri: SipURI | AbsoluteURI | str,
        *,
        via: Any,
        from_: Any,
        to: Any,
        call_id: str,
        cseq: int,
        max_forwards: int = 70,
        contact: Any = None,
        headers: Iterable[tuple[str, Any]] = (),
        body: bytes = b"",
        content_type: str | None = None,
    ) -> Request:
        """A request with the header fields every request carries (§8.1.1).

        Values may be typed (Via, NameAddr, ...) or text; Content-Length is set
        from the body.  Header fields for proxy processing given in ``headers``
        (Route, Record-Route, Proxy-Require, Proxy-Authorization) follow Via and
        Max-Forwards; the others follow CSeq and Contact.  A non-empty body needs a
        Content-Type, given as ``content_type`` or in ``headers``.
        """
        headers = list(headers)
        if (
            body
            and content_type is None
            and not any(_key(name) == "content-type" for name, _ in headers)
        ):
            raise ValueError("a non-empty body needs a Content-Type (RFC 3261 §20.15)")
        for_proxies = [field for field in headers if _key(field[0]) in _PROXY_HEADERS]
        fields: list[tuple[str, Any]] = [
            ("Via", via),
            ("Max-Forwards", max_forwards),
            *for_proxies,
            ("To", to),
            ("From", from_),
            ("Call-ID", call_id),
            ("CSeq", f"{cseq} {method}"),
        ]
        if contact is not None:
            fields.append(("Contact", contact))
        fields.extend(field for field in headers if _key(field[0]) not in _PROXY_HEADERS)
        if content_type is not None:
            fields.append(("Content-Type", content_type))
        fields.append(("Content-Length", len(body)))
        return cls(method, uri, Headers(fields), body)

    def _start_line(self) -> str:
        return f"{self.method} {self.uri} {SIP_VERSION}"

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.6.2
    ##% The From field of the response MUST equal the From header field of
    ##% the request.  The Call-ID header field of the response MUST equal the
    ##% Call-ID header field of the request.  The CSeq header field of the
    ##% response MUST equal the CSeq field of the request.  The Via header
    ##% field values in the response MUST equal the Via header field values
    ##% in the request and MUST maintain the same ordering.
    def make_response(
        self, status: int, reason: str | None = None, to_tag: str | None = None
    ) -> Response:
        """A response to this request with Via, From, To, Call-ID and CSeq copied.

        The To tag is added when the request's To has none (except for 100): the
        given ``to_tag``, otherwise one generated once per request so that every
        response to it carries the same tag.
        """
        fields: list[Field] = []
        for field in self.headers._fields:
            key = field[1]
            if key in ("via", "from", "call-id", "cseq"):
                fields.append(field)
            elif key == "to":
                fields.append(self._response_to(field, status, to_tag))
            ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.6.1
            ##% When a 100 (Trying) response is generated, any Timestamp header field
            ##% present in the request MUST be copied into this 100 (Trying)
            ##% response.
            elif key == "timestamp" and status == 100:
                fields.append(field)
        fields.append(("Content-Length", "content-length", "0", None))
        headers = Headers._from_fields(fields, {})._reindexed()
        # The Via rows are the request's own (copied above, §8.2.6.2), so their typed
        # values are too: whoever routes the response (§18.2.2) reads them unparsed.
        vias = self.headers._typed.get("via")
        if vias is not None:
            headers._typed["via"] = vias
        return Response(status, reason, headers)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.6.2
    ##% However, if the To
    ##% header field in the request did not contain a tag, the URI in the To
    ##% header field in the response MUST equal the URI in the To header
    ##% field; additionally, the UAS MUST add a tag to the To header field in
    ##% the response (with the exception of the 100 (Trying) response, in
    ##% which a tag MAY be present).
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.6.2
    ##% The
    ##% same tag MUST be used for all responses to that request, both final
    ##% and provisional (again excepting the 100 (Trying)).
    def _response_to(self, field: Field, status: int, to_tag: str | None) -> Field:
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.6.2
        ##% If a request contained a To tag in the request, the To header field
        ##% in the response MUST equal that of the request.
        if self.to.tag is not None:
            return field

        if status == 100 and to_tag is None:
            return field
        if to_tag is None:
            if self._to_tag is None:
                # §19.3: globally unique, cryptographically random, >= 32 bits.
                self._to_tag = secrets.token_hex(8)
            to_tag = self._to_tag
        return (field[0], "to", f"{field[2]};tag={to_tag}", None)

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.uri}>"


class Response(Message):
    """A SIP response: Status-Line, header fields and body (§7.2)."""

    __slots__ = ("reason", "status")

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-7.2
    ##% While this specification suggests specific wording for the reason
    ##% phrase, implementations MAY choose other text, for example, in the
    ##% language indicated in the Accept-Language header field of the
    ##% request.
    def __init__(
        self,
        status: int,
        reason: str | None = None,
        headers: Headers | Iterable[tuple[str, Any]] | None = None,
        body: bytes = b"",
    ):
        if not isinstance(status, int) or not 100 <= status <= 699:
            raise ValueError(f"status code {status!r} is not in 100-699 (RFC 3261 §7.2)")
        super().__init__(headers, body)
        self.status = status
        self.reason = reason_phrase(status) if reason is None else reason

    def _start_line(self) -> str:
        return f"{SIP_VERSION} {self.status} {self.reason}"

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.reason}>"


# -- parsing -------------------------------------------------------------------------


def parse(data: bytes) -> Request | Response:
    """Parse one SIP message from the bytes of a datagram (or of a framed stream message).

    Raises ParseError naming the defect.  Octets after the body that Content-Length
    announces are ignored; without Content-Length the body is the rest (§18.3).
    """
    try:
        return _parse(data)
    except ParseError:
        raise
    except ValueError as exc:
        raise _stray(exc, None) from exc


def _stray(exc: ValueError, header: str | None) -> ParseError:
    # A value parser failed with a plain ValueError (e.g. int() of a 5000-digit
    # port): still a malformed message, reported as such.
    return ParseError(f"malformed value ({str(exc)[:60]})", "25", header)


def _parse(data: bytes) -> Request | Response:
    if not isinstance(data, bytes):
        data = bytes(data)
    defects: list[str] | None = None
    end = data.find(b"\r\n\r\n")
    if end >= 0:
        head_bytes = data[:end]
        body_start = end + 4
    elif data.endswith(b"\r\n") and b"\r\n" in data[:-2]:
        # Tolerated: the header section ends with the datagram but the empty line
        # is missing (RFC 5118 §4.10 messages as archived, RFC 4475 baddn.dat).
        head_bytes = data[:-2]
        body_start = len(data)
        defects = ["no empty line after the header fields (RFC 3261 §7)"]
    else:
        raise ParseError("no empty line (CRLF CRLF) ends the header fields", "7")

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-7
    ##% SIP is a text-based protocol and uses the UTF-8 charset (RFC 2279
    ##% [7]).
    try:
        head = head_bytes.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError(
            f"the header section is not UTF-8 (byte {exc.start}: {head_bytes[exc.start]:#04x})",
            "7",
        ) from None

    lines = head.split("\r\n")
    # One pass over the bytes: deleting every control character but HTAB must remove
    # exactly the CR LF pairs that end the lines.  Otherwise find the culprit: a bare
    # CR or LF, or a control character outside a quoted string.
    if len(head_bytes) - len(head_bytes.translate(None, _CONTROL_BYTES)) != 2 * len(lines) - 2:
        _check_controls(lines)

    start = lines[0]
    message: Request | Response
    if start[:4].upper() == "SIP/":
        message = _parse_status_line(start)
        method = None
    else:
        message = _parse_request_line(start)
        method = message.method

    parsed = _fields(lines)
    fields, index = parsed if parsed is not None else _folded_fields(lines)
    headers = message.headers = Headers._from_fields(fields, index)
    _check_headers(headers, method)
    message.body = _body(data, body_start, headers)
    if defects is not None:
        message.defects.extend(defects)
    return message


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.1
##% Header fields follow the same generic header format as that given in
##% Section 2.2 of RFC 2822 [3].  Each header field consists of a field
##% name followed by a colon (":") and the field value.
# The usual spellings of header field names (keys of rfc3261.headers._SPELLINGS, a
# bounded set), each kept once: a field's name is this string, not a fresh slice of
# its line, so that messages held by transactions do not each carry their own copies.
_SPELLING_OBJECTS: dict[str, str] = {}


def _fields(lines: list[str]) -> tuple[list[Field], dict[str, list[Field]]] | None:
    """Header fields, one per line; None when a line is folded (see _folded_fields)."""
    fields: list[Field] = []
    index: dict[str, list[Field]] = {}
    names = _SPELLINGS
    spellings = _SPELLING_OBJECTS
    for line in islice(lines, 1, None):
        name, colon, value = line.partition(":")
        key = names.get(name)
        if key is not None:
            # One string per usual spelling, shared by every message that uses it.
            name = spellings.setdefault(name, name)
        if key is None or not colon:
            # Not one of the usual spellings: a folded line, a line without a colon, a
            # name with whitespace before the colon, or any other name (checked here).
            if line[:1] in (" ", "\t"):
                return None
            if not colon:
                raise _no_colon(line)
            name, key = _field_name(name, line)
        field = (name, key, value.strip(" \t"), line)
        fields.append(field)
        if key in index:
            index[key].append(field)
        else:
            index[key] = [field]
    return fields, index


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.1
##% Header fields can be extended over multiple lines by preceding each
##% extra line with at least one SP or horizontal tab (HT).  The line
##% break and the whitespace at the beginning of the next line are
##% treated as a single SP character.
##= https://www.rfc-editor.org/rfc/rfc3261#section-25.1
##% A recipient MAY replace any linear white space with a single SP before
##% interpreting the field value or forwarding the message downstream.
# The value is read with each fold as one SP; the raw lines are kept for forwarding.
def _folded_fields(lines: list[str]) -> tuple[list[Field], dict[str, list[Field]]]:
    """Header fields from lines some of which continue the previous field."""
    joined: list[tuple[str, list[str]]] = []  # (first line, continuation lines)
    for position in range(1, len(lines)):
        line = lines[position]
        if line[:1] in (" ", "\t"):
            if not joined:
                raise ParseError("the first header line starts with whitespace", "7.3.1")
            joined[-1][1].append(line)
        else:
            joined.append((line, []))
    fields: list[Field] = []
    index: dict[str, list[Field]] = {}
    for first, continuations in joined:
        written, colon, value = first.partition(":")
        if not colon:
            raise _no_colon(first)
        key = _SPELLINGS.get(written)
        name, key = (written, key) if key is not None else _field_name(written, first)
        raw = first
        if continuations:
            value = " ".join([value.strip(" \t")] + [c.strip(" \t") for c in continuations])
            raw = "\r\n".join([first, *continuations])
        field = (name, key, value.strip(" \t"), raw)
        fields.append(field)
        index.setdefault(key, []).append(field)
    return fields, index


def _no_colon(line: str) -> ParseError:
    shown = line if len(line) <= 60 else line[:57] + "..."
    return ParseError(f"header line without a colon: {shown!r}", "7.3.1")


def _check_controls(lines: list[str]) -> None:
    """Reject a bare CR or LF, and control characters outside quoted strings (§25.1)."""
    for number, line in enumerate(lines):
        if "\r" in line or "\n" in line:
            where = "the start line" if number == 0 else f"header line {number}"
            raise ParseError(f"bare CR or LF in {where}; lines end with CRLF", "7")
        outside = line if number == 0 else _outside_quoted_strings(line)
        found = _CONTROL.search(outside)
        if found is not None:
            where = "the start line" if number == 0 else f"header line {number}"
            raise ParseError(
                f"control character {ord(found.group()):#04x} in {where} outside a quoted string",
                "25.1",
            )


def _outside_quoted_strings(line: str) -> str:
    """The text of ``line`` outside its quoted strings, in linear time."""
    outside: list[str] = []
    position = 0
    while (quote := line.find('"', position)) >= 0:
        outside.append(line[position:quote])
        scan = quote + 1
        while True:
            found = _QUOTE_OR_BACKSLASH.search(line, scan)
            if found is None:
                # Unterminated: the rest counts as outside (its parser reports it).
                outside.append(line[quote:])
                return "".join(outside)
            if found.group() == "\\":
                scan = found.end() + 1  # quoted-pair: skip the escaped character
                continue
            position = found.end()
            break
    outside.append(line[position:])
    return "".join(outside)


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.1
##% A Request-Line contains a method name, a Request-URI, and the
##% protocol version separated by a single space (SP) character.
##= https://www.rfc-editor.org/rfc/rfc3261#section-7.1
##% The Request-Line ends with CRLF.  No CR or LF are allowed except in
##% the end-of-line CRLF sequence.  No linear whitespace (LWS) is allowed
##% in any of the elements.
def _parse_request_line(line: str) -> Request:
    parts = line.split(" ")
    if len(parts) != 3:
        raise _request_line_error(line, parts)
    method, uri_text, version = parts
    if method not in _COMMON_METHODS and _TOKEN.fullmatch(method) is None:
        raise ParseError(f"Request-Line: method {method!r} is not a token", "7.1")
    if version != SIP_VERSION:
        _check_version(version, "Request-Line")
    request = Request.__new__(Request)
    request.method = method
    request.defects = []
    request._to_tag = None
    match = _SIP_URI_RE.fullmatch(uri_text)
    if match is not None and match.group(5, 6, 7) == _NO_EXTRAS:
        # Fast path: a SIP URI without port, parameters or headers (the usual
        # "sip:bob@example.com") is valid once it matches the grammar; it is built into
        # a SipURI when first read.  Anything else goes through _parse_request_uri.
        request._uri = None
        request._uri_match = match
    else:
        request.uri = _parse_request_uri(uri_text)
    return request


# The groups of _SIP_URI_RE by position: scheme, user, password, host, port, uri_params,
# uri_headers.  No port, parameters or headers: (None, "", None) in groups 5 to 7.
_NO_EXTRAS = (None, "", None)
assert _SIP_URI_RE.groups == 7 and list(_SIP_URI_RE.groupindex.values()) == [1, 2, 3, 4, 5, 6, 7]
assert list(_SIP_URI_RE.groupindex)[4:] == ["port", "uri_params", "uri_headers"]


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.1
##% The Request-URI MUST NOT contain unescaped spaces or control
##% characters and MUST NOT be enclosed in "<>".
##= https://www.rfc-editor.org/rfc/rfc3261#section-7.1
##% SIP elements MAY support Request-URIs with schemes other than "sip"
##% and "sips", for example the "tel" URI scheme of RFC 2806 [9].
def _parse_request_uri(text: str) -> SipURI | AbsoluteURI:
    if text.startswith("<"):
        raise ParseError("Request-URI MUST NOT be enclosed in angle brackets", "7.1")
    if "\t" in text:
        raise ParseError("Request-URI contains a tab", "7.1")
    try:
        uri = parse_uri(text)
    except ParseError as exc:
        raise ParseError(f"Request-URI: {exc.defect}", exc.section or "7.1") from None
    _check_request_uri_headers(uri)
    return uri


##= https://www.rfc-editor.org/rfc/rfc3261#section-19.1.1
##= type=exception
##= reason=RFC 4475 section 3.1.2.11 lets a parser reject such a request with 400
##% Elements processing URIs SHOULD ignore any disallowed components if
##% they are present.
def _check_request_uri_headers(uri: SipURI | AbsoluteURI) -> None:
    # Table 1 of §19.1.1: headers are not allowed in a Request-URI.
    if isinstance(uri, SipURI) and uri.headers:
        raise ParseError("Request-URI contains escaped headers (?hname=hvalue)", "19.1.1")


def _request_line_error(line: str, parts: list[str]) -> ParseError:
    if line.endswith(" "):
        return ParseError("Request-Line: SP after the SIP-Version", "7.1")
    if "" in parts:
        return ParseError("Request-Line: elements separated by more than one SP", "7.1")
    if len(parts) < 3:
        return ParseError("Request-Line: expected Method SP Request-URI SP SIP-Version", "7.1")
    return ParseError("Request-Line: whitespace inside the Request-URI", "7.1")


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.1
##% To be compliant with this specification,
##% applications sending SIP messages MUST include a SIP-Version
##% of "SIP/2.0".  The SIP-Version string is case-insensitive,
##% but implementations MUST send upper-case.
def _check_version(version: str, where: str) -> None:
    if version != SIP_VERSION and version.upper() != SIP_VERSION:
        shown = version if len(version) <= 20 else version[:17] + "..."
        raise ParseError(f"{where}: SIP-Version {shown!r} is not supported (only SIP/2.0)", "7.1")


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.2
##% A Status-Line consists of the protocol version
##% followed by a numeric Status-Code and its associated textual phrase,
##% with each element separated by a single SP character.
##= https://www.rfc-editor.org/rfc/rfc3261#section-7.2
##% The Status-Code is a 3-digit integer result code that indicates the
##% outcome of an attempt to understand and satisfy a request.
def _parse_status_line(line: str) -> Response:
    parts = line.split(" ", 2)
    version = parts[0]
    if version != SIP_VERSION:
        _check_version(version, "Status-Line")
    if len(parts) < 2:
        raise ParseError("Status-Line: missing Status-Code", "7.2")
    code = parts[1]
    if len(code) != 3 or not code.isascii() or not code.isdigit():
        shown = code if len(code) <= 20 else code[:17] + "..."
        raise ParseError(f"Status-Line: Status-Code {shown!r} is not 3 digits", "7.2")
    status = int(code)
    if status < 100:
        raise ParseError(f"Status-Line: Status-Code {status} is below 100", "7.2")
    response = Response.__new__(Response)
    response.status = status
    response.defects = []
    if len(parts) == 2:
        response.reason = ""
        response.defects.append(
            "Status-Line: no SP before the empty Reason-Phrase (RFC 3261 §7.2)"
        )
    else:
        response.reason = parts[2]
        if _REASON_PHRASE.fullmatch(parts[2]) is None:
            response.defects.append(
                "Status-Line: Reason-Phrase has characters outside the grammar (RFC 3261 §25.1)"
            )
    return response


##= https://www.rfc-editor.org/rfc/rfc3261#section-20
##% A "mandatory" header field MUST be present in a
##% request, and MUST be understood by the UAS receiving the request.
# Max-Forwards, mandatory in a request too, is not required on receipt: RFC 2543 peers
# omit it (RFC 4475 §3.4.1) and a proxy adds one (§16.6 step 3).  Our own requests
# always carry it (§8.1.1.6).
##= https://www.rfc-editor.org/rfc/rfc3261#section-20
##% A mandatory response header field MUST be present in the
##% response, and the header field MUST be understood by the UAC
##% processing the response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20
##% "Optional" means that an element MAY include the header field in a
##% request or response, and a UA MAY ignore the header field if present
##% in the request or response (The exception to this rule is the Require
##% header field discussed in 20.32).
##= https://www.rfc-editor.org/rfc/rfc3261#section-20
##% If one is placed in a request by mistake, it MUST be ignored by the
##% UAS receiving the request.
# Only these header fields are read here; every other one (optional, or not applicable
# to this kind of message) is parsed on first access, so a malformed one never stops
# the message.
def _check_headers(headers: Headers, method: str | None) -> None:
    """Parse the header fields every transaction needs; ``method`` is None for responses.

    Via, From, To, Call-ID and CSeq must be present (§8.1.1, §8.2.6.2).  A request
    without Max-Forwards is accepted: RFC 2543 requests lack it (RFC 4475 §3.4.1),
    and a proxy adds one (§16.6).
    """
    index = headers._index
    assert index is not None
    typed = headers._typed

    vias = index.get("via")
    if not vias:
        raise ParseError("missing Via header field", "8.1.1.7")
    via_text = vias[0][2]
    if len(vias) == 1 and via_text and "," not in via_text:
        typed["via"] = [Via.parse(via_text)]  # one row, one value: _parse_list's fast path
    else:
        typed["via"] = _parse_list(vias, _VIA)

    typed["from"] = NameAddr.parse(_single_value(index, "from"), "From")
    typed["to"] = NameAddr.parse(_single_value(index, "to"), "To")
    typed["call-id"] = parse_call_id(_single_value(index, "call-id"))
    typed["cseq"] = CSeq.parse(_single_value(index, "cseq"))

    if method is not None:
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.1.5
        ##% The
        ##% method MUST match that of the request.
        cseq_method = typed["cseq"].method
        if cseq_method != method:
            raise ParseError(
                f"CSeq method {cseq_method!r} does not match the request method {method!r}",
                "8.1.1.5",
            )
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.2
        ##% If a header field appears in a message not matching
        ##% its category (such as a request header field in a response), it MUST
        ##% be ignored.
        ##= https://www.rfc-editor.org/rfc/rfc3261#section-20
        ##% and the UAC MUST ignore the header field in the response.
        # Max-Forwards is a request header field: a response's is not checked.
        found = index.get("max-forwards")
        if found:
            if len(found) > 1:
                raise _repeated("max-forwards")
            typed["max-forwards"] = parse_max_forwards(found[0][2])
        else:
            typed["max-forwards"] = None


def _single_value(index: dict[str, list[Field]], key: str) -> str:
    """The value of the one field of a mandatory single-value header."""
    found = index.get(key)
    if found is None or len(found) != 1:
        if not found:
            raise ParseError(f"missing {_display_name(key)} header field", "8.1.1")
        raise _repeated(key)
    return found[0][2]


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.3
##% In the case of message-oriented transports (such as UDP), if the
##% message has a Content-Length header field, the message body is
##% assumed to contain that many bytes.  If there are additional bytes in
##% the transport packet beyond the end of the body, they MUST be
##% discarded.  If the transport packet ends before the end of the
##% message body, this is considered an error.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20.14
##% The size of the message-body does not include the CRLF separating
##% header fields and body.
##= https://www.rfc-editor.org/rfc/rfc3261#section-7.4.2
##% The body length in bytes is provided by the Content-Length header
##% field.
##= https://www.rfc-editor.org/rfc/rfc3261#section-7.4
##% All responses MAY include a body.
##= https://www.rfc-editor.org/rfc/rfc3261#section-7.4
##% Requests, including new requests defined in extensions to this
##% specification, MAY contain message bodies unless otherwise noted.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20
##% t: The header field SHOULD be sent, but clients/servers need to be
##% prepared to receive messages without that header field.
def _body(data: bytes, body_start: int, headers: Headers) -> bytes:
    found = headers._index.get("content-length") if headers._index else None
    if not found:
        headers._typed["content-length"] = None
        return data[body_start:]
    if len(found) > 1:
        raise ParseError(
            "appears more than once; the body length is unknown", "20.14", "Content-Length"
        )
    length = parse_content_length(found[0][2])
    headers._typed["content-length"] = length
    available = len(data) - body_start
    if length > available:
        raise ParseError(
            f"Content-Length {length} is larger than the {available} bytes after the header"
            " fields",
            "18.3",
        )
    if length == available:
        return data[body_start:]
    return data[body_start : body_start + length]


# -- stateless 400 for a request that does not parse ----------------------------------

_TAG_KEY = secrets.token_bytes(16)
# Reason-Phrase characters other than alphanum (§25.1: reserved, mark, SP, HTAB).
_REASON_SAFE = frozenset(";/?:@&=+$,-_.!~*'() \t")


# A stateless error response echoes what the request said, byte for byte, or leaves it
# out: it never re-encodes a byte it cannot echo (a U+FFFD is three bytes on the wire),
# and it stays small enough for one UDP datagram whatever the request held.
_ECHO_FIELD_LIMIT = 1024  # bytes of one copied header field value
_ECHO_LIMIT = 8192  # bytes of all the copied fields together
_SIP_VERSION = re.compile(rb"SIP/[0-9]+\.[0-9]+", re.IGNORECASE)


##= https://www.rfc-editor.org/rfc/rfc3261#section-18.3
##% If the message is a
##% response, it MUST be discarded.  If the message is a request, the
##% element SHOULD generate a 400 (Bad Request) response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-21.4.1
##% The
##% Reason-Phrase SHOULD identify the syntax problem in more detail, for
##% example, "Missing Call-ID header field".
def bad_request_response(data: bytes, error: ParseError) -> Response | None:
    """The error response for a request that ``parse`` rejected, or None.

    None when the bytes are a response, an ACK (never answered, §17), or lack the Via
    and CSeq a client transaction needs to match the response (§17.1.3).  The status
    is 505 when the SIP-Version is another ``SIP/x.y``, 400 otherwise (a request line
    whose method or version is unreadable included: the top Via still routes the
    answer); the Reason-Phrase is the defect, e.g. "Missing Call-ID header field".
    Via, From, To, Call-ID and CSeq rows are copied as written, cut where they stop
    being UTF-8 text or grow too long (never re-encoded), and Via rows beyond what fits
    in a datagram are left out; a To without tag gets a tag derived from the request
    bytes (§8.2.7).
    """
    data = bytes(data)
    end = data.find(b"\r\n\r\n")
    lines = (data if end < 0 else data[:end]).split(b"\r\n")
    start = lines[0].split()
    if len(start) < 3 or start[0].upper().startswith(b"SIP/"):
        return None
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.7
    ##% A stateless UAS MUST ignore ACK requests.
    if start[0] == b"ACK":
        return None

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.7
    ##% A stateless UAS MUST ignore CANCEL requests.
    # (A CANCEL no element could read cancels nothing; its sender gives up at Timer F.)
    if start[0] == b"CANCEL":
        return None

    vias: list[Field] = []
    others: dict[str, Field] = {}  # the first From, To, Call-ID and CSeq
    for line in _lenient_lines(lines[1:]):
        written, colon, raw = line.partition(b":")
        name = _echo(written.strip(b" \t"))
        key = _key(name)
        if not colon or key not in ("via", "from", "to", "call-id", "cseq"):
            continue
        raw = raw.strip(b" \t")
        value = _echo(raw)
        if key in ("from", "to") and len(value) < len(raw) and b"<" in raw:
            # A display name that cannot be echoed is left out, not the address.
            value = _echo(raw[raw.index(b"<") :])
        if not value:
            continue
        if key == "via":
            vias.append((name, key, value, None))
        else:
            others.setdefault(key, (name, key, value, None))
    if not vias or "cseq" not in others:
        return None

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.7
    ##% A stateless UAS MUST ignore ACK requests.
    # (Whatever its request line says: a CSeq of ACK is an ACK.)
    if others["cseq"][2].split()[-1:] == ["ACK"]:
        return None

    # Every Via row in order (§8.2.6.2), as many as fit beside the other fields.
    room = _ECHO_LIMIT - sum(len(field[2].encode()) for field in (vias[0], *others.values()))
    kept = vias[:1]
    for field in vias[1:]:
        room -= len(field[2].encode())
        if room < 0:
            break
        kept.append(field)
    order = ("from", "to", "call-id", "cseq")
    copied = kept + [others[key] for key in order if key in others]
    fields = [_stateless_to(field, data) if field[1] == "to" else field for field in copied]
    fields.append(("Content-Length", "content-length", "0", None))
    version = start[-1]
    if _SIP_VERSION.fullmatch(version) and version.upper() != SIP_VERSION.encode():
        status, reason = 505, "Version Not Supported"
    else:
        status, reason = 400, _reason_from_error(error)
    return Response(status, reason, Headers._from_fields(fields, {})._reindexed())


def _echo(raw: bytes) -> str:
    """What of ``raw`` can be echoed faithfully: its longest prefix of at most
    ``_ECHO_FIELD_LIMIT`` bytes that is UTF-8 without control characters."""
    raw = raw[:_ECHO_FIELD_LIMIT]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        text = raw[: error.start].decode("utf-8")
    cut = next((i for i, c in enumerate(text) if (c < " " and c != "\t") or c == "\x7f"), None)
    return (text if cut is None else text[:cut]).rstrip(" \t")


def _lenient_lines(lines: list[bytes]) -> Iterator[bytes]:
    """Header lines with folding undone, for a message that failed to parse."""
    current: bytes | None = None
    for line in lines:
        if line[:1] in (b" ", b"\t") and current is not None:
            current = current + b" " + line.strip()
            continue
        if current is not None:
            yield current
        current = line
    if current is not None:
        yield current


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.7
##% To header tags MUST be generated for responses in a stateless
##% manner - in a manner that will generate the same tag for the
##% same request consistently.
def _stateless_to(field: Field, data: bytes) -> Field:
    try:
        if _TYPES["to"].parse(field[2]).tag is not None:
            return field
    except ValueError:  # ParseError, or a stray ValueError from a value parser
        return field  # unreadable To: copied as written, no tag can be placed safely
    tag = hmac.new(_TAG_KEY, data, hashlib.sha256).hexdigest()[:16]
    return (field[0], "to", f"{field[2]};tag={tag}", None)


def _reason_from_error(error: ParseError) -> str:
    text = f"{error.header}: {error.defect}" if error.header else error.defect
    text = text[:1].upper() + text[1:]
    out = []
    for char in text[:120]:
        if char.isascii() and (char.isalnum() or char in _REASON_SAFE):
            out.append(char)
        elif not char.isascii() and char.isprintable():
            out.append(char)  # UTF8-NONASCII
        elif char.isascii() and char.isprintable():
            out.append(f"%{ord(char):02X}")  # escaped = "%" HEXDIG HEXDIG
    return "".join(out)
