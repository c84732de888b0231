"""Framing SIP messages on stream transports: TCP, TLS (RFC 3261 §7.5, §18.3, §20.14).

A stream carries messages back to back; the end of each is found from the empty line
that ends its header fields and from its Content-Length, which is therefore required.
Between messages a peer may send CRLF keep-alives (RFC 5626 §3.5.1, §4.4.1): a
double CRLF is a "ping" to be answered with a single CRLF "pong".

``StreamFramer`` is sans-I/O: the transport feeds it the bytes it receives and gets
back each complete message's bytes (to hand to ``rfc3261.message.parse``) and each
keep-alive.  Memory stays bounded whatever arrives: the framer never holds more than
``max_header_bytes`` of an unfinished header section nor more than ``max_body_bytes``
of a body, and it stops (FramingError) at the first violation.  A framing error is not
recoverable; the transport closes the connection (RFC 4475 §3.1.2.3, §3.3.9).
"""

from __future__ import annotations

from dataclasses import dataclass

from rfc3261.errors import FramingError

__all__ = ["PING", "PONG", "KeepAlive", "StreamFramer"]

DEFAULT_MAX_HEADER_BYTES = 64 * 1024
DEFAULT_MAX_BODY_BYTES = 1024 * 1024

_CRLF = b"\r\n"
_CRLFCRLF = b"\r\n\r\n"


@dataclass(frozen=True, slots=True)
class KeepAlive:
    """A CRLF keep-alive seen between messages: ``kind`` is "ping" or "pong"."""

    kind: str

    @property
    def is_ping(self) -> bool:
        """A ping (double CRLF) must be answered with a pong (one CRLF)."""
        return self.kind == "ping"


##= https://www.rfc-editor.org/rfc/rfc5626#section-4.4.1
##% For this mechanism, the client "ping" is a double-CRLF sequence, and
##% the server "pong" is a single CRLF, as defined in the ABNF below:
PING = KeepAlive("ping")
PONG = KeepAlive("pong")


class StreamFramer:
    """Split a received byte stream into SIP messages and CRLF keep-alives.

    ``feed(data)`` returns, in order, the raw bytes of each complete message and a
    ``PING``/``PONG`` for each keep-alive.  It raises FramingError when a header
    section exceeds ``max_header_bytes``, a Content-Length exceeds ``max_body_bytes``,
    or a message has no usable Content-Length; after that every call raises again.
    """

    __slots__ = (
        "_body_length",
        "_buffer",
        "_error",
        "_head_length",
        "_lone_crlf",
        "_scanned",
        "client",
        "max_body_bytes",
        "max_header_bytes",
    )

    def __init__(
        self,
        max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        *,
        client: bool = False,
    ):
        """``client``: the stream is a connection we opened, whose server only ever sends
        pongs (RFC 5626 §3.5.1): two CRLFs in a row are two pongs, never a split ping."""
        if max_header_bytes < 16 or max_body_bytes < 0:
            raise ValueError("max_header_bytes must be >= 16 and max_body_bytes >= 0")
        self.max_header_bytes = max_header_bytes
        self.max_body_bytes = max_body_bytes
        self._buffer = bytearray()
        self._scanned = 0  # how far the buffer was searched for CRLF CRLF
        self._head_length: int | None = None  # header section + CRLF CRLF, once found
        self._body_length = 0
        self._lone_crlf = False  # the last thing reported was a PONG ending the buffer
        self.client = client
        self._error: FramingError | None = None

    @property
    def buffered(self) -> int:
        """How many received bytes wait for the rest of their message."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes | KeepAlive]:
        """Take received bytes; return the messages and keep-alives they complete."""
        if self._error is not None:
            raise self._error
        events: list[bytes | KeepAlive] = []
        view = memoryview(data)
        try:
            while True:
                # Buffer no more than the current phase may need, so that memory stays
                # bounded however much arrives at once.
                if self._head_length is None:
                    room = self.max_header_bytes + len(_CRLFCRLF) - len(self._buffer)
                else:
                    room = self._head_length + self._body_length - len(self._buffer)
                taken = view[: max(room, 0)]
                self._buffer += taken
                view = view[len(taken) :]
                self._frame(events)
                if not view:
                    break
                if not taken and self._head_length is None and len(self._buffer) >= room:
                    # Nothing could be taken and nothing was framed: cannot happen, as
                    # a full buffer without an empty line raises in _frame.
                    raise FramingError("framer made no progress", "18.3")
        except FramingError as error:
            self._error = error
            self._buffer = bytearray()
            raise
        return events

    # -- internals

    def _frame(self, events: list[bytes | KeepAlive]) -> None:
        """Report every complete message and keep-alive at the front of the buffer."""
        buffer = self._buffer
        while True:
            if self._head_length is None:
                if not self._keepalives(events):
                    return
                end = buffer.find(_CRLFCRLF, max(0, self._scanned - 3))
                if end < 0:
                    self._scanned = len(buffer)
                    if len(buffer) > self.max_header_bytes:
                        raise FramingError(
                            f"header section longer than max_header_bytes"
                            f" ({self.max_header_bytes} bytes) without an empty line",
                            "18.3",
                        )
                    return
                if end > self.max_header_bytes:
                    raise FramingError(
                        f"header section longer than max_header_bytes ({self.max_header_bytes}"
                        " bytes)",
                        "18.3",
                    )
                self._head_length = end + len(_CRLFCRLF)
                self._body_length = self._content_length(bytes(buffer[:end]))
            total = self._head_length + self._body_length
            if len(buffer) < total:
                return
            events.append(bytes(buffer[:total]))
            del buffer[:total]
            self._head_length = None
            self._scanned = 0

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-7.5
    ##% Implementations processing SIP messages over stream-oriented
    ##% transports MUST ignore any CRLF appearing before the start-line
    ##% [H4.1].
    ##= https://www.rfc-editor.org/rfc/rfc5626#section-3.5.1
    ##% The client periodically sends a double-CRLF
    ##% (the "ping") then waits to receive a single CRLF (the "pong").
    def _keepalives(self, events: list[bytes | KeepAlive]) -> bool:
        """Consume CRLFs before a start-line; False when the buffer holds nothing else.

        A double CRLF is a PING and a single CRLF a PONG.  A CRLF that ends the buffer
        is reported as a PONG at once (a client waits for it); if the next bytes
        begin with CRLF, the two together were a ping, reported then as a PING.
        """
        buffer = self._buffer
        while buffer[:2] == _CRLF:
            # (On a client's connection the server pongs each ping: a lone CRLF after a
            # pong is the next pong, not the second half of a ping.)
            if self._lone_crlf and not self.client:
                events.append(PING)  # completes the CRLF reported as a PONG before
                del buffer[:2]
                self._lone_crlf = False
            elif buffer[:4] == _CRLFCRLF:
                events.append(PING)
                del buffer[:4]
            elif len(buffer) == 2:
                events.append(PONG)
                del buffer[:2]
                self._lone_crlf = True
                return False
            elif len(buffer) == 3:
                return False  # CR LF CR: wait for the byte that may complete a ping
            else:
                events.append(PONG)
                del buffer[:2]
        if buffer[:1] == b"\r" and len(buffer) == 1:
            return False  # maybe the first half of a CRLF: wait for the next byte
        if buffer:
            self._lone_crlf = False
        return bool(buffer)

    ##= https://www.rfc-editor.org/rfc/rfc3261#section-18.3
    ##% In the case of stream-oriented transports such as TCP, the Content-
    ##% Length header field indicates the size of the body.  The Content-
    ##% Length header field MUST be used with stream oriented transports.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-20.14
    ##% If a stream-based protocol (such as TCP) is used as
    ##% transport, the header field MUST be used.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-20
    ##% If a stream-based protocol (such as TCP) is used as a transport, then
    ##% the header field MUST be sent.
    ##= https://www.rfc-editor.org/rfc/rfc3261#section-7.4.2
    ##% The "chunked" transfer encoding of HTTP/1.1 MUST NOT be used for SIP.
    # The body is the Content-Length octets that follow the header section; a
    # Transfer-Encoding header field is neither needed nor interpreted.
    def _content_length(self, head: bytes) -> int:
        """The Content-Length of a header section (bytes), validated for framing."""
        found: list[bytes] = []
        lines = head.split(_CRLF)
        for number in range(1, len(lines)):
            name, colon, value = lines[number].partition(b":")
            if not colon or name[:1] in (b" ", b"\t"):
                continue
            name = name.rstrip(b" \t").lower()
            if name == b"content-length" or name == b"l":
                # Folding: the value may continue on the following lines.
                more = number + 1
                while more < len(lines) and lines[more][:1] in (b" ", b"\t"):
                    value += b" " + lines[more]
                    more += 1
                found.append(value.strip(b" \t"))
        if not found:
            raise FramingError("message without Content-Length on a stream transport", "18.3")
        if len(found) > 1:
            ##= https://www.rfc-editor.org/rfc/rfc3261#section-7.3.1
            ##% Multiple header field rows with the same field-name MAY be present in
            ##% a message if and only if the entire field-value for that header field
            ##% is defined as a comma-separated list (that is, if follows the grammar
            ##% defined in Section 7.3).
            raise FramingError("Content-Length appears more than once", "20.14")
        value = found[0]
        if not value.isdigit() or len(value) > 12:
            shown = value[:20].decode("ascii", "replace")
            raise FramingError(f"Content-Length {shown!r} is not a decimal number", "20.14")
        length = int(value)
        if length > self.max_body_bytes:
            raise FramingError(
                f"Content-Length {length} exceeds max_body_bytes ({self.max_body_bytes} bytes)",
                "18.3",
            )
        return length
