"""RFC 3856 on the wire, the watcher (UAC role): a presence SUBSCRIBE and its NOTIFYs.

The runner is the presence agent the target subscribes to (``[uac] subscribe``); it
judges the SUBSCRIBE (Event: presence, Accept naming PIDF), sends a PIDF document in the
NOTIFY, and challenges the SUBSCRIBE with Digest.  The publisher side of presence (a PUA
uploading documents, ``[uac] publish``) is judged by a case too.  Without those commands a
case is not applicable.
"""

from __future__ import annotations

from conformance.cases.uac_retry import digest_challenge, verify_digest
from conformance.messages import unique
from conformance.model import Context, case, describe
from conformance.trigger import RUNNER_ANSWERS, UAC, Peer
from extensions.conformance.rfc6665.uac import PIDF, Notifier, events

#: a PIDF document (RFC 3863) for the presentity the runner plays
DOCUMENT = (
    b'<?xml version="1.0" encoding="UTF-8"?>\r\n'
    b'<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:uas@127.0.0.1">\r\n'
    b'  <tuple id="t1"><status><basic>open</basic></status></tuple>\r\n'
    b"</presence>\r\n"
)


##= https://www.rfc-editor.org/rfc/rfc3856#section-6.5
##= type=test
##% If the header field is present, it MUST include "application/pidf+xml"
##= https://www.rfc-editor.org/rfc/rfc3856#section-6.5
##= type=test
##% All subscribers and notifiers MUST support the "application/pidf+xml"
##% presence data format described in [6].
@case(
    "rfc3856-watcher-subscribe-pidf",
    roles=UAC,
    level="MUST",
    timeout=15,
    preamble="a SUBSCRIBE from the target ([uac] subscribe)",
    no_control=RUNNER_ANSWERS,
)
def subscribe_pidf(ctx: Context) -> None:
    """The SUBSCRIBE for presence: an Accept, if any, names application/pidf+xml; a NOTIFY
    with a PIDF document is accepted (200, not 415 or 400)."""
    peer = Peer(ctx, "subscribe")
    subscribe, addr = peer.first("SUBSCRIBE")
    notifier = Notifier(ctx, peer, subscribe, addr)
    tag = unique("n")
    notifier.accept(200, tag)
    response = notifier.notify(tag, "active;expires=60", body=DOCUMENT)
    notifier.finish(tag)
    if [e.split(";")[0].strip().lower() for e in events(subscribe)] != ["presence"]:
        ctx.not_applicable(f"the [uac] subscribe command subscribes to {events(subscribe)}")
    accept = [
        a.split(";")[0].strip().lower()
        for v in subscribe.get_all("Accept")
        for a in v.split(",")
        if a.strip()
    ]
    ctx.check(
        not subscribe.get_all("Accept") or PIDF in accept,
        f"no Accept, or one naming {PIDF}",
        ", ".join(accept),
        0,
    )
    ctx.check(
        response is not None and 200 <= (response.status or 0) < 300,
        "a 2xx to a NOTIFY with a PIDF document",
        describe(response) if response else "none",
        1,
    )


##= https://www.rfc-editor.org/rfc/rfc3856#section-9.2
##= type=test
##% As a result, all watchers MUST support HTTP Digest.
##= https://www.rfc-editor.org/rfc/rfc3856#section-9.4
##= type=test
##% Finally, HTTP digest authentication (which MUST be
##% implemented by watchers
@case(
    "rfc3856-watcher-digest",
    roles=UAC,
    level="MUST",
    timeout=15,
    preamble="a SUBSCRIBE from the target ([uac] subscribe)",
    no_control=RUNNER_ANSWERS,
)
def watcher_digest(ctx: Context) -> None:
    """The presence SUBSCRIBE challenged (401): it comes again with Digest credentials."""
    if not ctx.profile.password:
        ctx.not_applicable("the profile gives no [credentials] password")
    peer = Peer(ctx, "subscribe")
    subscribe, addr = peer.first("SUBSCRIBE")
    peer.answer(subscribe, addr, 401, headers=[digest_challenge(401)], contact=False)
    notifier = Notifier(ctx, peer, subscribe, addr)
    got = notifier.next_subscribe(3.0)
    if got is None:
        ctx.fail("the SUBSCRIBE again with credentials", "none within 3 s", 0)
    assert got is not None
    again, where = got
    notifier = Notifier(ctx, peer, again, where)
    tag = unique("n")
    notifier.accept(200, tag)
    notifier.notify(tag, "active;expires=60")
    notifier.finish(tag)
    # an Authorization (the case's quote 0), the right digest in it (quote 1)
    verify_digest(ctx, again, "Authorization", 1, level="", present=0)


##= https://www.rfc-editor.org/rfc/rfc3856#section-7.3
##= type=test
##% When a PUA wishes to have direct manipulation of the presence
##% that is distributed to subscribers, direct uploading of presence
##% documents is RECOMMENDED.
@case(
    "rfc3856-pua-uploads-documents",
    roles=UAC,
    level="SHOULD",
    timeout=15,
    preamble="a PUBLISH from the target ([uac] publish)",
    no_control=RUNNER_ANSWERS,
)
def pua_uploads(ctx: Context) -> None:
    """A PUA asked to publish presence uploads a PIDF document (PUBLISH with a body)."""
    peer = Peer(ctx, "publish")
    got = peer.expect(lambda m: m.method in ("PUBLISH", "REGISTER"), peer.wait)
    if got is None:
        ctx.inconclusive("the target sent neither PUBLISH nor REGISTER")
    assert got is not None
    request, addr = got
    peer.answer(
        request, addr, 200, contact=False, headers=[f"SIP-ETag: {unique('e')}", "Expires: 60"]
    )
    kind = (request.get("Content-Type") or "").split(";")[0].strip().lower()
    ctx.should(
        request.method == "PUBLISH" and kind == PIDF and bool(request.body),
        f"a presence document uploaded (PUBLISH with {PIDF})",
        f"{request.method} with {kind or 'no body'}",
    )
