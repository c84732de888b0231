"""RFC 3892 (Referred-By) on the wire, the referrer's side: the Referred-By of the REFER a
target sends when it transfers a call ([uac] transfer, `extensions.conformance.rfc3515`'s
`Transferee`).  The referee's side (copying the Referred-By into the referenced request,
§2.2) is judged by ``rfc3515-accepted-refer-notifies``.
"""

from __future__ import annotations

import re

from conformance.model import Context, case
from conformance.sipmsg import Message
from conformance.trigger import RUNNER_ANSWERS, UAC
from extensions.conformance.rfc3515 import Transferee, _values

PREAMBLE = "a call from the target, then its REFER ([uac] transfer)"


def _referred_by(ctx: Context) -> tuple[Message, list[str]]:
    """The REFER (answered: the transfer completes) and its Referred-By values; not
    applicable without one (a MAY of §2.1)."""
    side = Transferee(ctx)
    refer, addr = side.refer()
    side.finish(refer, addr)
    values = [v for line in refer.get_all("Referred-By") for v in _values(line)]
    if not values:
        ctx.not_applicable("the REFER has no Referred-By (RFC 3892 §2.1: a MAY)")
    return refer, values


##= https://www.rfc-editor.org/rfc/rfc3892#section-2.1
##= type=test
##% A REFER request MUST NOT contain more than one Referred-By header field value.
##= https://www.rfc-editor.org/rfc/rfc3892#section-3
##= type=test
##% If the referrer-uri contains a comma, question mark, or semicolon, (for example, if it
##% contains URI parameters) the URI MUST be enclosed in angle brackets (< and >).
@case("uac-referred-by", roles=UAC, timeout=15, preamble=PREAMBLE, no_control=RUNNER_ANSWERS)
def referred_by(ctx: Context) -> None:
    """One Referred-By value; its URI in <> when it holds a comma, ? or ;."""
    _, values = _referred_by(ctx)
    ctx.check(len(values) == 1, "one Referred-By value", " | ".join(values))
    value = values[0]
    bare = value if "<" not in value else ""
    # without <>, everything after the first ; is a header parameter, so a bare URI with
    # ? or , (or a ; that is a URI parameter) cannot be told apart: it is wrong
    ctx.check(
        not bare or not re.search(r"[,?]", bare.split(";", 1)[0]),
        "the referrer-uri in <> when it holds , ? or ;",
        value,
        requirement=1,
    )


##= https://www.rfc-editor.org/rfc/rfc3892#section-2.1
##= type=test
##% A REFER request containing a Referred-By token MUST contain a Referred-By header field
##% value with a cid parameter value equal to the Content-ID of the body part containing the
##% token.
##= https://www.rfc-editor.org/rfc/rfc3892#section-3
##= type=test
##% The double-quotes surrounding the sip-clean-msg-id MUST be replaced with left and right
##% angle brackets to derive the Content-ID used in the message's MIME body.
##= https://www.rfc-editor.org/rfc/rfc3892#section-4
##= type=test
##% This body part MUST be identified with a MIME [6] Content-ID: field.
##= https://www.rfc-editor.org/rfc/rfc3892#section-4
##= type=test
##% The sipfrag inside a Referred-By token MUST contain copies of the Refer-To, Referred-By,
##% and Date header fields from the REFER request.
##= https://www.rfc-editor.org/rfc/rfc3892#section-4
##= type=test
##% The token SHOULD NOT contain the Call-ID header field from the REFER request as that
##% information is not useful to the refer target and may even be an information leak.
##= https://www.rfc-editor.org/rfc/rfc3892#section-4
##= type=test
##% The token SHOULD NOT contain the From header field from the REFER request since the
##% identity being claimed is represented in the Referred-By header field.
@case("uac-referred-by-token", roles=UAC, timeout=15, preamble=PREAMBLE, no_control=RUNNER_ANSWERS)
def referred_by_token(ctx: Context) -> None:
    """A Referred-By with a cid: the REFER's body has the part with that Content-ID (the
    quotes made <>), whose sipfrag has Refer-To, Referred-By and Date, not Call-ID or
    From.  Not applicable without a token (a MAY of §2.1)."""
    refer, values = _referred_by(ctx)
    found = re.search(r'(?i);\s*cid\s*=\s*"([^"]+)"', values[0])
    if found is None:
        ctx.not_applicable("the Referred-By carries no token (no cid; RFC 3892 §2.1: a MAY)")
    assert found is not None
    cid = found.group(1)
    body = refer.body.decode("utf-8", "replace")
    header = re.search(rf"(?im)^content-id\s*:\s*<{re.escape(cid)}>\s*$", body)
    ctx.check(bool(body), "a body with the token", "no body")
    ctx.check(header is not None, f"a body part with Content-ID: <{cid}>", body[:200], 1)
    ctx.check(header is not None, "the cid's quotes as <> in the Content-ID", body[:200], 2)
    part = body[header.end() :] if header is not None else ""
    fields = {m.group(1).lower() for m in re.finditer(r"(?m)^([A-Za-z-]+)\s*:", part)}
    missing = [n for n in ("refer-to", "referred-by", "date") if n not in fields]
    ctx.check(not missing, "Refer-To, Referred-By and Date in the token", f"missing {missing}", 3)
    ctx.check("call-id" not in fields, "no Call-ID in the token", "a Call-ID", 4, level="SHOULD")
    ctx.check("from" not in fields, "no From in the token", "a From", 5, level="SHOULD")
