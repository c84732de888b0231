"""RFC 6665 on the wire, the subscriber (UAC role): the runner is the notifier.

The profile's ``[uac] subscribe`` command makes the target SUBSCRIBE to the runner's
``presence`` (and unsubscribe after the first NOTIFY); ``subscribe-long`` keeps it
subscribed, refreshing and subscribing again as the NOTIFYs tell it, until stopped.  The
runner answers the SUBSCRIBE as each case needs, sends NOTIFYs to the subscriber's
Contact (new dialogs by their From tag, as a fork would) and judges the responses and
the SUBSCRIBEs that follow.  Without those commands a case is not applicable.
"""

from __future__ import annotations

import time

from conformance.messages import unique
from conformance.model import Context, case, describe
from conformance.sipmsg import Message, param
from conformance.trigger import RUNNER_ANSWERS, UAC, Peer

PACKAGE = "presence"
PIDF = "application/pidf+xml"


def uri_of(value: str) -> str:
    value = value.strip()
    if "<" in value:
        return value.split("<", 1)[1].split(">", 1)[0].strip()
    return value.split(";", 1)[0].strip()


def events(message: Message) -> list[str]:
    """The event types of every Event header field value (comma-separated too)."""
    return [e.strip() for v in message.get_all("Event") for e in v.split(",") if e.strip()]


class Notifier:
    """The runner as the notifier of one SUBSCRIBE: NOTIFYs in dialogs told by From tag."""

    def __init__(self, ctx: Context, peer: Peer, subscribe: Message, addr: tuple[str, int]):
        self.ctx, self.peer, self.subscribe, self.addr = ctx, peer, subscribe, addr
        contacts = subscribe.get_all("Contact")
        self.target = uri_of(contacts[0]) if contacts else subscribe.uri or ""
        self.cseq: dict[str, int] = {}
        #: the runner's Contact (its remote target in the subscriber's dialogs)
        self.contact = f"<sip:uas@{peer.server.hostport}>"

    def accept(self, status: int = 200, tag: str | None = None, expires: int = 60) -> None:
        self.peer.answer(
            self.subscribe,
            self.addr,
            status,
            tag=tag,
            contact=False,
            headers=[f"Contact: {self.contact}", f"Expires: {expires}"],
        )

    def notify(
        self,
        tag: str,
        state: str,
        *,
        call_id: str | None = None,
        from_tag: str | None = None,
        note: str = "",
        body: bytes = b"",
        content_type: str = PIDF,
    ) -> Message | None:
        """Send a NOTIFY in the dialog of our ``tag`` (retransmitted over UDP until
        answered, up to 2 s); the subscriber's final response, or None."""
        number = self.cseq.get(tag, 0) + 1
        self.cseq[tag] = number
        branch = unique("z9hG4bK")
        theirs = self.subscribe.get("From") or ""
        if from_tag is not None:
            theirs = f"{theirs.split(';tag=')[0]};tag={from_tag}"
        lines = [
            f"NOTIFY {self.target} SIP/2.0",
            f"Via: SIP/2.0/UDP {self.peer.server.hostport};branch={branch}",
            "Max-Forwards: 70",
            f"From: {(self.subscribe.get('To') or '').split(';tag=')[0]};tag={tag}",
            f"To: {theirs}",
            f"Call-ID: {call_id or self.subscribe.call_id}",
            f"CSeq: {number} NOTIFY",
            f"Contact: {self.contact}",
            f"Event: {self.event}",
            f"Subscription-State: {state}",
        ]
        if body:
            lines.append(f"Content-Type: {content_type}")
        lines.append(f"Content-Length: {len(body)}")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        end = time.monotonic() + 2.0
        while time.monotonic() < end:
            self.peer.send(data, self.addr, note or f"NOTIFY {state}")
            got = self.peer.expect(
                lambda m: m.is_response and m.branch == branch and (m.status or 0) >= 200,
                max(0.2, 4 * self.ctx.profile.t1),
            )
            if got is not None:
                return got[0]
        return None

    @property
    def event(self) -> str:
        found = events(self.subscribe)
        return found[0] if found else PACKAGE

    def next_subscribe(self, within: float) -> tuple[Message, tuple[str, int]] | None:
        """The next SUBSCRIBE that is no retransmission of one seen."""
        seen = {self.subscribe.branch}
        end = time.monotonic() + within
        while (left := end - time.monotonic()) > 0:
            got = self.peer.request("SUBSCRIBE", left)
            if got is None:
                return None
            if got[0].branch not in seen:
                return got
        return None

    def finish(self, tag: str) -> None:
        """The postamble of ``[uac] subscribe``: its unsubscribe answered and terminated."""
        got = self.next_subscribe(2.0)
        if got is not None:
            request, addr = got
            self.peer.answer(request, addr, 200, tag=tag, headers=["Expires: 0"])
            self.notify(tag, "terminated;reason=timeout", note="postamble")


def _status(response: Message | None) -> int:
    return response.status or 0 if response is not None else 0


##= https://www.rfc-editor.org/rfc/rfc6665#section-3.1.2
##= type=test
##% Subscribers MUST include exactly one "Event" header field in SUBSCRIBE
##% requests, indicating to which event or class of events they are
##% subscribing.
##= https://www.rfc-editor.org/rfc/rfc6665#section-8.2.1
##= type=test
##% There MUST be exactly one event type listed per "Event" header field.
##= https://www.rfc-editor.org/rfc/rfc6665#section-8.3.1
##= type=test
##% Implementations conformant with the current specification MUST treat
##% an incoming 202 response as identical to a 200 response and MUST NOT
##% generate 202 response codes to SUBSCRIBE or NOTIFY requests.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.3
##= type=test
##% In particular, subscribers MUST NOT wait for a user
##% response before returning a final response to a NOTIFY request.
##= https://www.rfc-editor.org/rfc/rfc6665#section-8.2.1
##= type=test
##% It MUST NOT appear in any other SIP requests and MUST NOT appear in
##% responses.
##= https://www.rfc-editor.org/rfc/rfc6665#section-8.2.3
##= type=test
##% They MUST NOT appear in other SIP requests or responses.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.5.2
##= type=test
##% When a subscriber refreshes the subscription timer, the SUBSCRIBE
##% request MUST contain the same "Event" header field "id" parameter as
##% was present in the SUBSCRIBE request that created the subscription.
##= https://www.rfc-editor.org/rfc/rfc6665#section-3.1.1
##= type=test
##% SUBSCRIBE requests SHOULD contain an "Expires" header field (defined
##% in [RFC3261]).
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.3
##= type=test
##% Once the notification is deemed acceptable to the subscriber, the
##% subscriber SHOULD return a 200 response.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.6
##= type=test
##% UACs SHOULD NOT send CANCEL requests for SUBSCRIBE or NOTIFY
##% transactions.
@case(
    "rfc6665-subscriber-subscribe-202",
    roles=UAC,
    level="MUST",
    timeout=15,
    preamble="a SUBSCRIBE from the target ([uac] subscribe)",
    no_control=RUNNER_ANSWERS,
)
def subscribe_202(ctx: Context) -> None:
    """The SUBSCRIBE: one Event with one type (and Expires, a SHOULD); left unanswered for
    a while (no CANCEL), then 202: the NOTIFY gets a 200 (not 202) at once, with neither
    Event nor Subscription-State; the unsubscribe goes in the dialog with the same Event."""
    peer = Peer(ctx, "subscribe")
    subscribe, addr = peer.first("SUBSCRIBE")
    lines = subscribe.get_all("Event")
    found = events(subscribe)
    cancels = peer.collect(lambda m: m.method == "CANCEL", 5 * ctx.profile.t1)
    notifier = Notifier(ctx, peer, subscribe, addr)
    tag = unique("n")
    notifier.accept(202, tag)
    at = time.monotonic()
    response = notifier.notify(tag, "active;expires=60")
    took = time.monotonic() - at
    ctx.check(len(lines) == 1, "exactly one Event header field", str(lines) or "none", 0)
    ctx.check(len(found) == 1, "one event type in it", str(found), 1)
    ctx.should(subscribe.get("Expires") is not None, "an Expires in the SUBSCRIBE", "none")
    ctx.should(not cancels, "no CANCEL for the SUBSCRIBE", f"{len(cancels)} CANCEL")
    ctx.check(response is not None, "a final response to the NOTIFY", "none within 2 s", 3)
    assert response is not None
    ctx.check(took < 1.5, "the response at once (within 1.5 s)", f"after {took:.2f} s", 3)
    ctx.check(_status(response) != 202, "no 202 to the NOTIFY", describe(response), 2)
    ctx.should(_status(response) == 200, "200 to the NOTIFY", describe(response))
    ctx.check(
        not response.get_all("Event"),
        "no Event in the response",
        " | ".join(response.get_all("Event")),
        4,
    )
    ctx.check(
        not response.get_all("Subscription-State"),
        "no Subscription-State in the response",
        " | ".join(response.get_all("Subscription-State")),
        5,
    )
    got = notifier.next_subscribe(3.0)
    ctx.check(got is not None, "the unsubscribe (the 202 taken as a 200)", "no SUBSCRIBE", 2)
    assert got is not None
    again, where = got
    peer.answer(again, where, 200, tag=tag, headers=["Expires: 0"])
    notifier.notify(tag, "terminated;reason=timeout", note="postamble")
    ctx.check(
        param(again.get("To") or "", "tag") == tag and again.call_id == subscribe.call_id,
        f"the unsubscribe in the dialog (To tag {tag})",
        f"Call-ID {again.call_id}, To {again.get('To')}",
        2,
    )
    ctx.check(
        [e.replace(" ", "").lower() for e in events(again)]
        == [e.replace(" ", "").lower() for e in found],
        f"the same Event ({', '.join(found)}, id included)",
        ", ".join(events(again)),
        6,
    )


##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.3
##= type=test
##% Upon receiving a NOTIFY request, the subscriber should check that it
##% matches at least one of its outstanding subscriptions; if not, it MUST
##% return a 481 (Subscription does not exist) response unless another
##% 400- or 500-class response is more appropriate.
@case(
    "rfc6665-subscriber-unknown-notify-481",
    roles=UAC,
    level="MUST",
    timeout=15,
    preamble="a SUBSCRIBE from the target ([uac] subscribe)",
    no_control=RUNNER_ANSWERS,
)
def unknown_notify(ctx: Context) -> None:
    """A NOTIFY of a Call-ID the subscriber never used gets 481."""
    peer = Peer(ctx, "subscribe")
    subscribe, addr = peer.first("SUBSCRIBE")
    notifier = Notifier(ctx, peer, subscribe, addr)
    tag = unique("n")
    stray = notifier.notify(
        unique("x"), "active;expires=60", call_id=unique("stray"), from_tag=unique("f")
    )
    notifier.accept(200, tag)
    notifier.notify(tag, "active;expires=60")
    notifier.finish(tag)
    ctx.check(
        _status(stray) == 481,
        "481 (Subscription does not exist)",
        describe(stray) if stray else "none",
    )


##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.2.4
##= type=test
##% Due to the potential for out-of-order messages, packet loss, and
##% forking, the subscriber MUST be prepared to receive NOTIFY requests
##% before the SUBSCRIBE transaction has completed.
@case(
    "rfc6665-subscriber-notify-before-2xx",
    roles=UAC,
    level="MUST",
    timeout=15,
    preamble="a SUBSCRIBE from the target ([uac] subscribe)",
    no_control=RUNNER_ANSWERS,
)
def notify_before_2xx(ctx: Context) -> None:
    """The NOTIFY comes before the 200 to the SUBSCRIBE: it is accepted (2xx)."""
    peer = Peer(ctx, "subscribe")
    subscribe, addr = peer.first("SUBSCRIBE")
    notifier = Notifier(ctx, peer, subscribe, addr)
    tag = unique("n")
    early = notifier.notify(tag, "active;expires=60")
    notifier.accept(200, tag)
    notifier.finish(tag)
    ctx.check(
        200 <= _status(early) < 300,
        "a 2xx to the NOTIFY sent before the 200 to SUBSCRIBE",
        describe(early) if early else "none",
    )


##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.4
##= type=test
##% The subscriber MUST therefore
##% be prepared to receive NOTIFY requests with "From:" tags that differ
##% from the "To:" tag received in the SUBSCRIBE 200-class response.
@case(
    "rfc6665-subscriber-forked-notify",
    roles=UAC,
    level="MUST",
    timeout=15,
    preamble="a SUBSCRIBE from the target ([uac] subscribe)",
    no_control=RUNNER_ANSWERS,
)
def forked_notify(ctx: Context) -> None:
    """The 200 has To tag A, the NOTIFY comes from tag B (a fork): accepted (2xx) — a
    presence subscription may fork (RFC 3856)."""
    peer = Peer(ctx, "subscribe")
    subscribe, addr = peer.first("SUBSCRIBE")
    notifier = Notifier(ctx, peer, subscribe, addr)
    first, forked = unique("a"), unique("b")
    notifier.accept(200, first)
    other = notifier.notify(forked, "active;expires=60")
    notifier.finish(forked)
    ctx.check(
        200 <= _status(other) < 300,
        f"a 2xx to the NOTIFY from tag {forked} (the 200's tag: {first})",
        describe(other) if other else "none",
    )


def _long(ctx: Context) -> tuple[Peer, Notifier]:
    peer = Peer(ctx, "subscribe-long")
    subscribe, addr = peer.first("SUBSCRIBE")
    return peer, Notifier(ctx, peer, subscribe, addr)


##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.3
##= type=test
##% If the header field also contains an "expires" parameter, the subscriber SHOULD
##% take it as the authoritative subscription duration and adjust accordingly.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.3
##= type=test
##% there is insufficient policy
##% information to grant or deny the subscription yet.  If the header
##% field also contains an "expires" parameter, the subscriber SHOULD
##% take it as the authoritative subscription duration and adjust
##% accordingly.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.2.2
##= type=test
##% If a SUBSCRIBE request to refresh a subscription receives a 404, 405,
##% 410, 416, 480-485, 489, 501, or 604 response, the subscriber MUST
##% consider the subscription terminated.
@case(
    "rfc6665-subscriber-refresh",
    roles=UAC,
    level="MUST",
    timeout=15,
    preamble="a SUBSCRIBE from the target, accepted for 60 s ([uac] subscribe-long)",
    no_control=RUNNER_ANSWERS,
)
def refresh(ctx: Context) -> None:
    """A 200 for 60 s, then NOTIFY pending;expires=1: a refresh in the dialog within 2 s;
    again with active;expires=1; that refresh gets 481: the subscription is over (a NOTIFY
    in its dialog gets 481, no more refreshes)."""
    peer, notifier = _long(ctx)
    tag = unique("n")
    notifier.accept(200, tag, 60)
    notifier.notify(tag, "pending;expires=1")
    first = notifier.next_subscribe(2.5)
    if first is not None:
        peer.answer(first[0], first[1], 200, tag=tag, headers=["Expires: 60"])
        notifier.notify(tag, "active;expires=1")
    second = notifier.next_subscribe(2.5) if first is not None else None
    if second is not None:
        peer.answer(second[0], second[1], 481, tag=tag, contact=False)
    after = notifier.notify(tag, "active;expires=60") if second is not None else None
    ctx.should(first is not None, "a refresh within 2.5 s of pending;expires=1", "none")
    ctx.should(second is not None, "a refresh within 2.5 s of active;expires=1", "none")
    if second is None:
        ctx.inconclusive("no refresh to answer with 481 (see the warnings)")
    ctx.check(
        _status(after) == 481,
        "481 to a NOTIFY after the refresh got 481 (the subscription over)",
        describe(after) if after else "none",
        2,
    )


def _resubscribed(
    notifier: Notifier, within: float, reused: list[Message] | None = None
) -> tuple[Message, tuple[str, int]] | None:
    """A new subscription (a SUBSCRIBE outside the dialogs: no To tag), refused with 489;
    a SUBSCRIBE in one of the ended dialogs goes to ``reused``."""
    end = time.monotonic() + within
    while (left := end - time.monotonic()) > 0:
        got = notifier.next_subscribe(left)
        if got is None:
            return None
        notifier.peer.answer(got[0], got[1], 489, contact=False)
        if param(got[0].get("To") or "", "tag") is None:
            return got
        if reused is not None:
            reused.append(got[0])
    return None


##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.3
##= type=test
##% deactivated: The subscription has been terminated, but the subscriber
##% SHOULD retry immediately with a new subscription.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.4.2
##= type=test
##% Upon receipt of this NOTIFY request, the subscriber SHOULD attempt
##% to re-subscribe (as described in the preceding sections).
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.3
##= type=test
##% rejected: The subscription has been terminated due to change in
##% authorization policy.  Clients SHOULD NOT attempt to re-subscribe.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.3
##= type=test
##% noresource: The subscription has been terminated because the
##% resource state that was being monitored no longer exists.  Clients
##% SHOULD NOT attempt to re-subscribe.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.3
##= type=test
##% Clients SHOULD NOT
##% attempt to re-subscribe after receiving a reason code of
##% "invariant", regardless of the presence of or value of a "retry-
##% after" parameter.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.3
##= type=test
##% If the "Subscription-State" value is "terminated", the subscriber
##% MUST consider the subscription terminated.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.3
##= type=test
##% and
##% subscribers MUST ignore any such parameter, if present.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.5.2
##= type=test
##% Subscribers MUST NOT attempt to reuse dialogs whose remote target is a
##% GRUU.
@case(
    "rfc6665-subscriber-terminated-reasons",
    roles=UAC,
    level="MUST",
    timeout=15,
    preamble="a SUBSCRIBE from the target, accepted by four notifiers (forks) "
    "([uac] subscribe-long)",
    no_control=RUNNER_ANSWERS,
)
def terminated_reasons(ctx: Context) -> None:
    """Four forked subscriptions ended one by one: deactivated (a new SUBSCRIBE follows at
    once), rejected, noresource;expires=30 and invariant;retry-after=0 (none follows); a
    NOTIFY in each terminated dialog then gets 481."""
    _, notifier = _long(ctx)
    tags = [unique("d"), unique("r"), unique("n"), unique("i")]
    # the remote target a GRUU: the new subscription after deactivated must not reuse it
    notifier.contact = f"<sip:uas@{notifier.peer.server.hostport};gr=urn:uuid:{unique('')}>"
    with ctx.preamble("four subscriptions, one per notifier (fork)"):
        notifier.accept(200, tags[0])
        for tag in tags:
            got = notifier.notify(tag, "active;expires=60")
            if not 200 <= _status(got) < 300:
                ctx.inconclusive(f"the NOTIFY from {tag} was not accepted: {describe(got)}")
    wait = max(0.4, 4 * ctx.profile.t1)
    notifier.notify(tags[0], "terminated;reason=deactivated")
    reused: list[Message] = []
    again = _resubscribed(notifier, 1.5, reused)
    quiet: dict[str, bool] = {}
    for tag, state in zip(
        tags[1:],
        (
            "terminated;reason=rejected",
            "terminated;reason=noresource;expires=30",
            "terminated;reason=invariant;retry-after=0",
        ),
        strict=True,
    ):
        notifier.notify(tag, state)
        quiet[state.split("reason=")[1].split(";")[0]] = _resubscribed(notifier, wait) is None
    afterwards = {tag: notifier.notify(tag, "active;expires=60") for tag in tags}
    ctx.should(again is not None, "a new SUBSCRIBE at once after deactivated", "none in 1.5 s")
    ctx.should(again is not None, "a new subscription (re-subscribe)", "none in 1.5 s")
    for reason, ok in quiet.items():
        ctx.should(ok, f"no new SUBSCRIBE after reason={reason}", "one")
    late = {t: describe(r) if r else "none" for t, r in afterwards.items() if _status(r) != 481}
    ctx.check(not late, "481 to a NOTIFY in every terminated subscription", str(late), 5)
    ctx.check(
        not reused,
        "no SUBSCRIBE in a dialog whose remote target is a GRUU",
        ", ".join(f"{m.get('CSeq')} To {m.get('To')}" for m in reused),
        7,
    )
    ctx.check(
        tags[2] not in late,
        "the expires of a terminated Subscription-State ignored (481 after it)",
        late.get(tags[2], "481"),
        6,
    )


##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.3
##= type=test
##% probation: The subscription has been terminated, but the client
##% SHOULD retry at some later time (as long as the resource's state
##% is still relevant to the client at that time).
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.3
##= type=test
##% If a "retry-after"
##% parameter is also present, the client SHOULD wait at least the
##% number of seconds specified by that parameter before attempting to
##% re-subscribe.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.3
##= type=test
##% giveup: The subscription has been terminated because the notifier
##% could not obtain authorization in a timely fashion.  If a "retry-
##% after" parameter is also present, the client SHOULD wait at least
##% the number of seconds specified by that parameter before attempting
##% to re-subscribe
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.3
##= type=test
##% If no reason code or an unknown reason code is present, the client MAY
##% attempt to re-subscribe at any time (unless a "retry-after" parameter
##% is present, in which case the client SHOULD NOT attempt re-
##% subscription until after the number of seconds specified by the
##% "retry-after" parameter).
@case(
    "rfc6665-subscriber-retry-after",
    roles=UAC,
    level="SHOULD",
    timeout=15,
    preamble="a SUBSCRIBE from the target, accepted by three notifiers (forks) "
    "([uac] subscribe-long)",
    no_control=RUNNER_ANSWERS,
)
def retry_after(ctx: Context) -> None:
    """Three forked subscriptions terminated with retry-after=1: probation, giveup and no
    reason; no new SUBSCRIBE within 0.8 s, then one (probation: retry later) by 3 s."""
    _, notifier = _long(ctx)
    tags = [unique("p"), unique("g"), unique("u")]
    with ctx.preamble("three subscriptions, one per notifier (fork)"):
        notifier.accept(200, tags[0])
        for tag in tags:
            got = notifier.notify(tag, "active;expires=60")
            if not 200 <= _status(got) < 300:
                ctx.inconclusive(f"the NOTIFY from {tag} was not accepted: {describe(got)}")
    at = time.monotonic()
    for tag, state in zip(
        tags,
        (
            "terminated;reason=probation;retry-after=1",
            "terminated;reason=giveup;retry-after=1",
            "terminated;retry-after=1",
        ),
        strict=True,
    ):
        notifier.notify(tag, state)
    first = _resubscribed(notifier, 3.0)
    took = time.monotonic() - at
    early = first is not None and took < 0.8
    ctx.should(not early, "no new SUBSCRIBE within 1 s (retry-after=1)", f"one after {took:.2f} s")
    ctx.should(first is not None, "a new SUBSCRIBE later (probation)", "none within 3 s")
    ctx.should(not early, "none before retry-after (giveup)", f"one after {took:.2f} s")
    ctx.should(not early, "none before retry-after (no reason)", f"one after {took:.2f} s")
    _resubscribed(notifier, 0.3)


##= https://www.rfc-editor.org/rfc/rfc6665#section-4.1.2.4
##= type=test
##% After the
##% expiration of Timer N, the subscriber SHOULD reject any such NOTIFY
##% requests that would otherwise establish a new dialog usage with a 481
##% (Subscription does not exist) response code.
@case(
    "rfc6665-subscriber-timer-n-481",
    roles=UAC,
    level="SHOULD",
    timeout=20,
    preamble="a SUBSCRIBE from the target, accepted without NOTIFY ([uac] subscribe-long)",
    no_control=RUNNER_ANSWERS,
)
def timer_n(ctx: Context) -> None:
    """A 200 to the SUBSCRIBE and no NOTIFY: after Timer N (64*T1) a NOTIFY from another
    notifier (a fork, which would make a new dialog usage) gets 481."""
    _, notifier = _long(ctx)
    at = time.monotonic()  # the SUBSCRIBE just arrived: Timer N started a moment ago
    notifier.accept(200, unique("a"))
    left = at + 64 * ctx.profile.t1 + 0.5 - time.monotonic()
    stray = notifier.peer.collect(lambda m: m.method == "SUBSCRIBE", max(0.0, left))
    for _, message in stray:  # a new attempt after the failure: refused
        notifier.peer.answer(message, notifier.addr, 489, contact=False)
    late = notifier.notify(unique("b"), "active;expires=60")
    ctx.should(
        _status(late) == 481,
        "481 to a NOTIFY making a new dialog after Timer N",
        describe(late) if late else "none",
    )


def _probe(notifier: Notifier, package: str) -> Message | None:
    """A fetch (SUBSCRIBE, Expires: 0) of ``package`` sent to the subscriber's Contact; its
    final response (the NOTIFY a 2xx brings is answered)."""
    peer, branch = notifier.peer, unique("z9hG4bK")
    call_id = unique("probe")
    lines = [
        f"SUBSCRIBE {notifier.target} SIP/2.0",
        f"Via: SIP/2.0/UDP {peer.server.hostport};branch={branch}",
        "Max-Forwards: 70",
        f"To: <{notifier.target}>",
        f"From: <sip:uas@{peer.server.hostport}>;tag={unique('p')}",
        f"Call-ID: {call_id}",
        "CSeq: 1 SUBSCRIBE",
        f"Contact: <sip:uas@{peer.server.hostport}>",
        f"Event: {package}",
        "Expires: 0",
        "Content-Length: 0",
    ]
    data = ("\r\n".join(lines) + "\r\n\r\n").encode()
    final = None
    end = time.monotonic() + 2.0
    while final is None and time.monotonic() < end:
        peer.send(data, notifier.addr, f"SUBSCRIBE {package} (Allow-Events probe)")
        got = peer.expect(
            lambda m: m.is_response and m.branch == branch and (m.status or 0) >= 200,
            max(0.2, 4 * notifier.ctx.profile.t1),
        )
        final = got[0] if got is not None else None
    if final is not None and 200 <= (final.status or 0) < 300:
        got = peer.expect(lambda m: m.method == "NOTIFY" and m.call_id == call_id, 1.0)
        if got is not None:
            peer.answer(got[0], got[1], 200, contact=False)
    return final


##= https://www.rfc-editor.org/rfc/rfc6665#section-4.4.4
##= type=test
##% The "Allow-Events" header field, if present, MUST include a
##% comprehensive and inclusive list of tokens that indicates the event
##% packages for which the user agent can act as a notifier.
@case(
    "rfc6665-subscriber-allow-events",
    roles=UAC,
    level="MUST",
    timeout=15,
    preamble="a SUBSCRIBE from the target with Allow-Events ([uac] subscribe-long)",
    no_control=RUNNER_ANSWERS,
)
def allow_events(ctx: Context) -> None:
    """The SUBSCRIBE's Allow-Events, probed: a fetch of each package listed is not refused
    with 489 (Bad Event); a fetch of a package nobody defines is (it is not listed)."""
    _, notifier = _long(ctx)
    subscribe = notifier.subscribe
    notifier.peer.answer(subscribe, notifier.addr, 489, contact=False)
    values = subscribe.get_all("Allow-Events")
    tokens = [t.strip().lower() for v in values for t in v.split(",") if t.strip()]
    if not values:
        ctx.not_applicable("the SUBSCRIBE has no Allow-Events (the requirement is 'if present')")
    refused = {}
    for package in tokens[:4]:
        got = _probe(notifier, package)
        if got is None:
            ctx.inconclusive(f"no answer to a SUBSCRIBE for {package}")
        if _status(got) == 489:
            refused[package] = describe(got)
    unknown = _probe(notifier, "x-sipref-no-such-package")
    ctx.check(
        not refused,
        "no 489 (Bad Event) for a package Allow-Events lists",
        ", ".join(f"{k}: {v}" for k, v in refused.items()),
    )
    ctx.check(
        unknown is None or not 200 <= _status(unknown) < 300,
        "a package Allow-Events does not list not accepted",
        f"x-sipref-no-such-package: {describe(unknown) if unknown else 'none'}",
    )
