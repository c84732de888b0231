"""RFC 3856 on the wire: a target that is a presence agent (PA) serves SUBSCRIBE for the
``presence`` package as §6 says (the runner is the watcher, and the presence user agent when
it publishes state with RFC 3903 PUBLISH).

The cases apply to a target whose profile lists SUBSCRIBE (and, for those that change the
state, PUBLISH): sipref's presence server (the ``sipref-presence`` stack).  Each case watches
a presentity of its own and unsubscribes, and removes what it published, at the end.
"""

from __future__ import annotations

import time

from conformance.cases._proxy_support import arrives, final_of, reply
from conformance.cases.esc_rfc3903 import (
    PACKAGE,
    PIDF,
    authenticated,
    pidf,
    presentity,
    published,
)
from conformance.cases.notifier_rfc6665 import Subscription, next_notify, notifier, subscribed
from conformance.cases.registrar import Registration
from conformance.messages import Outgoing, unique
from conformance.model import Context, case, describe
from conformance.sipmsg import Message


def _publishes(ctx: Context) -> None:
    if "PUBLISH" not in ctx.profile.methods:
        ctx.not_applicable("the profile lists no PUBLISH: the runner cannot set the state")


def _mime(message: Message) -> str:
    return (message.get("Content-Type") or "").split(";")[0].strip().lower()


##= https://www.rfc-editor.org/rfc/rfc3856#section-6.5
##= type=test
##% All subscribers and notifiers MUST support the "application/pidf+xml"
##% presence data format described in [6].
##= https://www.rfc-editor.org/rfc/rfc3856#section-6.7
##= type=test
##% The body of the NOTIFY MUST be sent using one of the types listed in
##% the Accept header field in the most recent SUBSCRIBE request, or
##% using the type "application/pidf+xml" if no Accept header field was
##% present.
@case(
    "presence-pidf",
    roles=("uas",),
    level="MUST",
    no_control="the subscriptions are their own control: a refused one is inconclusive",
)
def pidf_format(ctx: Context) -> None:
    """A presence subscription with Accept: application/pidf+xml and one without Accept are
    accepted; the NOTIFYs' bodies, when they have one, are application/pidf+xml."""
    notifier(ctx)
    link = ctx.link()
    for accept in (PIDF, None):
        _, uri = presentity(ctx)
        with ctx.preamble(f"a presence subscription (Accept: {accept or 'none'})"):
            sub, final = subscribed(ctx, link, uri, accept=accept)
        first = sub.first
        ctx.check(first is not None, "a NOTIFY", "none", requirement=0)
        assert first is not None
        if first.body:
            ctx.check(
                _mime(first) == PIDF,
                f"a {PIDF} body (Accept: {accept or 'none'})",
                repr(first.get("Content-Type")),
                requirement=1,
            )
        ctx.check(
            200 <= (final.status or 0) < 300, "the pidf subscription accepted", describe(final), 0
        )


##= https://www.rfc-editor.org/rfc/rfc3856#section-9.4
##= type=test
##% When it is used for that purpose, the
##% presence document carried in the NOTIFY request MUST contain a
##% timestamp.
@case(
    "presence-signed-timestamp",
    roles=("uas",),
    level="MUST",
    no_control="the subscription is its own control: a refused one is inconclusive",
)
def signed_timestamp(ctx: Context) -> None:
    """A subscription accepting signed documents (Accept: multipart/signed as well): when
    the PA signs the NOTIFY's presence document (S/MIME against replay), the document
    carries a timestamp; a PA that does not sign is not applicable."""
    notifier(ctx)
    link = ctx.link()
    _, uri = presentity(ctx)
    with ctx.preamble("state published (when the target takes PUBLISH), then a subscription"):
        if "PUBLISH" in ctx.profile.methods:
            published(ctx, link, uri)
        sub, _ = subscribed(ctx, link, uri, accept=f"{PIDF}, multipart/signed")
    first = sub.first
    assert first is not None
    if _mime(first) != "multipart/signed":
        ctx.not_applicable(f"the PA does not sign its documents ({_mime(first) or 'no body'})")
    ctx.check(b"timestamp>" in first.body, "a <timestamp> in the signed document", "none")


##= https://www.rfc-editor.org/rfc/rfc3856#section-6.7
##= type=test
##% If the result of the authorization decision was success, a NOTIFY
##% SHOULD be sent and SHOULD contain a presence document with the
##% current state of the presentity.
@case(
    "presence-notify-current-state",
    roles=("uas",),
    level="SHOULD",
    no_control="the preamble (a publication accepted) is the control",
)
def current_state(ctx: Context) -> None:
    """State published for a presentity (a PIDF with a note of its own), then a subscription
    to it: the first NOTIFY carries a presence document with that note."""
    notifier(ctx)
    _publishes(ctx)
    link = ctx.link()
    _, uri = presentity(ctx)
    note = unique("note")
    with ctx.preamble("a publication of the presentity's state, accepted"):
        published(ctx, link, uri, note)
    with ctx.preamble("a presence subscription accepted with a 2xx and NOTIFYed"):
        sub, _ = subscribed(ctx, link, uri)
    first = sub.first
    assert first is not None
    ctx.should(bool(first.body), "a presence document in the NOTIFY", "no body")
    ctx.should(note.encode() in first.body, f"the current state (note {note})", "another state")


##= https://www.rfc-editor.org/rfc/rfc3856#section-6.10
##= type=test
##% A PA SHOULD NOT generate notifications for a single presentity at a
##% rate of more than once every five seconds.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.2.2
##= type=test
##% When a change in the subscribed state occurs, the notifier SHOULD
##% immediately construct and send a NOTIFY request, unless the state
##% transition is caused by a NOTIFY transaction failure.
##= https://www.rfc-editor.org/rfc/rfc3903#section-14.2
##= type=test
##% Also, the ESC SHOULD throttle incoming publications and the
##% corresponding notifications resulting from the changes in event
##% state.
@case(
    "presence-notify-on-change-rate",
    roles=("uas",),
    level="SHOULD",
    no_control="the preamble (a subscription and its NOTIFY) is the control",
)
def notify_on_change(ctx: Context) -> None:
    """A subscription (its first NOTIFY at t0), then two changes of state right away (two
    PUBLISHes): the PA notifies the change -- at once, or, at the presence package's rate of
    one NOTIFY per 5 s, at t0 + 5 s -- and the NOTIFY carries the latest state; no two NOTIFYs
    come within 5 s."""
    notifier(ctx)
    _publishes(ctx)
    link = ctx.link()
    _, uri = presentity(ctx)
    with ctx.preamble("a presence subscription, accepted and NOTIFYed"):
        sub, _ = subscribed(ctx, link, uri)
    t0 = time.monotonic()
    first_note, last_note = unique("note"), unique("note")
    with ctx.preamble("two PUBLISHes changing the presentity's state, accepted"):
        published(ctx, link, uri, first_note)
        published(ctx, link, uri, last_note)
    # the change is due at once, or at t0 + 5 s under the package's rate limit
    got: list[tuple[float, Message]] = []
    while time.monotonic() < t0 + 6.0:
        notify = next_notify(link, sub.request.call_id, timeout=t0 + 6.0 - time.monotonic())
        if notify is None:
            break
        got.append((time.monotonic() - t0, notify))
        if last_note.encode() in notify.body:
            break
    ctx.should(bool(got), "a NOTIFY of the change within 6 s", "none")
    if got:
        ctx.should(
            last_note.encode() in got[-1][1].body,
            f"the latest state (note {last_note})",
            "an older state",
        )
        early = [round(at, 1) for at, _ in got if at < 4.5]
        ctx.should(not early, "no NOTIFY sooner than 5 s after the first", f"at {early} s")


##= https://www.rfc-editor.org/rfc/rfc3856#section-6.6.1
##= type=test
##% A presence agent MUST authenticate all subscription requests.
##= https://www.rfc-editor.org/rfc/rfc6665#section-6.3
##= type=test
##% To reduce the chances of such an attack, implementations of notifiers
##% SHOULD require authentication.
##= https://www.rfc-editor.org/rfc/rfc6665#section-6.4
##= type=test
##% To prevent such attacks, implementations SHOULD require
##% authentication with anti-replay protection.
##= https://www.rfc-editor.org/rfc/rfc3856#section-9.4
##= type=test
##% Finally, HTTP digest authentication (which MUST be implemented by
##% watchers
@case(
    "presence-subscribe-digest",
    roles=("uas",),
    level="MUST",
    no_control="judged on the challenge itself; no challenge or no credentials: not applicable",
)
def subscribe_digest(ctx: Context) -> None:
    """A PA that challenges SUBSCRIBE: the SUBSCRIBE answered with the profile's Digest
    credentials is accepted, and the same credentials replayed (same nonce count) are not."""
    notifier(ctx)
    link = ctx.link()
    _, uri = presentity(ctx)
    call_id, tag = unique("c") + "@conformance.invalid", unique("t")
    cseq = iter(range(1, 10))

    def build(extra: list[tuple[str, str]]) -> Outgoing:
        return ctx.request(
            "SUBSCRIBE",
            link,
            uri=uri,
            call_id=call_id,
            from_tag=tag,
            cseq=next(cseq),
            extra=[("Event", PACKAGE), ("Expires", "600"), *extra],
        )

    def accepted(request: Outgoing, response: Message) -> None:
        sub = Subscription(ctx, link, request, response)
        sub.first = next_notify(link, request.call_id, timeout=1.0)

    _, answered, replayed = authenticated(ctx, link, build, accepted)
    ctx.check(
        200 <= (answered.status or 0) < 300,
        "the SUBSCRIBE with Digest credentials accepted",
        describe(answered),
        requirement=0,
    )
    ctx.should(
        replayed is None or not 200 <= (replayed.status or 0) < 300,
        "the replayed credentials refused",
        describe(replayed),
    )


##= https://www.rfc-editor.org/rfc/rfc3856#section-9.2
##= type=test
##% To support this, all PA MUST support TLS and SIPS as if they were a
##% proxy (see Section 26.3.1 of RFC 3261).
@case(
    "presence-tls-sips",
    roles=("uas",),
    level="MUST",
    transports=("tls",),
    no_control="the case itself is the control: a SUBSCRIBE refused otherwise is inconclusive",
)
def tls_sips(ctx: Context) -> None:
    """Over TLS (one-way), a presence SUBSCRIBE with a SIPS Request-URI is accepted."""
    notifier(ctx)
    link = ctx.link()
    user, _ = presentity(ctx)
    req = ctx.request(
        "SUBSCRIBE",
        link,
        uri=f"sips:{user}@{ctx.target.hostport}",
        extra=[("Event", PACKAGE), ("Expires", "600")],
    )
    final, _ = ctx.transaction(link, req)
    final = ctx.require_final(final, "response to SUBSCRIBE")
    if 200 <= (final.status or 0) < 300:
        Subscription(ctx, link, req, final)
        next_notify(link, req.call_id, timeout=0.5)
    elif final.status in (401, 407):
        ctx.inconclusive(f"the target wants credentials: {describe(final)}")
    ctx.check(final.status != 416, "the SIPS URI served (not 416)", describe(final))
    ctx.check(200 <= (final.status or 0) < 300, "a 2xx", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3856#section-7.2
##= type=test
##% Therefore, REGISTER requests used by presence user agents MUST be
##% authenticated.
@case(
    "presence-register-authenticated",
    roles=("registrar",),
    level="MUST",
    no_control="judged on the challenge itself; no challenge: not applicable",
)
def register_authenticated(ctx: Context) -> None:
    """A presence user agent's REGISTER (its Contact lists SUBSCRIBE and PUBLISH; no
    credentials) is challenged (401 or 407); with the profile's credentials it is accepted."""
    registration = Registration(ctx)
    contact = registration.contact() + ';methods="INVITE,SUBSCRIBE,PUBLISH,NOTIFY"'
    req = registration._build([contact], 60, None, [("Allow-Events", PACKAGE)])
    first, _ = ctx.transaction(registration.link, req)
    first = ctx.require_final(first, "response to REGISTER")
    if 200 <= (first.status or 0) < 300:
        ctx.on_teardown(f"un-REGISTER {registration.aor}", registration.unregister)
        ctx.not_applicable(f"the registrar serves without authentication ({describe(first)})")
    ctx.check(first.status in (401, 407), "a 401 or 407 challenge", describe(first))
    if ctx.profile.username:
        final = registration.register([contact], 60)
        ctx.check(
            200 <= (final.status or 0) < 300,
            "the REGISTER with credentials accepted",
            describe(final),
        )


##= https://www.rfc-editor.org/rfc/rfc3856#section-9.3
##= type=test
##% When local proxies are used for transmission of outbound messages,
##% proxy authentication is RECOMMENDED.
@case(
    "presence-proxy-authentication",
    roles=("proxy",),
    level="SHOULD",
    no_control="judged on the proxy's answer: a challenge passes, forwarding is the warning",
)
def proxy_authentication(ctx: Context) -> None:
    """A PUBLISH from a presence user agent through the proxy (no credentials): the proxy
    demands them (407, or 401) rather than forwarding it."""
    link, down = ctx.link(), ctx.listener()
    uri = f"sip:presentity@{down.hostport}"
    req = ctx.request(
        "PUBLISH",
        link,
        uri=uri,
        extra=[("Event", PACKAGE), ("Expires", "3600")],
        body=pidf(uri),
        content_type=PIDF,
    )
    link.send(bytes(req), "PUBLISH through the proxy")
    got = arrives(down, "PUBLISH", req.call_id, timeout=2.0)
    if got is not None:
        reply(down, got, 200, extra=[("SIP-ETag", unique("e")), ("Expires", "3600")])
    final = final_of(link, req, timeout=2.0)
    if got is None and final is None:
        ctx.inconclusive("the PUBLISH was neither forwarded nor answered")
    challenged = final is not None and final.status in (401, 407)
    ctx.should(challenged, "a 407 (proxy authentication)", "forwarded without credentials")
    if got is None and not challenged:
        ctx.inconclusive(f"the PUBLISH was refused otherwise: {describe(final)}")
