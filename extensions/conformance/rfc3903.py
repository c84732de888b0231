"""RFC 3903 on the wire, the EPA (UAC role): what a publisher sends, as §4 and §5 say.

The runner plays the event state compositor (ESC) the target publishes presence to: the
profile's ``[uac] publish`` command publishes, refreshes and removes the state (about 1.5 s
in all), ``publish-modify`` publishes and modifies it at once, then removes it.  The runner
answers with its own entity-tags (SIP-ETag) and judges the SIP-If-Match, Expires and
bodies of each PUBLISH.  Without those commands a case is not applicable.
"""

from __future__ import annotations

import re

from conformance.cases.uac_retry import digest_challenge, verify_digest
from conformance.messages import unique
from conformance.model import Context, case
from conformance.sipmsg import Message
from conformance.trigger import RUNNER_ANSWERS, UAC, Peer

#: a Record-Route a PUBLISH's response may carry: it must change nothing (§4)
RECORD_ROUTE = "Record-Route: <sip:127.0.0.1:9;lr>"
#: "refresh, then remove": the [uac] publish command's refresh comes at about 1 s
WAIT = 4.0


def events(message: Message) -> list[str]:
    """The event packages of every Event header field value (comma-separated too)."""
    return [e.strip() for v in message.get_all("Event") for e in v.split(",") if e.strip()]


def _if_match(message: Message) -> list[str]:
    return [v.strip() for v in message.get_all("SIP-If-Match") for v in v.split(",")]


def _accept(peer: Peer, request: Message, addr: tuple[str, int], etag: str, expires: int) -> None:
    """200 (OK) with the runner's entity-tag, the interval and a Record-Route to ignore."""
    peer.answer(
        request,
        addr,
        200,
        contact=False,
        headers=[f"SIP-ETag: {etag}", f"Expires: {expires}", RECORD_ROUTE],
    )


def _next(ctx: Context, peer: Peer, after: Message, what: str) -> tuple[Message, tuple[str, int]]:
    """The next PUBLISH that is not a retransmission of ``after``; inconclusive if none."""
    while True:
        got = peer.request("PUBLISH", WAIT)
        if got is None:
            ctx.inconclusive(f"no {what} within {WAIT:g} s")
        assert got is not None
        if got[0].branch != after.branch:
            return got


def _tuple_ids(body: bytes) -> list[str]:
    return re.findall(
        r"<(?:\w+:)?tuple\b[^>]*\bid=[\"']([^\"']+)", body.decode("utf-8", "replace")
    )


def _initial_checks(ctx: Context, initial: Message, first: int) -> None:
    """The checks of an initial PUBLISH, its requirements numbered from ``first``."""
    found = events(initial)
    ctx.check(len(found) == 1, "a single Event header field", str(found) or "none", first)
    ctx.check(
        not initial.get_all("SIP-If-Match"),
        "no SIP-If-Match in the initial PUBLISH",
        " | ".join(initial.get_all("SIP-If-Match")),
        first + 1,
    )
    ctx.check(bool(initial.body), "a body (the published state)", "no body", first + 2)


##= https://www.rfc-editor.org/rfc/rfc3903#section-4.1
##= type=test
##% For determining the type of the published event state, the EPA MUST
##% include a single Event header field in PUBLISH requests.
##= https://www.rfc-editor.org/rfc/rfc3903#section-4.2
##= type=test
##% An initial PUBLISH request MUST NOT contain a SIP-If-Match header
##% field.
##= https://www.rfc-editor.org/rfc/rfc3903#section-4.2
##= type=test
##% An initial PUBLISH request MUST contain a body that contains the
##% published event state.
##= https://www.rfc-editor.org/rfc/rfc3903#section-10.1
##= type=test
##% A PUA that uses PUBLISH to publish presence state to the PA MUST
##% support the PIDF presence format.
##= https://www.rfc-editor.org/rfc/rfc3903#section-4.1
##= type=test
##% When updating previously published event state, PUBLISH requests
##% MUST contain a single SIP-If-Match header field identifying the
##% specific event state that the request is refreshing, modifying or
##% removing.
##= https://www.rfc-editor.org/rfc/rfc3903#section-4.1
##= type=test
##% This header field MUST contain a single entity-tag that was returned
##% by the ESC in the SIP-ETag header field of the response to a previous
##% publication.
##= https://www.rfc-editor.org/rfc/rfc3903#section-4.3
##= type=test
##% To refresh a publication, the EPA MUST create a PUBLISH request that
##% includes in a SIP-If-Match header field the entity-tag of the
##% publication to be refreshed.
##= https://www.rfc-editor.org/rfc/rfc3903#section-4.3
##= type=test
##% Therefore, a PUBLISH request that refreshes event state
##% MUST NOT have a body.
##= https://www.rfc-editor.org/rfc/rfc3903#section-4
##= type=test
##% The Record-Route header field has no meaning in PUBLISH requests or
##% responses, and MUST be ignored if present.
##= https://www.rfc-editor.org/rfc/rfc3903#section-4
##= type=test
##% In particular, the UAC
##% MUST NOT create a new route set based on the presence or absence of
##% a Record-Route header field in any response to a PUBLISH request.
##= https://www.rfc-editor.org/rfc/rfc3903#section-4.3
##= type=test
##% The EPA MUST store this entity-tag, replacing any existing entity-tag
##% for the refreshed event state.
##= https://www.rfc-editor.org/rfc/rfc3903#section-4.5
##= type=test
##% To request the immediate removal of event state, an EPA MUST create
##% a PUBLISH request with an Expires value of "0", and set the SIP-If-
##% Match header field to contain the entity-tag of the event state
##% publication to be removed.
##= https://www.rfc-editor.org/rfc/rfc3903#section-4.5
##= type=test
##% Therefore, a PUBLISH request that removes
##% event state MUST NOT contain a body.
@case(
    "rfc3903-epa-publish-refresh-remove",
    roles=UAC,
    level="MUST",
    timeout=15,
    preamble="a PUBLISH from the target ([uac] publish)",
    no_control=RUNNER_ANSWERS,
)
def publish_refresh_remove(ctx: Context) -> None:
    """An initial PUBLISH (one Event, no SIP-If-Match, a PIDF body) accepted for 2 s with a
    Record-Route; the refresh before expiry carries the entity-tag and no body, goes to the
    same URI without Route; the removal (Expires: 0) carries the refresh's new tag."""
    peer = Peer(ctx, "publish")
    initial, addr = peer.first("PUBLISH")
    first_tag, second_tag = unique("e1"), unique("e2")
    _accept(peer, initial, addr, first_tag, 2)
    _initial_checks(ctx, initial, 0)
    kind = (initial.get("Content-Type") or "").split(";")[0].strip().lower()
    ctx.check(kind == "application/pidf+xml", "a PIDF body", f"Content-Type: {kind}", 3)
    refresh, addr = _next(ctx, peer, initial, "refreshing PUBLISH")
    # a refresh, or the removal already (the interval of 2 s ended unrefreshed)
    removal_first = (refresh.get("Expires") or "").strip() == "0"
    _accept(peer, refresh, addr, second_tag, 0 if removal_first else 2)
    matches = _if_match(refresh)
    ctx.check(len(matches) == 1, "a single SIP-If-Match", str(matches), 4)
    ctx.check(matches == [first_tag], f"SIP-If-Match: {first_tag}", str(matches), 5)
    ctx.check(not removal_first, "a refresh before the 2 s ran out", "the removal first", 6)
    ctx.check(not refresh.body, "no body in the refresh", f"{len(refresh.body)} bytes", 7)
    ctx.check(
        refresh.uri == initial.uri and not refresh.get_all("Route"),
        f"the refresh to {initial.uri} without Route (the Record-Route ignored)",
        f"{refresh.uri}, Route: {' | '.join(refresh.get_all('Route'))}",
        8,
    )
    ctx.check(not refresh.get_all("Route"), "no Route", " | ".join(refresh.get_all("Route")), 9)
    removal, addr = _next(ctx, peer, refresh, "removing PUBLISH")
    peer.answer(removal, addr, 200, contact=False, headers=[f"SIP-ETag: {second_tag}"])
    ctx.check(
        _if_match(removal) == [second_tag],
        f"SIP-If-Match: {second_tag} (the refresh's tag)",
        str(_if_match(removal)),
        10,
    )
    ctx.check(
        (removal.get("Expires") or "").strip() == "0",
        "Expires: 0",
        f"Expires: {removal.get('Expires')}",
        11,
    )
    ctx.check(not removal.body, "no body in the removal", f"{len(removal.body)} bytes", 12)


##= https://www.rfc-editor.org/rfc/rfc3903#section-4.4
##= type=test
##% To modify event state, the EPA MUST construct a PUBLISH request that
##% includes in a SIP-If-Match header field the entity-tag of the event
##% state publication to be modified.
##= https://www.rfc-editor.org/rfc/rfc3903#section-4.4
##= type=test
##% A PUBLISH request that modifies
##% event state MUST contain a body that includes the modified event
##% state.
##= https://www.rfc-editor.org/rfc/rfc3903#section-4.2
##= type=test
##% However, if the EPA expects an appropriate, locally stored
##% entity-tag to still be valid, it SHOULD first try to modify that
##% event state as described in Section 4.4, instead of submitting an
##% initial publication.
##= https://www.rfc-editor.org/rfc/rfc3903#section-10.4
##= type=test
##% In presence publication, the EPA MUST keep the "id" attributes of
##% tuples consistent in the context of an entity-tag.
##= https://www.rfc-editor.org/rfc/rfc3903#section-10.4
##= type=test
##% If a publication
##% modifies the contents of a tuple, that tuple MUST maintain its
##% original "id".
##= https://www.rfc-editor.org/rfc/rfc3903#section-4
##= type=test
##% EPAs MUST NOT send a new PUBLISH request (not a re-transmission) for
##% the same Request-URI, until they have received a final response from
##% the ESC for the previous one or the previous PUBLISH request has timed
##% out.
##= https://www.rfc-editor.org/rfc/rfc3903#section-4.4
##= type=test
##% The EPA MUST store this entity-tag, replacing any
##% existing entity-tag for the modified event state.
@case(
    "rfc3903-epa-modify",
    roles=UAC,
    level="MUST",
    timeout=15,
    preamble="a PUBLISH from the target, accepted ([uac] publish-modify)",
    no_control=RUNNER_ANSWERS,
)
def modify(ctx: Context) -> None:
    """The publication modified: SIP-If-Match with the tag, a body with the same tuple ids;
    the runner holds its answer 0.8 s and no other PUBLISH comes meanwhile (the removal
    waits); the removal then names the modification's new tag."""
    peer = Peer(ctx, "publish-modify")
    initial, addr = peer.first("PUBLISH")
    first_tag, second_tag = unique("e1"), unique("e2")
    _accept(peer, initial, addr, first_tag, 60)
    changed, addr = _next(ctx, peer, initial, "modifying PUBLISH")
    # hold the final response: only retransmissions of it may come meanwhile
    others = [
        m
        for _, m in peer.collect(
            lambda m: m.method == "PUBLISH" and m.branch != changed.branch,
            8 * ctx.profile.t1,
        )
    ]
    _accept(peer, changed, addr, second_tag, 60)
    ctx.check(
        _if_match(changed) == [first_tag],
        f"SIP-If-Match: {first_tag}",
        str(_if_match(changed)),
        0,
    )
    ctx.check(bool(changed.body), "a body (the modified state)", "no body", 1)
    ctx.should(
        _if_match(changed) != [], "a modification (SIP-If-Match), not a new publication", "none"
    )
    before, after = _tuple_ids(initial.body), _tuple_ids(changed.body)
    ctx.check(
        set(after) <= set(before),
        f"the tuple ids of the initial publication ({', '.join(before)})",
        ", ".join(after),
        3,
    )
    ctx.check(before == after, "each tuple keeping its id", f"{before} -> {after}", 4)
    ctx.check(
        not others,
        "no new PUBLISH before the final response to the modification",
        ", ".join(f"{m.get('CSeq')} ({m.branch})" for m in others),
        5,
    )
    if others:
        removal_msg, where = others[0], addr
    else:
        removal_msg, where = _next(ctx, peer, changed, "removing PUBLISH")
    peer.answer(removal_msg, where, 200, contact=False)
    ctx.check(
        _if_match(removal_msg) == [second_tag],
        f"SIP-If-Match: {second_tag} (the modification's tag)",
        str(_if_match(removal_msg)),
        6,
    )


##= https://www.rfc-editor.org/rfc/rfc3903#section-5
##= type=test
##% If an EPA receives a 412 (Conditional Request Failed) response, it
##% MUST NOT reattempt the PUBLISH request.
##= https://www.rfc-editor.org/rfc/rfc3903#section-5
##= type=test
##% Instead, to publish event
##% state, the EPA SHOULD perform an initial publication, i.e., a PUBLISH
##% request without a SIP-If-Match header field, as described in Section
##% 4.2.
##= https://www.rfc-editor.org/rfc/rfc3903#section-5
##= type=test
##% The EPA MUST also discard the entity-tag that produced this
##% error response.
@case(
    "rfc3903-epa-412-not-retried",
    roles=UAC,
    level="MUST",
    timeout=15,
    preamble="a PUBLISH from the target, accepted ([uac] publish-modify)",
    no_control=RUNNER_ANSWERS,
)
def conditional_failed(ctx: Context) -> None:
    """The modification gets 412: the same PUBLISH (that tag) never again; the next one is
    an initial publication (no SIP-If-Match, a body); the removal names its new tag."""
    peer = Peer(ctx, "publish-modify")
    initial, addr = peer.first("PUBLISH")
    first_tag, third_tag = unique("e1"), unique("e3")
    _accept(peer, initial, addr, first_tag, 60)
    changed, addr = _next(ctx, peer, initial, "modifying PUBLISH")
    if _if_match(changed) != [first_tag]:
        ctx.inconclusive(f"the second PUBLISH is no modification: {_if_match(changed)}")
    peer.answer(changed, addr, 412, contact=False)
    later = [
        m
        for _, m in peer.collect(
            lambda m: m.method == "PUBLISH" and m.branch != changed.branch, 10 * ctx.profile.t1
        )
    ]
    for message in later:
        tags = _if_match(message)
        peer.answer(
            message, addr, 200, contact=False, headers=[f"SIP-ETag: {third_tag}", "Expires: 60"]
        )
        ctx.check(
            first_tag not in tags,
            f"no PUBLISH with SIP-If-Match: {first_tag} after its 412",
            f"{message.get('CSeq')} with SIP-If-Match: {', '.join(tags)}",
            0,
        )
        ctx.check(first_tag not in tags, "the failed entity-tag discarded", f"{tags} again", 2)
    if later:
        again = later[0]
        ctx.should(
            not _if_match(again) and bool(again.body),
            "an initial publication next (no SIP-If-Match, a body)",
            f"SIP-If-Match: {_if_match(again)}, {len(again.body)} bytes",
        )


##= https://www.rfc-editor.org/rfc/rfc3903#section-14.1
##= type=test
##% ESCs and EPAs MUST implement Digest for authenticating PUBLISH
##% requests, as defined in RFC 3261 [4].
##= https://www.rfc-editor.org/rfc/rfc3903#section-14.2
##= type=test
##% Implementations MUST support Digest authentication, as defined in
##% RFC 3261 [4].
@case(
    "rfc3903-epa-digest",
    roles=UAC,
    level="MUST",
    timeout=15,
    preamble="a PUBLISH from the target ([uac] publish)",
    no_control=RUNNER_ANSWERS,
)
def digest(ctx: Context) -> None:
    """The initial PUBLISH challenged (401): it comes again with Digest credentials."""
    if not ctx.profile.password:
        ctx.not_applicable("the profile gives no [credentials] password")
    peer = Peer(ctx, "publish")
    initial, addr = peer.first("PUBLISH")
    peer.answer(initial, addr, 401, headers=[digest_challenge(401)], contact=False)
    again, addr = _next(ctx, peer, initial, "PUBLISH after the 401")
    _accept(peer, again, addr, unique("e1"), 60)
    # an Authorization (the case's quote 0), the right digest in it (quote 1)
    verify_digest(ctx, again, "Authorization", 1, level="", present=0)
