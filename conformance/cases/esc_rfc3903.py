"""RFC 3903 on the wire: a target that is an event state compositor (ESC) answers PUBLISH as
§6 says (the runner is the event publication agent).

The cases apply to a target whose profile lists PUBLISH among its methods (sipref's presence
server: ``python -m rfc3261 proxy --presence URI``, the ``sipref-presence`` stack); against
any other they are not applicable.  Each case publishes ``presence`` state (a PIDF document,
RFC 3863) for a presentity of its own (a fresh user of the target's domain), so that cases
run side by side never touch each other's state, and removes what it published at the end
(a PUBLISH with Expires: 0, §4.5).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from conformance.cases.registrar import digest_authorization
from conformance.messages import Outgoing, unique
from conformance.model import Context, case, describe
from conformance.sipmsg import Message
from conformance.wire import Link

__all__ = [
    "Publication",
    "authenticated",
    "control_publication",
    "pidf",
    "publish",
    "published",
    "uses_publish",
]

PACKAGE = "presence"
PIDF = "application/pidf+xml"
#: an expiration every ESC accepts (RFC 3903 §6 lets it refuse shorter ones with 423)
EXPIRES = 3600


def uses_publish(ctx: Context) -> None:
    if "PUBLISH" not in ctx.profile.methods:
        ctx.not_applicable("the profile does not list PUBLISH among the target's methods")


def presentity(ctx: Context) -> tuple[str, str]:
    """A user of its own for a case (its state is nobody else's) and its Request-URI."""
    user = unique("esc")
    return user, ctx.target.uri(user)


def pidf(uri: str, note: str = "available", basic: str = "open") -> bytes:
    """A minimal PIDF document (RFC 3863) for ``uri``."""
    entity = uri.split(";", 1)[0]
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="{entity}">'
        f'<tuple id="t{secrets.token_hex(3)}"><status><basic>{basic}</basic></status>'
        f"<note>{note}</note></tuple></presence>\n"
    ).encode()


def publish(
    ctx: Context,
    link: Link,
    uri: str,
    *,
    etag: str | None = None,
    expires: int | None = EXPIRES,
    body: bytes = b"",
    content_type: str = PIDF,
    event: str | None = PACKAGE,
    extra: list[tuple[str, str]] | None = None,
) -> Outgoing:
    """A PUBLISH for ``uri``: with ``etag`` in SIP-If-Match, ``body`` as the state."""
    headers: list[tuple[str, str]] = []
    if event is not None:
        headers.append(("Event", event))
    if expires is not None:
        headers.append(("Expires", str(expires)))
    if etag is not None:
        headers.append(("SIP-If-Match", etag))
    headers += extra or []
    return ctx.request(
        "PUBLISH", link, uri=uri, extra=headers, body=body, content_type=content_type
    )


class Publication:
    """State a case published: its Request-URI and current entity-tag; the postamble removes
    it (``etag`` follows the refreshes and modifications the case makes)."""

    def __init__(self, ctx: Context, link: Link, uri: str, etag: str) -> None:
        self.ctx, self.link, self.uri, self.etag = ctx, link, uri, etag
        ctx.on_teardown("PUBLISH Expires: 0 (remove the state)", self.remove)

    def update(self, response: Message) -> str:
        """Follow a 2xx's new entity-tag (kept when it has none); the new one."""
        if 200 <= (response.status or 0) < 300 and etag_of(response):
            self.etag = etag_of(response)
        return etag_of(response)

    def remove(self) -> bool:
        if not self.etag:
            return True
        req = publish(self.ctx, self.link, self.uri, etag=self.etag, expires=0)
        got, _ = self.ctx.transaction(self.link, req, learn=False)
        self.etag = ""
        return got is not None and 200 <= (got.status or 0) < 300


def etag_of(response: Message) -> str:
    return (response.get("SIP-ETag") or "").strip()


def published(ctx: Context, link: Link, uri: str, note: str = "available") -> Publication:
    """An initial publication accepted (2xx with a SIP-ETag); inconclusive otherwise.  Call
    it inside a preamble (or through `control_publication`)."""
    final, _ = ctx.transaction(link, publish(ctx, link, uri, body=pidf(uri, note)))
    final = ctx.require_final(final, "response to the initial PUBLISH")
    if not 200 <= (final.status or 0) < 300 or not etag_of(final):
        ctx.inconclusive(f"the initial publication was not accepted: {describe(final)}")
    return Publication(ctx, link, uri, etag_of(final))


def control_publication(ctx: Context, link: Link, uri: str) -> Publication:
    """The control of a case: an initial publication for ``uri`` accepted."""
    made: list[Publication] = []

    def run() -> tuple[Message | None, bool]:
        final, _ = ctx.transaction(link, publish(ctx, link, uri, body=pidf(uri)), note="control")
        if final is not None and 200 <= (final.status or 0) < 300 and etag_of(final):
            made.append(Publication(ctx, link, uri, etag_of(final)))
        return final, bool(made)

    ctx.controlled("PUBLISH", run, "the control (an initial publication for presence)")
    return made[0]


def exchange(ctx: Context, link: Link, req: Outgoing, what: str) -> Message:
    """One PUBLISH transaction's final response (inconclusive without one, or on a challenge:
    the profile gives no credentials for these cases)."""
    final, _ = ctx.transaction(link, req)
    final = ctx.require_final(final, what)
    if final.status in (401, 407):
        ctx.inconclusive(f"the target wants credentials: {describe(final)}")
    return final


def ok(response: Message) -> bool:
    return 200 <= (response.status or 0) < 300


def _expires(response: Message) -> int | None:
    value = (response.get("Expires") or "").strip()
    return int(value) if value.isdigit() else None


##= https://www.rfc-editor.org/rfc/rfc3903#section-6
##= type=test
##% If the request does not contain a SIP-If-Match header field, the ESC
##% MUST generate and store a locally unique entity-tag for identifying
##% the publication.
##= https://www.rfc-editor.org/rfc/rfc3903#section-6
##= type=test
##% The response MUST also contain a SIP-ETag header field that contains
##% a single entity-tag identifying the publication.
##= https://www.rfc-editor.org/rfc/rfc3903#section-6
##= type=test
##% The response MUST contain an Expires header field indicating the
##% expiration interval chosen by the ESC.
##= https://www.rfc-editor.org/rfc/rfc3903#section-6
##= type=test
##% If the request has an Expires header field, that value MUST be taken
##% as the requested expiration.
##= https://www.rfc-editor.org/rfc/rfc3903#section-6
##= type=test
##% The ESC MUST NOT include a Record-Route header
##% field in any response to a PUBLISH request.
##= https://www.rfc-editor.org/rfc/rfc3903#section-6
##= type=test
##% The ESC MUST ignore the Record-Route header field if it is included in
##% a PUBLISH request.
##= https://www.rfc-editor.org/rfc/rfc3903#section-6
##= type=test
##% The ESC MUST
##% ignore the Contact header field if one is present in a PUBLISH request.
##= https://www.rfc-editor.org/rfc/rfc3903#section-4
##= type=test
##% The Record-Route header field has no meaning in PUBLISH requests or
##% responses, and MUST be ignored if present.
@case(
    "esc-initial-publication",
    roles=("uas",),
    level="MUST",
    no_control="the case itself is the control: a refused PUBLISH ends it inconclusive",
)
def initial_publication(ctx: Context) -> None:
    """An initial PUBLISH (PIDF body, Expires: 3600, a stray Record-Route and Contact) gets a
    2xx with one SIP-ETag, an Expires not above 3600 and no Record-Route; refreshing with that
    entity-tag then succeeds (it was stored)."""
    uses_publish(ctx)
    link = ctx.link()
    _, uri = presentity(ctx)
    stray = [
        ("Record-Route", f"<sip:{unique('rr')}.invalid;lr>"),
        ("Contact", f"<sip:epa@{link.sent_by}>"),
    ]
    req = publish(ctx, link, uri, body=pidf(uri), extra=stray)
    final = exchange(ctx, link, req, "response to PUBLISH")
    ctx.check(
        ok(final), "a 2xx (Record-Route and Contact ignored)", describe(final), requirement=5
    )
    tags = final.get_all("SIP-ETag")
    etag = etag_of(final)
    state = Publication(ctx, link, uri, etag)
    single = len(tags) == 1 and bool(etag) and not any(c in etag for c in " ,;")
    ctx.check(single, "one SIP-ETag with a single entity-tag", repr(tags), requirement=1)
    expires = _expires(final)
    ctx.check(
        expires is not None, "an Expires header field", repr(final.get("Expires")), requirement=2
    )
    assert expires is not None
    ctx.check(
        0 < expires <= EXPIRES,
        f"an expiration in 1..{EXPIRES} (at most the one asked)",
        str(expires),
        requirement=3,
    )
    ctx.check(
        final.get("Record-Route") is None,
        "no Record-Route in the response",
        repr(final.get("Record-Route")),
        requirement=4,
    )
    again = exchange(ctx, link, publish(ctx, link, uri, etag=etag), "response to a refresh")
    state.update(again)
    ctx.check(
        ok(again),
        "a 2xx to a refresh with that entity-tag (it was stored)",
        describe(again),
        requirement=0,
    )


##= https://www.rfc-editor.org/rfc/rfc3903#section-6
##= type=test
##% The ESC MUST generate a new entity-tag for each successful
##% publication, replacing any previous entity-tag associated with that
##% event state.
##= https://www.rfc-editor.org/rfc/rfc3903#section-6
##= type=test
##% The generated entity-tag MUST be unique from any other entity-
##% tags currently assigned to event state associated with that Request-
##% URI, and MUST be different from any entity-tag assigned previously to
##% event state for that Request-URI.
##= https://www.rfc-editor.org/rfc/rfc3903#section-6
##= type=test
##% Else, a locally-configured default value
##% MUST be taken as the requested expiration.
@case(
    "esc-new-entity-tag",
    roles=("uas",),
    level="MUST",
    no_control="the initial publication (the preamble) is the control",
)
def new_entity_tag(ctx: Context) -> None:
    """An initial PUBLISH without Expires (2xx with a default Expires), a modification and a
    refresh: each 2xx carries a new entity-tag, and the replaced one is gone (412)."""
    uses_publish(ctx)
    link = ctx.link()
    _, uri = presentity(ctx)
    with ctx.preamble("an initial publication without Expires, accepted"):
        first = exchange(
            ctx, link, publish(ctx, link, uri, expires=None, body=pidf(uri)), "initial PUBLISH"
        )
        if not ok(first) or not etag_of(first):
            ctx.inconclusive(f"not accepted: {describe(first)}")
    state = Publication(ctx, link, uri, etag_of(first))
    default = _expires(first)
    ctx.check(
        default is not None and default > 0,
        "an Expires (the default expiration) in the 2xx",
        repr(first.get("Expires")),
        requirement=2,
    )
    seen = [state.etag]
    modify = publish(ctx, link, uri, etag=state.etag, body=pidf(uri, "busy", "closed"))
    modified = exchange(ctx, link, modify, "response to the modifying PUBLISH")
    ctx.check(ok(modified), "a 2xx to the modification", describe(modified), requirement=0)
    second = state.update(modified)
    ctx.check(
        bool(second) and second not in seen,
        "a new entity-tag for the modification",
        f"{second!r} after {seen}",
        requirement=0,
    )
    seen.append(second)
    refreshed = exchange(ctx, link, publish(ctx, link, uri, etag=second), "refresh response")
    ctx.check(ok(refreshed), "a 2xx to the refresh", describe(refreshed), requirement=0)
    third = state.update(refreshed)
    ctx.check(
        bool(third) and third not in seen,
        "a new entity-tag for the refresh, unlike any before",
        f"{third!r} after {seen}",
        requirement=1,
    )
    stale = exchange(ctx, link, publish(ctx, link, uri, etag=seen[0]), "PUBLISH, replaced tag")
    ctx.check(
        stale.status == 412,
        "412 for the replaced first entity-tag",
        describe(stale),
        requirement=0,
    )
    state.update(stale)


##= https://www.rfc-editor.org/rfc/rfc3903#section-6
##= type=test
##% If no match is found, the ESC MUST reject the publication with a
##% response of 412 (Conditional Request Failed), and skip the remaining
##% steps.
@case("esc-unknown-entity-tag-412", roles=("uas",), level="MUST")
def unknown_entity_tag(ctx: Context) -> None:
    """A refresh naming an entity-tag the ESC never issued gets 412."""
    uses_publish(ctx)
    link = ctx.link()
    _, uri = presentity(ctx)
    control_publication(ctx, link, uri)
    req = publish(ctx, link, uri, etag=unique("never"))
    final = exchange(ctx, link, req, "response to PUBLISH with an unknown entity-tag")
    ctx.check(final.status == 412, "412 (Conditional Request Failed)", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3903#section-6
##= type=test
##% If the Event header field is missing or contains an event package
##% which the ESC does not support, the ESC MUST respond to the PUBLISH
##% request with a 489 (Bad Event) response, and skip the remaining
##% steps.
@case("esc-bad-event-489", roles=("uas",), level="MUST")
def bad_event(ctx: Context) -> None:
    """A PUBLISH for an event package nobody defines, and one without Event, get 489."""
    uses_publish(ctx)
    link = ctx.link()
    _, uri = presentity(ctx)
    control_publication(ctx, link, uri)
    for event in ("x-sipref-no-such-package", None):
        req = publish(ctx, link, uri, body=pidf(uri), event=event)
        final = exchange(ctx, link, req, "response to PUBLISH")
        what = f"Event: {event}" if event else "no Event"
        ctx.check(final.status == 489, f"489 (Bad Event) with {what}", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3903#section-6
##= type=test
##% If not, the request is invalid, and the ESC MUST
##% return with a 400 (Invalid Request) response and skip the remaining
##% steps.
##= https://www.rfc-editor.org/rfc/rfc3903#section-6
##= type=test
##% PUBLISH requests MUST also be processed
##% atomically, meaning that a particular PUBLISH request is either
##% processed completely or not at all.
@case(
    "esc-two-entity-tags-400",
    roles=("uas",),
    level="MUST",
    no_control="the preamble's publication and the refresh after the 400 are the controls",
)
def two_entity_tags(ctx: Context) -> None:
    """A SIP-If-Match with two entity-tags (its own and another) gets 400; the publication is
    untouched: a refresh with its entity-tag then succeeds."""
    uses_publish(ctx)
    link = ctx.link()
    _, uri = presentity(ctx)
    with ctx.preamble("an initial publication, accepted"):
        state = published(ctx, link, uri)
    req = publish(ctx, link, uri, body=pidf(uri, "away"), extra=[])
    req.add("SIP-If-Match", f"{state.etag}, {unique('other')}")
    final = exchange(ctx, link, req, "response to PUBLISH with two entity-tags")
    state.update(final)
    ctx.check(final.status == 400, "400 (Invalid Request)", describe(final), requirement=0)
    again = exchange(ctx, link, publish(ctx, link, uri, etag=state.etag), "refresh response")
    state.update(again)
    ctx.check(ok(again), "the entity-tag still valid (a 2xx)", describe(again), requirement=1)


##= https://www.rfc-editor.org/rfc/rfc3903#section-6
##= type=test
##% If the request has no message body and contained no entity-tag, the
##% ESC SHOULD reject the request with an appropriate response, such as
##% 400 (Invalid Request), and skip the remainder of the steps.
@case("esc-no-body-no-entity-tag-400", roles=("uas",), level="SHOULD")
def no_body_no_etag(ctx: Context) -> None:
    """A PUBLISH with neither a body nor SIP-If-Match is refused, with 400."""
    uses_publish(ctx)
    link = ctx.link()
    _, uri = presentity(ctx)
    control_publication(ctx, link, uri)
    final = exchange(ctx, link, publish(ctx, link, ctx.target.uri(unique("esc"))), "response")
    if ok(final) and etag_of(final):
        Publication(ctx, link, uri, etag_of(final))
    ctx.should((final.status or 0) >= 400, "a refusal", describe(final))
    ctx.should(final.status == 400, "400 (Invalid Request)", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3903#section-6
##= type=test
##% This response MUST contain a Min-Expires header
##% field that states the minimum expiration interval the ESC is willing
##% to honor.
@case(
    "esc-interval-too-brief-423",
    roles=("uas",),
    level="MUST",
    no_control="the retry with Min-Expires is the control",
)
def interval_too_brief(ctx: Context) -> None:
    """A PUBLISH with Expires: 1: when the ESC refuses it with 423, the 423 names a
    Min-Expires, and the same PUBLISH with that expiration is accepted."""
    uses_publish(ctx)
    link = ctx.link()
    _, uri = presentity(ctx)
    final = exchange(ctx, link, publish(ctx, link, uri, expires=1, body=pidf(uri)), "response")
    if ok(final):
        if etag_of(final):
            Publication(ctx, link, uri, etag_of(final))
        ctx.not_applicable("the ESC accepted a 1 s publication (the 423 is a MAY)")
    ctx.check(final.status == 423, "423 (Interval Too Brief) or a 2xx", describe(final))
    minimum = (final.get("Min-Expires") or "").strip()
    ctx.check(minimum.isdigit() and int(minimum) > 1, "a Min-Expires above 1", repr(minimum))
    retry = publish(ctx, link, uri, expires=int(minimum), body=pidf(uri))
    again = exchange(ctx, link, retry, "response to the retry")
    if ok(again) and etag_of(again):
        Publication(ctx, link, uri, etag_of(again))
    ctx.check(ok(again), f"a 2xx for Expires: {minimum}", describe(again))


##= https://www.rfc-editor.org/rfc/rfc3903#section-6
##= type=test
##% If the chosen expiration interval has a special value of "0", the
##% event state identified by the entity-tag MUST be immediately removed.
##= https://www.rfc-editor.org/rfc/rfc3903#section-6
##= type=test
##% The ESC MUST NOT store any event state as a result of such a request.
@case(
    "esc-expires-0-removes",
    roles=("uas",),
    level="MUST",
    no_control="the preamble's publication is the control",
)
def expires_zero(ctx: Context) -> None:
    """PUBLISH with SIP-If-Match and Expires: 0 gets a 2xx; the entity-tag is gone then (412),
    and so is any entity-tag that 2xx gave."""
    uses_publish(ctx)
    link = ctx.link()
    _, uri = presentity(ctx)
    with ctx.preamble("an initial publication, accepted"):
        state = published(ctx, link, uri)
    old = state.etag
    final = exchange(ctx, link, publish(ctx, link, uri, etag=old, expires=0), "response")
    ctx.check(ok(final), "a 2xx to the removal", describe(final), requirement=0)
    state.etag = ""
    after = exchange(ctx, link, publish(ctx, link, uri, etag=old), "refresh after the removal")
    if ok(after):
        state.update(after)
    ctx.check(after.status == 412, "412 for the removed entity-tag", describe(after), 0)
    if etag_of(final):
        extra = exchange(ctx, link, publish(ctx, link, uri, etag=etag_of(final)), "response")
        if ok(extra):
            state.update(extra)
        ctx.check(extra.status == 412, "no state stored by the removal", describe(extra), 1)


##= https://www.rfc-editor.org/rfc/rfc3903#section-6
##= type=test
##% If the content type of the request does not match the event package,
##% or is not understood by the ESC, the ESC MUST reject the request with
##% an appropriate response, such as 415 (Unsupported Media Type), and
##% skip the remainder of the steps.
##= https://www.rfc-editor.org/rfc/rfc3903#section-6
##= type=test
##% The processing of the PUBLISH request MUST be atomic.
@case(
    "esc-wrong-content-type-refused",
    roles=("uas",),
    level="MUST",
    no_control="the preamble's publication and the refresh after the refusal are the controls",
)
def wrong_content_type(ctx: Context) -> None:
    """A modification whose body is text/plain is refused (415 expected); the publication is
    untouched: a refresh with its entity-tag then succeeds."""
    uses_publish(ctx)
    link = ctx.link()
    _, uri = presentity(ctx)
    with ctx.preamble("an initial publication, accepted"):
        state = published(ctx, link, uri)
    req = publish(ctx, link, uri, etag=state.etag, body=b"available\n", content_type="text/plain")
    final = exchange(ctx, link, req, "response to PUBLISH with a text/plain body")
    state.update(final)
    ctx.check(400 <= (final.status or 0) < 700, "a refusal", describe(final), requirement=0)
    ctx.should(final.status == 415, "415 (Unsupported Media Type)", describe(final))
    again = exchange(ctx, link, publish(ctx, link, uri, etag=state.etag), "refresh response")
    state.update(again)
    ctx.check(ok(again), "the entity-tag still valid (a 2xx)", describe(again), requirement=1)


##= https://www.rfc-editor.org/rfc/rfc3903#section-6
##= type=test
##% PUBLISH requests with the same Request-URI MUST be processed in the
##% order that they are received.
@case(
    "esc-in-order",
    roles=("uas",),
    level="MUST",
    no_control="the preamble's publication is the control",
)
def in_order(ctx: Context) -> None:
    """Two modifications naming the same entity-tag, sent back to back: the first is accepted
    and replaces the entity-tag, so the second gets 412."""
    uses_publish(ctx)
    link = ctx.link()
    _, uri = presentity(ctx)
    with ctx.preamble("an initial publication, accepted"):
        state = published(ctx, link, uri)
    old = state.etag
    first = publish(ctx, link, uri, etag=state.etag, body=pidf(uri, "first"))
    second = publish(ctx, link, uri, etag=state.etag, body=pidf(uri, "second"))
    link.send(bytes(first), "first modification")
    link.send(bytes(second), "second modification, at once")
    answers: dict[str, Message] = {}
    for req in (first, second):
        branch = req.branch
        got = link.expect(
            lambda m, b=branch: m.is_response and m.branch == b and (m.status or 0) >= 200,
            timeout=3.0,
            retransmit=lambda r=req: link.send(bytes(r), "retransmission"),
        )
        if got is None:
            ctx.inconclusive(f"no final response to the {req.get('CSeq')} modification")
        assert got is not None
        answers[branch] = got
        state.update(got)
    a, b = answers[first.branch], answers[second.branch]
    ctx.check(ok(a), "a 2xx to the first modification", describe(a))
    if etag_of(a) == old:
        # (a fault of §6's new entity-tag, esc-new-entity-tag's): the order cannot be seen
        ctx.inconclusive("the entity-tag was not replaced: both modifications may succeed")
    ctx.check(b.status == 412, "412 to the second (its entity-tag replaced)", describe(b))


##= https://www.rfc-editor.org/rfc/rfc3903#section-6
##= type=test
##% If not, the ESC MUST return a 404 (Not Found) response and skip the
##% remaining steps.
@case("esc-not-responsible-404", roles=("uas",), level="MUST")
def not_responsible(ctx: Context) -> None:
    """A PUBLISH for a domain the ESC does not serve gets 404."""
    uses_publish(ctx)
    link = ctx.link()
    _, uri = presentity(ctx)
    control_publication(ctx, link, uri)
    elsewhere = f"sip:{unique('esc')}@{unique('d')}.invalid"
    final = exchange(ctx, link, publish(ctx, link, elsewhere, body=pidf(elsewhere)), "response")
    if ok(final) and etag_of(final):
        Publication(ctx, link, elsewhere, etag_of(final))
    ctx.check(final.status == 404, "404 (Not Found)", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3903#section-7
##= type=test
##% In the response to an OPTIONS request, the ESC SHOULD include
##% "PUBLISH" to the list of allowed methods in the Allow header field.
##= https://www.rfc-editor.org/rfc/rfc3903#section-7
##= type=test
##% Also, it SHOULD list the supported event packages in an Allow-Events
##% header field.
@case(
    "esc-options-allow-publish",
    roles=("uas",),
    level="SHOULD",
    no_control="the OPTIONS is the control: a non-2xx ends the case inconclusive",
)
def options_allow(ctx: Context) -> None:
    """The 2xx to OPTIONS lists PUBLISH in Allow and presence in Allow-Events."""
    uses_publish(ctx)
    link = ctx.link()
    final, _ = ctx.transaction(link, ctx.request("OPTIONS", link))
    final = ctx.require_final(final, "response to OPTIONS")
    if not ok(final):
        ctx.inconclusive(f"OPTIONS not answered with a 2xx: {describe(final)}")
    allow = [m.strip().upper() for m in final.get_all("Allow")]
    events = [e.strip().lower() for v in final.get_all("Allow-Events") for e in v.split(",")]
    ctx.should("PUBLISH" in allow, "PUBLISH in Allow", repr(allow))
    ctx.should(PACKAGE in events, "presence in Allow-Events", repr(events))


def authenticated(
    ctx: Context,
    link: Link,
    build: Callable[[list[tuple[str, str]]], Outgoing],
    accepted: Callable[[Outgoing, Message], object],
) -> tuple[Message, Message, Message | None]:
    """A request without credentials, challenged (a target that does not challenge it, or a
    profile without ``[credentials]``, is not applicable), then the same with the Digest
    answer (RFC 3261 §22.2) and, when the challenge offered qop, the same answer replayed
    (nonce count unchanged) on a new request: the challenge, the answer's final response and
    the replay's (None without qop).  ``accepted`` is told of every request accepted (so
    that the postamble undoes what it made)."""
    first = build([])
    challenge, _ = ctx.transaction(link, first)
    challenge = ctx.require_final(challenge, f"response to {first.method}")
    if challenge.status not in (401, 407):
        if ok(challenge):
            accepted(first, challenge)
        ctx.not_applicable(
            f"the target serves {first.method} without authentication ({describe(challenge)})"
        )
    if not ctx.profile.username:
        ctx.not_applicable("the target challenges but the profile gives no [credentials]")
    asked = "WWW-Authenticate" if challenge.status == 401 else "Proxy-Authenticate"
    header = "Authorization" if challenge.status == 401 else "Proxy-Authorization"
    value = digest_authorization(
        challenge.get(asked) or "",
        first.method,
        first.uri,
        ctx.profile.username,
        ctx.profile.password,
        cnonce=unique("cn"),
    )
    second = build([(header, value)])
    answered, _ = ctx.transaction(link, second)
    answered = ctx.require_final(answered, f"response to the {first.method} with credentials")
    if ok(answered):
        accepted(second, answered)
    replayed = None
    if "qop=" in value:
        third = build([(header, value)])
        replayed, _ = ctx.transaction(link, third)
        if replayed is not None and ok(replayed):
            accepted(third, replayed)
    return challenge, answered, replayed


##= https://www.rfc-editor.org/rfc/rfc3903#section-14.1
##= type=test
##% ESCs and EPAs MUST implement Digest for authenticating
##% PUBLISH requests, as defined in RFC 3261 [4].
##= https://www.rfc-editor.org/rfc/rfc3903#section-14.2
##= type=test
##% Implementations MUST support Digest authentication, as
##% defined in RFC 3261 [4].
##= https://www.rfc-editor.org/rfc/rfc3903#section-14.3
##= type=test
##% To prevent replay attacks, implementations MUST support Digest
##% authentication with replay protection, as defined in RFC 3261 [4].
##= https://www.rfc-editor.org/rfc/rfc3903#section-14.1
##= type=test
##% The state agent SHOULD authenticate the EPA, and SHOULD apply its
##% authorization policies (e.g., based on access control lists) to all
##% requests.
##= https://www.rfc-editor.org/rfc/rfc3903#section-14.2
##= type=test
##% To reduce the chances of such an attack, implementations of ESCs
##% SHOULD require authentication of PUBLISH requests.
@case(
    "esc-publish-digest",
    roles=("uas",),
    level="MUST",
    no_control="judged on the challenge itself; no challenge or no credentials: not applicable",
)
def publish_digest(ctx: Context) -> None:
    """An ESC that challenges PUBLISH: the PUBLISH answered with the profile's Digest
    credentials gets a 2xx, and the same credentials replayed (same nonce count) do not."""
    uses_publish(ctx)
    link = ctx.link()
    _, uri = presentity(ctx)
    call_id, tag = unique("c") + "@conformance.invalid", unique("t")
    cseq = iter(range(1, 10))

    def build(extra: list[tuple[str, str]]) -> Outgoing:
        req = ctx.request(
            "PUBLISH",
            link,
            uri=uri,
            call_id=call_id,
            from_tag=tag,
            cseq=next(cseq),
            extra=[("Event", PACKAGE), ("Expires", str(EXPIRES)), *extra],
            body=pidf(uri),
            content_type=PIDF,
        )
        return req

    def accepted(_: Outgoing, response: Message) -> None:
        if etag_of(response):
            Publication(ctx, link, uri, etag_of(response))

    _, answered, replayed = authenticated(ctx, link, build, accepted)
    ctx.check(ok(answered), "a 2xx to the PUBLISH with Digest credentials", describe(answered), 0)
    ctx.check(
        replayed is None or not ok(replayed),
        "the replayed credentials refused (a new challenge)",
        describe(replayed),
        requirement=2,
    )


##= https://www.rfc-editor.org/rfc/rfc3903#section-14.4
##= type=test
##% For integrity protection, ESCs MUST implement TLS [8], and MUST
##% support both mutual and one-way authentication, and MUST also support
##% the SIPS URI scheme defined in SIP [4].
##= https://www.rfc-editor.org/rfc/rfc3903#section-14.5
##= type=test
##% For providing confidentiality, ESCs MUST implement TLS [8], MUST
##% support both mutual and one-way authentication, and MUST also support
##% the SIPS URI scheme defined in SIP [4].
@case(
    "esc-tls-sips",
    roles=("uas",),
    level="MUST",
    transports=("tls",),
    no_control="the case itself is the control: a PUBLISH refused otherwise is inconclusive",
)
def tls_sips(ctx: Context) -> None:
    """Over TLS (one-way: the runner shows no certificate), a PUBLISH with a SIPS
    Request-URI is accepted (2xx with a SIP-ETag), not refused with 416."""
    uses_publish(ctx)
    link = ctx.link()
    user, _ = presentity(ctx)
    uri = f"sips:{user}@{ctx.target.hostport}"
    final = exchange(ctx, link, publish(ctx, link, uri, body=pidf(uri)), "response to PUBLISH")
    if ok(final) and etag_of(final):
        Publication(ctx, link, uri, etag_of(final))
    ctx.check(final.status != 416, "the SIPS URI served (not 416)", describe(final), 1)
    ctx.check(ok(final) and bool(etag_of(final)), "a 2xx with a SIP-ETag", describe(final), 0)
