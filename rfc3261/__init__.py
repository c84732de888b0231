"""sipref: an annotated reference implementation of SIP (RFC 3261).

The message layer (§7, §18.3, §20, §25) is re-exported here: ``parse`` reads a
message from bytes, ``bytes(message)`` writes it, ``StreamFramer`` splits a TCP/TLS
byte stream into messages. ``register_header`` teaches the message layer a header field
an extension defines (name, compact form, typed value, list or not).
"""

from rfc3261.errors import FramingError, ParseError
from rfc3261.framing import PING, PONG, KeepAlive, StreamFramer
from rfc3261.headers import Contact, CSeq, NameAddr, Via, register_header, unregister_header
from rfc3261.message import Headers, Message, Request, Response, bad_request_response, parse
from rfc3261.status import reason_phrase
from rfc3261.uri import AbsoluteURI, SipURI, parse_uri, uri_equal

__all__ = [
    "PING",
    "PONG",
    "AbsoluteURI",
    "CSeq",
    "Contact",
    "FramingError",
    "Headers",
    "KeepAlive",
    "Message",
    "NameAddr",
    "ParseError",
    "Request",
    "Response",
    "SipURI",
    "StreamFramer",
    "Via",
    "bad_request_response",
    "parse",
    "parse_uri",
    "reason_phrase",
    "register_header",
    "unregister_header",
    "uri_equal",
]
