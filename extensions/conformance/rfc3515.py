"""RFC 3515 on the wire: a target that allows REFER answers it as §2.4 says, and one that
transfers a call ([uac] transfer) sends its REFER as §2 and §2.4.1 say.  (The referee
cases beyond the first two are named ``refer-*``: the ``rfc3515-*`` pair is the quick set
`extensions.tests.test_conformance_refer` runs against a bare referee.)

The cases apply to a UAS whose profile lists REFER among its methods (``python -m
rfc3261 ua --extension refer``, which accepts every well-formed REFER); against any
other target they are not applicable.  The accepted REFER asks for an OPTIONS to the
runner itself (``;method=OPTIONS`` in the Refer-To URI), which the runner answers, so
the reference completes and the implicit subscription ends with its final NOTIFY.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable

from conformance.messages import Outgoing, bye_for, unique
from conformance.model import Context, case, describe
from conformance.sipmsg import Message
from conformance.trigger import RUNNER_ANSWERS, UAC, Peer
from conformance.wire import Link


def _referee(ctx: Context) -> None:
    if "REFER" not in ctx.profile.methods:
        ctx.not_applicable("the profile does not list REFER among the target's methods")


def _answer(link, request: Message, status: str = "200 OK") -> None:  # type: ignore[no-untyped-def]
    """200 (OK), or ``status``, to a request the target sent us (a NOTIFY, the referenced
    OPTIONS or INVITE)."""
    lines = [f"SIP/2.0 {status}"]
    lines += [f"Via: {v}" for v in request.get_all("Via")]
    to = request.get("To") or ""
    lines += [
        f"From: {request.get('From')}",
        f"To: {to}" + ("" if "tag=" in to else ";tag=conformance"),
        f"Call-ID: {request.call_id}",
        f"CSeq: {request.get('CSeq')}",
        "Content-Length: 0",
    ]
    link.send(("\r\n".join(lines) + "\r\n\r\n").encode(), f"200 to {request.method}")


##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.2
##= type=test
##% An agent responding to a REFER method MUST return a 400 (Bad Request)
##% if the request contained zero or more than one Refer-To header field
##% values.
@case("rfc3515-no-refer-to-400", roles=("uas",), level="MUST")
def no_refer_to(ctx: Context) -> None:
    """A REFER without Refer-To gets 400 (Bad Request)."""
    _referee(ctx)
    link = ctx.link()
    probe = ctx.request(ctx.profile.probe or "OPTIONS", link)
    ctx.control(link, probe)
    final, _ = ctx.transaction(link, ctx.request("REFER", link), learn=False)
    final = ctx.require_final(final, "response to REFER without Refer-To")
    ctx.check(final.status == 400, "400 (Bad Request)", describe(final))


##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.4
##= type=test
##% Each NOTIFY MUST contain an Event header field with a value of refer
##% and possibly an id parameter (see Section 2.4.6).
##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.4
##= type=test
##% Each NOTIFY MUST contain a body of type "message/sipfrag" [3].
##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.7
##= type=test
##% The final NOTIFY sent in response to a REFER MUST indicate the
##% subscription has been "terminated" with a reason of "noresource".
##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.2
##= type=test
##% If approval is granted, the UA MUST contact the resource identified by the URI in the
##% Refer-To header field value as discussed in Section 2.4.3.
##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.2
##= type=test
##% If no final response has been generated according to the rules above, the UA MUST
##% return a 202 Accepted response before the REFER transaction expires.
##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.2
##= type=test
##% If a REFER request is accepted (that is, a 2xx class response is returned), the
##% recipient MUST create a subscription and send notifications of the status of the refer
##% as described in Section 2.4.4.
##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.4
##= type=test
##% The NOTIFY mechanism defined in [2] MUST be used to inform the agent sending the REFER
##% of the status of the reference.
##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.5
##= type=test
##% Each NOTIFY MUST contain a body of type "message/sipfrag" [3].
##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.5
##= type=test
##% The body of a NOTIFY MUST begin with a SIP Response Status-Line as defined in [1].
##= https://www.rfc-editor.org/rfc/rfc3892#section-2.2
##= type=test
##% A UA accepting a REFER request (a referee) to a SIP URI (using either the sip: or sips:
##% scheme) MUST copy any Referred-By header field value and token into the referenced
##% request without modification.
##= https://www.rfc-editor.org/rfc/rfc3892#section-2.2
##= type=test
##% A referee SHOULD present the same identity to the referrer and the refer target.
@case(
    "rfc3515-accepted-refer-notifies",
    roles=("uas",),
    level="MUST",
    no_control="the case itself is the control: a refused REFER ends it inconclusive",
)
def accepted_refer(ctx: Context) -> None:
    """An accepted REFER (with a Referred-By): 202, the referenced OPTIONS to the runner
    (the Referred-By copied, From the identity the NOTIFYs come from), a NOTIFY (Event:
    refer, sipfrag beginning with a Status-Line) at once, a final one."""
    _referee(ctx)
    link = ctx.link()
    notifies, referenced, final = _refer(ctx, link)
    ctx.check(final.status == 202, "202 (Accepted)", describe(final), requirement=4)
    ctx.check(referenced is not None, "the referenced OPTIONS", "none within 3 s", 3)
    ctx.check(bool(notifies), "a NOTIFY after the 202", "no NOTIFY within 3 s", 5)
    first = notifies[0]
    ctx.check(first.method == "NOTIFY", "a NOTIFY (RFC 6665)", first.method or "", 6)
    event = (first.get("Event") or "").split(";")[0].strip().lower()
    ctx.check(event == "refer", "Event: refer", repr(first.get("Event")))
    for notify in notifies:
        kind = (notify.get("Content-Type") or "").split(";")[0].strip().lower()
        ctx.check(kind == "message/sipfrag", "a message/sipfrag body", repr(kind), 7)
        ctx.check(
            notify.body.startswith(b"SIP/2.0 "), "a Status-Line first", repr(notify.body[:30]), 8
        )
    last = notifies[-1].get("Subscription-State") or ""
    ctx.check(
        last.lower().startswith("terminated") and "noresource" in last.lower(),
        "a final NOTIFY terminated;reason=noresource",
        repr(last),
        requirement=2,
    )
    assert referenced is not None
    by = referenced.get("Referred-By") or ""
    ctx.check(REFERRER in by, f"Referred-By: <{REFERRER}> in the OPTIONS", repr(by), 9)
    ctx.check(
        _uri(referenced.get("From")) == _uri(first.get("From")),
        f"the OPTIONS from {_uri(first.get('From'))}, the NOTIFY's identity",
        _uri(referenced.get("From")),
        requirement=10,
        level="SHOULD",
    )


#: the referrer named in the REFERs' Referred-By (RFC 3892)
REFERRER = "sip:referrer@conformance.invalid"


def _uri(value: str | None) -> str:
    text = value or ""
    return text.split("<", 1)[-1].split(">", 1)[0].split(";", 1)[0].strip().lower()


def _refer(
    ctx: Context, link: Link, refer: Outgoing | None = None
) -> tuple[list[Message], Message | None, Message]:
    """Send an accepted REFER asking for an OPTIONS to the runner; the NOTIFYs until the
    terminated one, the referenced OPTIONS (None: not sent) and the 2xx."""
    if refer is None:
        refer_to = f"<sip:tester@{link.sent_by};method=OPTIONS>"
        extra = [("Refer-To", refer_to), ("Referred-By", f"<{REFERRER}>")]
        refer = ctx.request("REFER", link, extra=extra)
    final, _ = ctx.transaction(link, refer)
    final = ctx.require_final(final, "response to REFER")
    if not 200 <= (final.status or 0) < 300:
        ctx.inconclusive(f"the target refused the REFER: {describe(final)}")
    notifies: list[Message] = []
    referenced = None
    for _ in range(4):  # the immediate NOTIFY, the referenced OPTIONS, the final NOTIFY
        got = link.expect(
            lambda m: not m.is_response and m.method in ("NOTIFY", "OPTIONS"), timeout=3.0
        )
        if got is None:
            break
        _answer(link, got)
        if got.method == "OPTIONS":
            referenced = got
            continue
        notifies.append(got)
        if (got.get("Subscription-State") or "").lower().startswith("terminated"):
            break
    return notifies, referenced, final


##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.6
##= type=test
##% Thus, for the second and subsequent REFER requests a UA receives in a given dialog, it
##% MUST include an id parameter[2] in the Event header field of each NOTIFY containing the
##% sequence number (the number from the CSeq header field value) of the REFER this NOTIFY
##% is associated with.
@case(
    "refer-second-refer-id",
    roles=("uas",),
    level="MUST",
    no_control="the first REFER of the dialog, accepted, is the control",
)
def second_refer_id(ctx: Context) -> None:
    """A first REFER asks for an INVITE to the runner, which keeps it ringing (the
    subscription, so the dialog, lives on); a second REFER in that dialog: its NOTIFYs
    carry Event: refer;id=<the second REFER's CSeq number>."""
    _referee(ctx)
    link = ctx.link()
    with ctx.preamble("a first REFER accepted, its referenced INVITE ringing"):
        invite, _, first, ok = _referenced_invite(ctx, link)
        _answer(link, invite, "180 Ringing")
    try:
        second = bye_for(first, ok, ctx.target)
        second.method = "REFER"  # to the remote target (the 202's Contact), as bye_for chose
        second.set("Contact", first.get("Contact"))
        number = first.cseq_number + 1
        second.set("CSeq", f"{number} REFER")
        for name, value in _refer_fields(link):
            second.add(name, value)
        final, _ = ctx.transaction(link, second)
        final = ctx.require_final(final, "response to the second REFER")
        notifies: list[tuple[float, Message]] = []
        _drain(link, notifies, 2.0, lambda m: f"id={number}" in (m.get("Event") or ""))
    finally:
        _answer(link, invite, "486 Busy Here")
        _drain(link, [], 2.0)
    ctx.check(bool(notifies), "NOTIFYs for the second REFER", f"none ({describe(final)})")
    events = [n.get("Event") or "" for _, n in notifies]
    ctx.check(
        all(re.search(rf"(?i);\s*id\s*=\s*{number}\b", e) for e in events),
        f"Event: refer;id={number} in each",
        " | ".join(events),
    )


def _refer_fields(link: Link) -> list[tuple[str, str]]:
    return [("Refer-To", f"<sip:tester@{link.sent_by};method=OPTIONS>")]


##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.4
##= type=test
##% If a SUBSCRIBE request for event refer is received for a subscription that does not
##% already exist, it MUST be rejected with a 403.
@case("refer-subscribe-refer-403", roles=("uas",), level="MUST")
def subscribe_refer(ctx: Context) -> None:
    """A SUBSCRIBE for the refer event, out of any REFER: 403 (Forbidden)."""
    _referee(ctx)
    link = ctx.link()
    ctx.control(link, ctx.request(ctx.profile.probe or "OPTIONS", link))
    subscribe = ctx.request("SUBSCRIBE", link, extra=[("Event", "refer"), ("Expires", "60")])
    final, _ = ctx.transaction(link, subscribe)
    final = ctx.require_final(final, "response to SUBSCRIBE for refer")
    ctx.check(final.status == 403, "403 (Forbidden)", describe(final))
    if 200 <= (final.status or 0) < 300:  # a wrong acceptance: end what it created
        ctx.finish_invite(link, subscribe, None)


##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.2
##= type=test
##% A UA not capable of accessing non-SIP URIs SHOULD NOT accept REFER requests to them.
@case("refer-non-sip-uri", roles=("uas",), level="SHOULD")
def non_sip_uri(ctx: Context) -> None:
    """A REFER to a mailto: URI (a UA is a SIP UA: the profile lists no other scheme):
    not accepted."""
    _referee(ctx)
    link = ctx.link()
    ctx.control(link, ctx.request(ctx.profile.probe or "OPTIONS", link))
    refer = ctx.request("REFER", link, extra=[("Refer-To", "<mailto:tester@127.0.0.1>")])
    final, _ = ctx.transaction(link, refer)
    final = ctx.require_final(final, "response to REFER to mailto:")
    ctx.should(not 200 <= (final.status or 0) < 300, "a refusal (not 2xx)", describe(final))
    if 200 <= (final.status or 0) < 300:
        link.collect(lambda m: m.method == "NOTIFY", 0.5)


def _referenced_invite(
    ctx: Context, link: Link
) -> tuple[Message, list[tuple[float, Message]], Outgoing, Message]:
    """An accepted REFER asking for an INVITE to the runner: the INVITE, with the NOTIFYs
    seen until then (arrival time, message) all answered, the REFER and its 2xx."""
    refer_to = f"<sip:tester@{link.sent_by}>"
    refer = ctx.request("REFER", link, extra=[("Refer-To", refer_to)])
    final, _ = ctx.transaction(link, refer)
    final = ctx.require_final(final, "response to REFER")
    if not 200 <= (final.status or 0) < 300:
        ctx.inconclusive(f"the target refused the REFER: {describe(final)}")
    notifies: list[tuple[float, Message]] = []
    invite = None
    end = time.monotonic() + 3.0
    while invite is None and (left := end - time.monotonic()) > 0:
        got = link.expect(
            lambda m: not m.is_response and m.method in ("NOTIFY", "INVITE"), timeout=left
        )
        if got is None:
            break
        if got.method == "INVITE":
            invite = got
        else:
            _answer(link, got)
            notifies.append((time.monotonic(), got))
    if invite is None:
        ctx.inconclusive("no referenced INVITE within 3 s")
    assert invite is not None
    return invite, notifies, refer, final


def _drain(
    link: Link,
    notifies: list[tuple[float, Message]],
    seconds: float,
    mine: Callable[[Message], bool] = lambda m: True,
) -> None:
    """Answer the NOTIFYs (and referenced OPTIONS) for ``seconds``, recording the NOTIFYs
    ``mine`` accepts, until one of them ends its subscription."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        got = link.expect(
            lambda m: not m.is_response and m.method in ("NOTIFY", "OPTIONS"), timeout=left
        )
        if got is None:
            return
        _answer(link, got)  # a referenced OPTIONS too
        if got.method != "NOTIFY" or not mine(got):
            continue
        notifies.append((time.monotonic(), got))
        if (got.get("Subscription-State") or "").lower().startswith("terminated"):
            return


##= https://www.rfc-editor.org/rfc/rfc3515#section-3.10
##= type=test
##% NOTIFYs to event refer SHOULD NOT be sent more frequently than once per second.
##= https://www.rfc-editor.org/rfc/rfc3515#section-3.4
##= type=test
##% The duration SHOULD be chosen to be longer than the time the referenced request will be
##% given to complete.
@case(
    "refer-notify-rate-and-duration",
    roles=("uas",),
    level="SHOULD",
    timeout=12,
    no_control="the case itself is the control: a refused REFER ends it inconclusive",
)
def notify_rate(ctx: Context) -> None:
    """The referenced INVITE to the runner rings (180) and is refused (486) right away:
    the NOTIFYs reporting 100, 180 and 486 come at least a second apart; the subscription
    lasts longer than the INVITE's Expires (or Timer B, 64*T1, without one)."""
    _referee(ctx)
    link = ctx.link()
    invite, notifies, _, _ = _referenced_invite(ctx, link)
    _answer(link, invite, "180 Ringing")
    _answer(link, invite, "486 Busy Here")
    _drain(link, notifies, 4.0)
    times = [t for t, _ in notifies]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    ctx.should(
        len(times) >= 2 and min(gaps) >= 0.9,
        "NOTIFYs at least 1 s apart",
        ", ".join(f"{g:.2f} s" for g in gaps) or f"{len(times)} NOTIFY",
    )
    state = notifies[0][1].get("Subscription-State") if notifies else ""
    found = re.search(r"(?i)expires\s*=\s*(\d+)", state or "")
    expires = (invite.get("Expires") or "").strip()
    given = int(expires) if expires.isdigit() else 64 * 0.5
    ctx.check(
        found is not None and int(found.group(1)) > given,
        f"a subscription longer than {given:g} s",
        repr(state),
        requirement=1,
        level="SHOULD",
    )


##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.4
##= type=test
##% In particular, an agent acting on a REFER request SHOULD NOT issue a CANCEL to any
##% referenced SIP requests because the agent sending the REFER terminated its
##% subscription to the refer event before the referenced request completes.
@case(
    "refer-no-cancel-after-unsubscribe",
    roles=("uas",),
    level="SHOULD",
    timeout=12,
    no_control="the case itself is the control: a refused REFER ends it inconclusive",
)
def no_cancel(ctx: Context) -> None:
    """The referenced INVITE rings; the runner ends the refer subscription (481 to the
    NOTIFY reporting it): no CANCEL follows within 1.5 s (the INVITE is then refused)."""
    _referee(ctx)
    link = ctx.link()
    invite, _, _, _ = _referenced_invite(ctx, link)
    _answer(link, invite, "180 Ringing")
    notify = link.expect(lambda m: not m.is_response and m.method == "NOTIFY", timeout=2.5)
    if notify is None:
        ctx.inconclusive("no NOTIFY reporting the 180")
    assert notify is not None
    _answer(link, notify, "481 Subscription Does Not Exist")
    cancel = link.expect(lambda m: not m.is_response and m.method == "CANCEL", timeout=1.5)
    if cancel is not None:
        _answer(link, cancel)
    _answer(link, invite, "486 Busy Here")
    ctx.should(cancel is None, "no CANCEL of the referenced INVITE", "a CANCEL")


# -- the UAC role: the target transfers the runner's call (RFC 3515 as the referrer) -----


class Transferee:
    """The runner's end of a transfer the target makes ([uac] transfer): it answers the
    INVITE (a Record-Route naming itself when asked), then takes the REFER."""

    def __init__(self, ctx: Context, record_route: bool = False) -> None:
        self.ctx = ctx
        self.peer = Peer(ctx, "transfer")
        self.record_route = record_route
        self.invite: Message | None = None
        self.cseq = 0  # the runner's CSeq in the call (its NOTIFYs)

    def refer(self) -> tuple[Message, tuple[str, int]]:
        """The preamble: the call answered, then the REFER in it (not answered yet)."""
        peer = self.peer
        with self.ctx.preamble("a call from the target, answered, then its REFER"):
            invite, addr = peer.first("INVITE")
            self.invite = invite
            rr = [f"Record-Route: <sip:rr@{peer.server.hostport};lr>"] if self.record_route else []
            peer.answer(invite, addr, 200, headers=rr)
            got = None
            end = time.monotonic() + 5.0
            while got is None and (left := end - time.monotonic()) > 0:
                msg = peer.expect(lambda m: not m.is_response and m.method != "ACK", left)
                if msg is None:
                    break
                if msg[0].method == "REFER":
                    got = msg
                else:
                    peer.ok(*msg)
            if got is None:
                self.ctx.inconclusive("no REFER in the call")
        assert got is not None
        return got

    def notify(
        self,
        refer: Message,
        addr: tuple[str, int],
        state: str,
        frag: bytes,
        event: str = "refer",
    ) -> bytes:
        """A NOTIFY of the refer subscription (sipfrag ``frag``), sent; its bytes."""
        peer = self.peer
        self.cseq += 1
        contact = (refer.get("Contact") or "").split("<", 1)[-1].split(">", 1)[0]
        lines = [
            f"NOTIFY {contact} SIP/2.0",
            f"Via: SIP/2.0/UDP {peer.server.hostport};branch={unique('z9hG4bK')}",
            "Max-Forwards: 70",
            f"From: {refer.get('To')}",
            f"To: {refer.get('From')}",
            f"Call-ID: {refer.call_id}",
            f"CSeq: {self.cseq} NOTIFY",
            f"Contact: <sip:uas@{peer.server.hostport}>",
            f"Event: {event}",
            f"Subscription-State: {state}",
            "Content-Type: message/sipfrag",
            f"Content-Length: {len(frag)}",
        ]
        data = ("\r\n".join(lines) + "\r\n\r\n").encode() + frag
        peer.send(data, addr, "NOTIFY (refer)")
        return data

    def finish(
        self, refer: Message, addr: tuple[str, int], event: str = "refer", answered: bool = False
    ) -> None:
        """202 to the REFER (unless ``answered``), the final NOTIFY, the hang-up answered."""
        if not answered:
            self.peer.answer(refer, addr, 202, contact=True)
        self.notify(refer, addr, "terminated;reason=noresource", b"SIP/2.0 200 OK\r\n", event)
        self.peer.serve(1.0)


##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.1
##= type=test
##% A REFER request MUST contain exactly one Refer-To header field value.
##= https://www.rfc-editor.org/rfc/rfc3515#section-2
##= type=test
##% REFER creates a dialog, and MAY be Record-Routed, hence MUST contain a single Contact
##% header field value.
@case(
    "uac-refer-construction",
    roles=UAC,
    timeout=15,
    preamble="a call from the target, then its REFER ([uac] transfer)",
    no_control=RUNNER_ANSWERS,
)
def refer_construction(ctx: Context) -> None:
    """The REFER transferring the call: one Refer-To value, one Contact value."""
    side = Transferee(ctx)
    refer, addr = side.refer()
    refer_to = [v for line in refer.get_all("Refer-To") for v in _values(line)]
    contacts = [v for line in refer.get_all("Contact") for v in _values(line)]
    side.finish(refer, addr)
    ctx.check(len(refer_to) == 1, "one Refer-To value", " | ".join(refer_to) or "none")
    ctx.check(len(contacts) == 1, "one Contact value", " | ".join(contacts) or "none", 1)


def _values(line: str) -> list[str]:
    """The comma-separated values of a header field line (commas in <> or quotes kept)."""
    out, depth, quoted, start = [], 0, False, 0
    for i, c in enumerate(line):
        if c == '"':
            quoted = not quoted
        elif not quoted and c == "<":
            depth += 1
        elif not quoted and c == ">":
            depth -= 1
        elif c == "," and not quoted and depth == 0:
            out.append(line[start:i].strip())
            start = i + 1
    out.append(line[start:].strip())
    return [v for v in out if v]


##= https://www.rfc-editor.org/rfc/rfc3515#section-2
##= type=test
##% REFERs occurring inside an existing dialog MUST follow the Route/Record-Route logic of
##% that dialog.
@case(
    "uac-refer-route-set",
    roles=UAC,
    timeout=15,
    preamble="a call from the target, then its REFER ([uac] transfer)",
    no_control=RUNNER_ANSWERS,
)
def refer_route_set(ctx: Context) -> None:
    """The 200 to the INVITE has a Record-Route: the REFER in the call carries it as its
    Route, to the remote target (the 200's Contact)."""
    side = Transferee(ctx, record_route=True)
    refer, addr = side.refer()
    side.finish(refer, addr)
    route = " | ".join(refer.get_all("Route"))
    expected = f"sip:rr@{side.peer.server.hostport};lr"
    ctx.check(expected in route, f"Route: <{expected}>", route or "no Route")
    ctx.check(
        refer.uri.startswith(f"sip:uas@{side.peer.server.hostport}"),
        "the Request-URI the remote target",
        refer.uri,
    )


##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.4
##= type=test
##% Analogous to the case for SUBSCRIBE described in that document, the agent that issued
##% the REFER MUST be prepared to receive a NOTIFY before the REFER transaction completes.
@case(
    "uac-refer-notify-before-202",
    roles=UAC,
    timeout=15,
    preamble="a call from the target, then its REFER ([uac] transfer)",
    no_control=RUNNER_ANSWERS,
)
def notify_before_202(ctx: Context) -> None:
    """A NOTIFY (100 Trying) before the REFER's 202: the target answers it 2xx."""
    side = Transferee(ctx)
    refer, addr = side.refer()
    side.notify(refer, addr, "active;expires=60", b"SIP/2.0 100 Trying\r\n")
    got = side.peer.expect(
        lambda m: m.is_response and (m.get("CSeq") or "").endswith("NOTIFY"), timeout=2.0
    )
    side.finish(refer, addr)
    status = got[0].status if got is not None else None
    ctx.check(
        status is not None and 200 <= status < 300,
        "2xx to the early NOTIFY",
        f"{status}" if status else "no response",
    )


##= https://www.rfc-editor.org/rfc/rfc3515#section-2.4.6
##= type=test
##% A SUBSCRIBE sent to refresh or terminate this subscription MUST contain this id
##% parameter.
@case(
    "uac-refer-refresh-id",
    roles=UAC,
    timeout=15,
    preamble="a call from the target, then its REFER ([uac] transfer)",
    no_control=RUNNER_ANSWERS,
)
def refer_refresh_id(ctx: Context) -> None:
    """The runner's NOTIFYs name the subscription with an id (Event: refer;id=CSeq, a MAY
    for a first REFER) and let it expire in 2 s: a SUBSCRIBE refreshing it carries that
    id.  Not applicable when the target lets it run out."""
    side = Transferee(ctx)
    refer, addr = side.refer()
    side.peer.answer(refer, addr, 202, contact=True)
    number = refer.cseq[0] or 1
    event = f"refer;id={number}"
    side.notify(refer, addr, "active;expires=2", b"SIP/2.0 100 Trying\r\n", event)
    subscribe = None
    end = time.monotonic() + 2.5
    while subscribe is None and (left := end - time.monotonic()) > 0:
        got = side.peer.expect(lambda m: not m.is_response, left)
        if got is None:
            break
        if got[0].method == "SUBSCRIBE":
            subscribe = got[0]
            side.peer.answer(got[0], got[1], 200, headers=["Expires: 2"], contact=True)
    side.finish(refer, addr, event, answered=True)
    if subscribe is None:
        ctx.not_applicable("the target sent no SUBSCRIBE refreshing the refer subscription")
    assert subscribe is not None
    value = subscribe.get("Event") or ""
    ctx.check(
        re.search(rf"(?i);\s*id\s*=\s*{number}\b", value) is not None,
        f"Event: {event}",
        value,
    )
