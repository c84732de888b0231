"""RFC 3891 on the wire: a UAS that supports Replaces refuses what it cannot match (§3).

The cases apply to a UAS whose profile lists the ``replaces`` option tag (``python -m
rfc3261 ua --extension replaces``); against any other target they are not applicable.
Each sends an INVITE with an offer and a Replaces header field; the control is the same
INVITE without the Replaces, which the target accepts (the call is hung up after).
"""

from __future__ import annotations

from conformance.messages import Outgoing
from conformance.model import Context, case, describe
from conformance.wire import Link

_SDP = (
    b"v=0\r\no=conformance 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
    b"t=0 0\r\nm=audio 49170 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)


def _replaces_supported(ctx: Context) -> None:
    if "replaces" not in {tag.lower() for tag in ctx.profile.extensions}:
        ctx.not_applicable("the profile does not list the 'replaces' option tag (RFC 3891)")


def _invite(ctx: Context, link: Link, *fields: tuple[str, str]) -> Outgoing:
    return ctx.request("INVITE", link, body=_SDP, extra=[("Supported", "replaces"), *fields])


def _refused(ctx: Context, replaces: str) -> int:
    """The control INVITE, then the one with ``replaces``: its final status."""
    _replaces_supported(ctx)
    link = ctx.link()
    # the control: the same INVITE without the Replaces is accepted
    ctx.control(link, _invite(ctx, link))
    invite = _invite(ctx, link, ("Replaces", replaces))
    final, _ = ctx.transaction(link, invite)
    ctx.finish_invite(link, invite, final)
    final = ctx.require_final(final, "final response to the INVITE with Replaces")
    return final.status or 0


##= https://www.rfc-editor.org/rfc/rfc3891#section-3
##= type=test
##% If no match is found, the UAS rejects the INVITE and returns a 481
##% Call/Transaction Does Not Exist response.
@case("rfc3891-replaces-no-dialog-481", roles=("uas",), level="MUST")
def replaces_no_dialog(ctx: Context) -> None:
    """An INVITE whose Replaces names a dialog the target never had: 481."""
    status = _refused(ctx, "no-such-call@conformance.invalid;to-tag=1a2b;from-tag=3c4d")
    ctx.check(status == 481, "481 (Call/Transaction Does Not Exist)", str(status))


##= https://www.rfc-editor.org/rfc/rfc3891#section-6.1
##= type=test
##% A Replaces header field MUST contain exactly one to-tag and exactly
##% one from-tag, as they are required for unique dialog matching.
@case("rfc3891-replaces-malformed-400", roles=("uas",), level="MUST")
def replaces_malformed(ctx: Context) -> None:
    """An INVITE whose Replaces has no from-tag: 400 (Bad Request), never a call."""
    status = _refused(ctx, "no-such-call@conformance.invalid;to-tag=1a2b")
    ctx.check(status == 400, "400 (Bad Request)", str(status))


##= https://www.rfc-editor.org/rfc/rfc3891#section-3
##= type=test
##% If more than one Replaces header field is present in an INVITE, or if
##% a Replaces header field is present in a request other than INVITE,
##% the UAS MUST reject the request with a 400 Bad Request response.
@case("rfc3891-replaces-in-options-400", roles=("uas",), level="MUST")
def replaces_in_options(ctx: Context) -> None:
    """An OPTIONS carrying a Replaces: 400 (Bad Request)."""
    _replaces_supported(ctx)
    link = ctx.link()
    # the control: the same OPTIONS without the Replaces succeeds
    ctx.control(link, ctx.request("OPTIONS", link))
    options = ctx.request(
        "OPTIONS", link, extra=[("Replaces", "a@conformance.invalid;to-tag=1;from-tag=2")]
    )
    final, _ = ctx.transaction(link, options)
    final = ctx.require_final(final, "final response to the OPTIONS with Replaces")
    ctx.check(final.status == 400, "400 (Bad Request)", describe(final))
