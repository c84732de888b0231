"""The message/sipfrag media type (RFC 3420): a part of a SIP message as a MIME body.

A sipfrag is an optional start line, some header fields and an optional body (§2)::

    sipfrag = [ start-line ] *message-header [ CRLF [ message-body ] ]

RFC 3515 (REFER) reports the progress of a reference with one: each NOTIFY of the
``refer`` event package carries ``SIP/2.0 100 Trying``, ``SIP/2.0 200 OK``... as
``message/sipfrag``.  :class:`SipFrag` parses and renders one; a fragment whose start
line, a header field or its body framing is broken raises
:class:`~rfc3261.errors.ParseError` naming the defect, and so does one over
:data:`MAX_SIZE` bytes (a NOTIFY body is read in full, so its size is bounded).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rfc3261 import abnf
from rfc3261.errors import ParseError
from rfc3261.message import Headers
from rfc3261.status import REASON_PHRASES

__all__ = ["CONTENT_TYPE", "MAX_SIZE", "SipFrag", "status_fragment"]

#: The media type (§5), as a Content-Type value.
CONTENT_TYPE = "message/sipfrag"
#: The largest fragment accepted, in bytes: a status report is one line, a whole
#: response a few kilobytes; anything larger is refused rather than kept.
MAX_SIZE = 16384

_SECTION = "RFC 3420 §2"
_STATUS_LINE = re.compile(r"SIP/2\.0 ([1-6][0-9][0-9]) ([^\r\n]*)")
_REQUEST_LINE = re.compile(rf"({abnf.token}) (\S+) SIP/2\.0")
_HEADER = re.compile(rf"({abnf.token})[ \t]*:[ \t]*(.*)")


@dataclass(frozen=True)
class SipFrag:
    """A parsed message/sipfrag: a Status-Line or Request-Line (or none), fields, body."""

    #: The status code of a Status-Line (None: a request line, or no start line).
    status: int | None = None
    reason: str = ""
    #: The method and Request-URI of a Request-Line (None: no request line).
    method: str | None = None
    uri: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    # -- parsing (§2) ---------------------------------------------------------------

    @classmethod
    def parse(cls, data: bytes) -> SipFrag:
        """Read a fragment; ParseError on a broken start line, header field or body."""
        if len(data) > MAX_SIZE:
            raise ParseError(f"{len(data)} bytes, more than {MAX_SIZE}", _SECTION)
        head, separator, body = data.partition(b"\r\n\r\n")
        if not separator:
            # No null line: no body.  A final CRLF (or a bare LF ending) is tolerated.
            head, body = data.rstrip(b"\r\n"), b""
        try:
            text = head.decode("utf-8")
        except UnicodeDecodeError:
            raise ParseError("the start line or header fields are not UTF-8", _SECTION) from None
        lines = _unfold(text.split("\r\n")) if text else []
        status: int | None = None
        reason, method, uri = "", None, None
        ##= https://www.rfc-editor.org/rfc/rfc3420#section-3.2
        ##% The start line, if present, must be complete and valid per [1].
        if lines and (lines[0].startswith("SIP/") or _HEADER.fullmatch(lines[0]) is None):
            first = lines.pop(0)
            match = _STATUS_LINE.fullmatch(first)
            request = _REQUEST_LINE.fullmatch(first)
            if match is not None:
                status, reason = int(match[1]), match[2]
            elif request is not None and not first.startswith("SIP/"):
                method, uri = request[1], request[2]
            else:
                raise ParseError(f"{first[:60]!r} is not a Status-Line or Request-Line", _SECTION)
        fields: list[tuple[str, str]] = []
        for line in lines:
            match = _HEADER.fullmatch(line)
            if match is None:
                raise ParseError(f"{line[:60]!r} is not a header field", _SECTION)
            fields.append((match[1], match[2].strip()))
        ##= https://www.rfc-editor.org/rfc/rfc3420#section-3.2
        ##% All header fields must be valid per [1].
        parsed = Headers(fields)
        for name, _ in fields:
            parsed.typed(name)  # ParseError for a malformed field the message layer knows
        ##= https://www.rfc-editor.org/rfc/rfc3420#section-2
        ##% If the message/sipfrag part contains a body, it MUST also contain the
        ##% appropriate header fields describing that body (such as Content-
        ##% Length) as required by Section 7.4 of [1] and the null-line
        ##% separating the header from the body.
        if body:
            length = parsed.get("Content-Length")
            if length is None or parsed.get("Content-Type") is None:
                raise ParseError("a body without Content-Type and Content-Length", _SECTION)
            if int(length) != len(body):
                raise ParseError(
                    f"Content-Length {length} but a body of {len(body)} bytes", _SECTION
                )
        return cls(status, reason, method, uri, tuple(fields), body)

    # -- rendering --------------------------------------------------------------------

    def __bytes__(self) -> bytes:
        lines: list[str] = []
        if self.status is not None:
            lines.append(f"SIP/2.0 {self.status} {self.reason}")
        elif self.method is not None:
            lines.append(f"{self.method} {self.uri} SIP/2.0")
        fields = [(n, v) for n, v in self.headers if n.lower() != "content-length"]
        ##= https://www.rfc-editor.org/rfc/rfc3420#section-2
        ##% If the message/sipfrag part contains a body, it MUST also contain the
        ##% appropriate header fields describing that body (such as Content-
        ##% Length) as required by Section 7.4 of [1] and the null-line
        ##% separating the header from the body.
        if self.body:
            fields.append(("Content-Length", str(len(self.body))))
        lines.extend(f"{name}: {value}" for name, value in fields)
        text = "\r\n".join(lines) + "\r\n"
        if self.body:
            return text.encode() + b"\r\n" + self.body
        return text.encode()

    def __str__(self) -> str:
        """The start line (what a terminal shows of a REFER's progress)."""
        return bytes(self).split(b"\r\n", 1)[0].decode()

    def header(self, name: str) -> str | None:
        """The first value of header field ``name`` (case-insensitive), or None."""
        return next((v for n, v in self.headers if n.lower() == name.lower()), None)


def status_fragment(status: int, reason: str | None = None) -> SipFrag:
    """A fragment of just a Status-Line: what a REFER's NOTIFY reports (RFC 3515 §2.4.5)."""
    if not 100 <= status <= 699:
        raise ValueError(f"{status} is not a SIP status code (RFC 3261 §7.2)")
    return SipFrag(status, reason if reason is not None else REASON_PHRASES.get(status, ""))


def _unfold(lines: list[str]) -> list[str]:
    """Join continuation lines (leading whitespace) to the line before (RFC 3261 §7.3.1)."""
    out: list[str] = []
    for line in lines:
        if line[:1] in (" ", "\t") and out:
            out[-1] += " " + line.strip()
        elif line:
            out.append(line)
        else:
            raise ParseError("an empty line inside the header fields", _SECTION)
    return out
