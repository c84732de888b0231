"""What an element supports, and the responses that say it does not (RFC 3261 §8.2.1, §8.2.2.3).

Two rules that every UAS, registrar and proxy applies, written once:

- :func:`method_check` -- a request whose method the element does not support gets 405
  (Method Not Allowed) with an Allow header field, or 501 (Not Implemented) when the
  method is unknown altogether (§8.2.1, §21.5.2);
- :func:`require_check` -- a request that requires option tags the element does not
  understand gets 420 (Bad Extension) listing them in Unsupported (§8.2.2.3; a proxy
  applies it to Proxy-Require, §16.3 step 5).

What an element supports is computed by its caller from what is installed (the UA core
from its extensions), so these functions take the sets as arguments.
"""

from __future__ import annotations

from collections.abc import Iterable

from .message import Request, Response

__all__ = ["KNOWN_METHODS", "method_check", "require_check", "unsupported_tags"]

# Methods known to the stack (RFC 3261 and the common extensions): a known method an
# element does not support gets 405, an unknown one 501 (§21.5.2).
KNOWN_METHODS = frozenset(
    {
        "INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "REGISTER", "PRACK", "SUBSCRIBE",
        "NOTIFY", "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE",
    }
)  # fmt: skip


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.1
##% If the UAS recognizes
##% but does not support the method of a request, it MUST generate a 405
##% (Method Not Allowed) response.
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.1
##% The UAS MUST also add an Allow
##% header field to the 405 (Method Not Allowed) response.  The Allow
##% header field MUST list the set of methods supported by the UAS
##% generating the message.
##= https://www.rfc-editor.org/rfc/rfc3261#section-21.4.6
##% The response MUST include an Allow header field containing a list of valid methods
##% for the indicated address.
def method_check(
    request: Request, allow: Iterable[str], known: Iterable[str] = KNOWN_METHODS
) -> Response | None:
    """405 + Allow (or 501 + Allow for an unknown method) when ``allow`` lacks the method."""
    allowed = tuple(allow)
    if request.method in allowed:
        return None
    status = 405 if request.method in set(known) | set(allowed) else 501
    response = request.make_response(status)
    response.headers.add("Allow", ", ".join(allowed))
    return response


def unsupported_tags(request: Request, header: str, supported: Iterable[str]) -> list[str]:
    """The option tags of ``header`` (Require or Proxy-Require) not in ``supported``."""
    known = {tag.lower() for tag in supported}
    return [tag for tag in request.header(header) or [] if tag.lower() not in known]


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.2.2.3
##% If a UAS does not understand an option-tag listed in a
##% Require header field, it MUST respond by generating a response with
##% status code 420 (Bad Extension).  The UAS MUST add an Unsupported
##% header field, and list in it those options it does not understand
##% amongst those in the Require header field of the request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20.32
##% Although an optional header field, the Require MUST NOT be ignored if
##% it is present.
##= https://www.rfc-editor.org/rfc/rfc3261#section-20.32
##% Each option tag defines a SIP extension that MUST be understood to process the
##% request.
##= https://www.rfc-editor.org/rfc/rfc3261#section-21.4.15
##% The server MUST include a list of the unsupported extensions in an Unsupported header
##% field in the response.
def require_check(
    request: Request, supported: Iterable[str], header: str = "Require"
) -> Response | None:
    """420 + Unsupported when ``header`` lists option tags outside ``supported``."""
    unknown = unsupported_tags(request, header, supported)
    if not unknown:
        return None
    response = request.make_response(420)
    response.headers.add("Unsupported", ", ".join(unknown))
    return response
