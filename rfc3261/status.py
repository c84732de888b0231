"""Response codes and their reason phrases (RFC 3261 §21, §7.2, §8.1.3.2).

``REASON_PHRASES`` holds every code RFC 3261 §21 defines, with the phrase of its
section title. Extensions add theirs with ``register_status`` (e.g. 199 from RFC 6228,
422 from RFC 4028); a code nobody registered gets the phrase of the code §8.1.3.2
treats it as (``reason_phrase(431) == "Bad Request"``, ``reason_phrase(199) ==
"Session Progress"``).
"""

from __future__ import annotations

__all__ = [
    "CLASS_NAMES",
    "REASON_PHRASES",
    "reason_phrase",
    "register_status",
    "status_class",
]

##= https://www.rfc-editor.org/rfc/rfc3261#section-21
##= type=implication
##% The response codes are consistent with, and extend, HTTP/1.1 response
##% codes.
REASON_PHRASES: dict[int, str] = {
    # §21.1 Provisional 1xx
    100: "Trying",
    180: "Ringing",
    181: "Call Is Being Forwarded",
    182: "Queued",
    183: "Session Progress",
    # §21.2 Successful 2xx
    200: "OK",
    # §21.3 Redirection 3xx
    300: "Multiple Choices",
    301: "Moved Permanently",
    302: "Moved Temporarily",
    305: "Use Proxy",
    380: "Alternative Service",
    # §21.4 Request Failure 4xx
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    410: "Gone",
    413: "Request Entity Too Large",
    414: "Request-URI Too Long",
    415: "Unsupported Media Type",
    416: "Unsupported URI Scheme",
    420: "Bad Extension",
    421: "Extension Required",
    423: "Interval Too Brief",
    480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist",
    482: "Loop Detected",
    483: "Too Many Hops",
    484: "Address Incomplete",
    485: "Ambiguous",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    491: "Request Pending",
    493: "Undecipherable",
    # §21.5 Server Failure 5xx
    500: "Server Internal Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Server Time-out",
    505: "Version Not Supported",
    513: "Message Too Large",
    # §21.6 Global Failures 6xx
    600: "Busy Everywhere",
    603: "Decline",
    604: "Does Not Exist Anywhere",
    606: "Not Acceptable",
}

# The codes of RFC 3261 itself, before any extension registered more.
RFC3261_CODES: frozenset[int] = frozenset(REASON_PHRASES)

##= https://www.rfc-editor.org/rfc/rfc3261#section-7.2
##% SIP/2.0 allows
##% six values for the first digit:
CLASS_NAMES: dict[int, str] = {
    1: "Provisional",
    2: "Success",
    3: "Redirection",
    4: "Client Error",
    5: "Server Error",
    6: "Global Failure",
}


##= https://www.rfc-editor.org/rfc/rfc3261#section-7.2
##% The first digit of the Status-Code defines the class of response.
##% The last two digits do not have any categorization role.
def status_class(code: int) -> int:
    """The class of a status code: its first digit (1..6). ValueError outside 100..699."""
    if not 100 <= code <= 699:
        raise ValueError(f"status code {code} is not in 100..699 (RFC 3261 §7.2)")
    return code // 100


##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.2
##= type=implication
##% A UAC MUST treat any final response it does not recognize as being
##% equivalent to the x00 response code of that class
##= https://www.rfc-editor.org/rfc/rfc3261#section-8.1.3.2
##= type=implication
##% A
##% UAC MUST treat any provisional response different than 100 that it
##% does not recognize as 183 (Session Progress).
def reason_phrase(code: int) -> str:
    """The reason phrase for ``code``.

    An unregistered code gets the phrase of the code a UAC treats it as (§8.1.3.2):
    183 "Session Progress" for 1xx, the class's x00 code for final responses.
    """
    phrase = REASON_PHRASES.get(code)
    if phrase is not None:
        return phrase
    klass = status_class(code)
    return REASON_PHRASES[183 if klass == 1 else klass * 100]


def register_status(code: int, phrase: str) -> None:
    """Add (or replace) the reason phrase of a status code defined by an extension."""
    status_class(code)
    if not phrase or "\r" in phrase or "\n" in phrase:
        raise ValueError(f"reason phrase {phrase!r} must be one non-empty line (RFC 3261 §7.2)")
    REASON_PHRASES[code] = phrase
