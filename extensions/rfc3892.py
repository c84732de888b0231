"""The Referred-By mechanism (RFC 3892): who asked for a referenced request.

A referrer may name itself in a Referred-By header field of its REFER (§2.1); the
referee copies the field unchanged into the request it sends to the refer target
(§2.2), which may show it to its user -- as suspect, since without a Referred-By
token (an S/MIME-signed sipfrag, §4) nothing vouches for it (§2.3).

sipref does no S/MIME (RFC 3261 §23 is excepted for want of a CMS library), so this
module carries the header field only: no tokens are made or checked and no 429 is
sent (``rfc3892.annotations.toml`` says so per requirement).  The transfer itself is
RFC 3515's (:mod:`extensions.rfc3515`), which uses :func:`copy_referred_by`.
"""

from __future__ import annotations

from dataclasses import dataclass

from rfc3261.errors import ParseError
from rfc3261.headers import NameAddr, register_header, unquote
from rfc3261.message import Request

__all__ = ["ReferredBy", "copy_referred_by", "describe_referrer", "register_headers"]

_SECTION = "RFC 3892 §3"


@dataclass(frozen=True)
class ReferredBy:
    """A Referred-By value: the referrer's URI (a name-addr) and its ``cid``, if any."""

    referrer: NameAddr

    @classmethod
    def parse(cls, value: str) -> ReferredBy:
        ##= https://www.rfc-editor.org/rfc/rfc3892#section-3
        ##% If the referrer-uri contains a comma, question mark, or semicolon, (for
        ##% example, if it contains URI parameters) the URI MUST be enclosed in angle
        ##% brackets (< and >).
        # (NameAddr reads the parameters of a bare addr-spec as header parameters,
        # RFC 3261 §20.10: a URI with parameters is only ever read between brackets.)
        try:
            referrer = NameAddr.parse(value.strip())
        except ValueError as error:
            raise ParseError(f"{value!r} is not a referrer-uri ({error})", _SECTION) from None
        return cls(referrer)

    @property
    def cid(self) -> str | None:
        """The Content-ID of the Referred-By token (§3), when the field names one."""
        value = self.referrer.params.get("cid")
        return None if value is None else unquote(str(value))

    def __str__(self) -> str:
        return str(self.referrer)


def register_headers() -> None:
    """Referred-By, compact form ``b`` (§3)."""
    register_header("Referred-By", ReferredBy.parse, rfc=3892, section="3", compact="b")


##= https://www.rfc-editor.org/rfc/rfc3892#section-2.2
##% A UA accepting a REFER request (a referee) to a SIP URI (using either
##% the sip: or sips: scheme) MUST copy any Referred-By header field value
##% and token into the referenced request without modification.
def copy_referred_by(refer: Request, referenced: Request) -> None:
    """Copy the REFER's Referred-By, as written, into the request it led to."""
    value = refer.headers.get("Referred-By")
    if value is not None:
        referenced.headers.set("Referred-By", value)


##= https://www.rfc-editor.org/rfc/rfc3892#section-2.3
##% A UA receiving a non-REFER SIP request MAY inspect the request for a
##% Referred-By header field and token.
##= https://www.rfc-editor.org/rfc/rfc3892#section-2.3
##% If no Referred-By token is present, the refer target MAY proceed with
##% processing the request.
##= https://www.rfc-editor.org/rfc/rfc3892#section-2.3
##% If the agent provides any information from the Referred-By header to
##% its user as part of processing the request, it MUST notify the user
##% that the information is suspect.
def describe_referrer(request: Request) -> str | None:
    """What to tell a user about a request's Referred-By (None: it has none, or a bad one).

    Always marked unverified: sipref checks no Referred-By token (no S/MIME).
    """
    register_headers()
    try:
        referred_by = request.header("Referred-By")
    except ValueError:
        return None
    if referred_by is None:
        return None
    return f"referred by {referred_by.referrer.uri} (unverified: no valid Referred-By token)"
