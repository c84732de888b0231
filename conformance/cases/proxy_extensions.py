"""The proxy rules of smaller extensions: a PRACK matching no reliable provisional response is
proxied (RFC 3262 §3), the Reason of a CANCEL copied into the CANCEL the proxy generates
(RFC 3326 §2), no IM URI in Record-Route or Route and proxy authentication for MESSAGE
(RFC 3428 §5, §11.1), Referred-By neither removed nor modified (RFC 3892 §3), Record-Route
of SUBSCRIBE and NOTIFY consistent and no Allow-Events inserted (RFC 6665 §4.3, §4.4.4).
The runner plays the upstream UA and the downstream UA (`conformance.cases._proxy_support`).
"""

from __future__ import annotations

from conformance.cases._proxy_support import (
    ack_upstream,
    arrives,
    cancel_of,
    downstream_uri,
    final_of,
    reply,
    upstream,
)
from conformance.cases.proxy import FORWARDED
from conformance.cases.proxy_responses import _close, _invite
from conformance.messages import bye_for, unique
from conformance.model import Context, case, describe
from conformance.sipmsg import Message

#: load order of the case modules (conformance.discovery)
ORDER = 79

PROXY = ("proxy",)


##= https://www.rfc-editor.org/rfc/rfc3262#section-3
##= type=test
##% Of course, unlike a UAS, when the proxy element receives a PRACK that does not match any
##% outstanding reliable provisional response, the PRACK MUST be proxied.
@case("proxy-3262-prack-proxied", roles=PROXY, no_control=FORWARDED)
def prack_proxied(ctx: Context) -> None:
    """A PRACK matching no reliable provisional response is proxied to the UAS.

    The downstream UAS sends a reliable 183 (RSeq 1); the UAC's PRACK acknowledges RSeq 2,
    which no response had: the proxy forwards it along the route set all the same."""
    link, down = ctx.link(), ctx.listener()
    req, got = _invite(ctx, link, down, extra=[("Supported", "100rel")])
    reply(down, got, 183, extra=[("Require", "100rel"), ("RSeq", "1")])
    early = upstream(link, req, lambda m: m.status == 183)
    if early is None:
        _close(link, down, req, got)
        ctx.inconclusive("the reliable 183 was not forwarded upstream")
    assert early is not None
    prack = bye_for(req, early, ctx.target)
    prack.method = "PRACK"
    prack.set("CSeq", f"{req.cseq_number + 1} PRACK")
    prack.add("RAck", f"2 {req.cseq_number} INVITE")
    link.send(bytes(prack), "PRACK (RAck 2: no such provisional)")
    came = arrives(down, "PRACK", req.call_id, timeout=2.0)
    if came is not None:
        reply(down, came, 481)
        final_of(link, prack, timeout=1.0)
    _close(link, down, req, got)
    ctx.check(came is not None, "the PRACK proxied downstream", "not forwarded")


##= https://www.rfc-editor.org/rfc/rfc3326#section-2
##= type=test
##% Proxies generating a CANCEL request upon reception of a CANCEL from the previous hop that
##% contains a Reason header field SHOULD copy it into the new CANCEL request.
##= https://www.rfc-editor.org/rfc/rfc3326#section-2
##= type=test
##% but all of them MUST have different protocol values (e.g., one SIP and another Q.850).
@case("proxy-3326-cancel-reason-copied", roles=PROXY, level="SHOULD", no_control=FORWARDED)
def cancel_reason(ctx: Context) -> None:
    """The Reason values of the UAC's CANCEL are copied into the proxy's CANCEL.

    Two values, one per protocol (SIP and Q.850): the CANCEL reaching the UAS has them, and
    no two of its Reason values share a protocol."""
    link, down = ctx.link(), ctx.listener()
    req, got = _invite(ctx, link, down)
    reply(down, got, 180)
    upstream(link, req, lambda m: m.status == 180, timeout=1.0)
    cancel = cancel_of(req)
    sent = ['SIP ;cause=600 ;text="Busy Everywhere"', "Q.850;cause=17"]
    for value in sent:
        cancel.add("Reason", value)
    link.send(bytes(cancel), "CANCEL with Reason")
    came = arrives(down, "CANCEL", req.call_id, timeout=2.0)
    if came is not None:
        reply(down, came, 200)
    reply(down, got, 487)
    down.expect(lambda m: m.method == "ACK", timeout=0.3)
    final = final_of(link, req)
    ack_upstream(link, req, final)
    if came is None:
        ctx.inconclusive(f"no CANCEL reached the UAS (the INVITE ended {describe(final)})")
    assert came is not None
    reasons = came[0].get_all("Reason")
    protocols = [r.split(";", 1)[0].strip().upper() for r in reasons]
    ctx.check(
        len(set(protocols)) == len(protocols),
        "Reason values of different protocols",
        " | ".join(reasons),
        1,
    )
    ctx.should(
        sorted(protocols) == ["Q.850", "SIP"],
        "both Reason values (SIP, Q.850) copied",
        " | ".join(reasons) or "none",
    )


##= https://www.rfc-editor.org/rfc/rfc3428#section-5
##= type=test
##% Record-Route and Route header fields MUST NOT contain IM URIs.
@case("proxy-3428-no-im-uri-routes", roles=PROXY, no_control=FORWARDED)
def no_im_routes(ctx: Context) -> None:
    """A MESSAGE is forwarded with no IM URI in Record-Route or Route.

    Whatever Record-Route or Route values the proxy puts on its copy of a MESSAGE are not
    ``im:`` (or ``pres:``) URIs."""
    link, down = ctx.link(), ctx.listener()
    req = ctx.request(
        "MESSAGE",
        link,
        uri=downstream_uri(down),
        body=b"hello",
        content_type="text/plain",
    )
    link.send(bytes(req))
    got = arrives(down, "MESSAGE", req.call_id)
    if got is None:
        ctx.inconclusive(f"the MESSAGE was not forwarded ({describe(final_of(link, req))})")
    assert got is not None
    reply(down, got, 200)
    final_of(link, req, timeout=1.0)
    routes = got[0].get_all("Record-Route") + got[0].get_all("Route")
    ims = [r for r in routes if r.strip().lstrip("<").lower().startswith(("im:", "pres:"))]
    ctx.check(not ims, "no im: URI in Record-Route or Route", " | ".join(ims))


##= https://www.rfc-editor.org/rfc/rfc3892#section-3
##= type=test
##% Proxies do not need to be able to read Referred-By header field values and MUST NOT
##% remove or modify them.
@case("proxy-3892-referred-by-untouched", roles=PROXY, no_control=FORWARDED)
def referred_by_untouched(ctx: Context) -> None:
    """A request's Referred-By reaches the downstream UA as the upstream UA sent it.

    A MESSAGE (any method will do: a proxy must not read Referred-By) with a Referred-By
    carrying a display name, a cid and an unknown parameter: the copy the proxy forwards
    has the same one value, byte for byte."""
    link, down = ctx.link(), ctx.listener()
    sent = [
        '"Referrer" <sip:referrer@127.0.0.1;transport=udp>'
        ';cid="20398823.2UWQFN309shb3@127.0.0.1";x-conformance=Odd-Value'
    ]
    req = ctx.request(
        "MESSAGE",
        link,
        uri=downstream_uri(down),
        body=b"hello",
        content_type="text/plain",
        extra=[("Referred-By", sent[0])],
    )
    link.send(bytes(req), "MESSAGE with Referred-By")
    got = arrives(down, "MESSAGE", req.call_id)
    if got is None:
        ctx.inconclusive(f"the MESSAGE was not forwarded ({describe(final_of(link, req))})")
    assert got is not None
    reply(down, got, 200)
    final_of(link, req, timeout=1.0)
    forwarded = [v.strip() for v in got[0].get_all("Referred-By")]
    ctx.check(forwarded == sent, " | ".join(sent), " | ".join(forwarded) or "none")


##= https://www.rfc-editor.org/rfc/rfc3428#section-11.1
##= type=test
##% When local proxies are used for transmission of outbound messages, proxy
##% authentication, as specified in RFC 3261, is RECOMMENDED.
@case(
    "proxy-3428-message-proxy-auth",
    roles=PROXY,
    level="SHOULD",
    no_control="the MESSAGE itself: forwarded or challenged are both verdicts",
)
def message_proxy_auth(ctx: Context) -> None:
    """A MESSAGE from a user of the proxy's domain without credentials is challenged (407).

    Forwarded without authentication is a SHOULD not met (a warning)."""
    link, down = ctx.link(), ctx.listener()
    domain = ctx.profile.domain or ctx.target.host
    req = ctx.request(
        "MESSAGE", link, uri=downstream_uri(down), body=b"hi", content_type="text/plain"
    )
    req.set("From", f"<sip:{ctx.user}@{domain}>;tag={unique('t')}")
    link.send(bytes(req))
    got = arrives(down, "MESSAGE", req.call_id, timeout=2.0)
    if got is not None:
        reply(down, got, 200)
    final = final_of(link, req, timeout=1.0)
    ctx.should(
        got is None and final is not None and final.status == 407,
        "407 (Proxy Authentication Required)",
        "forwarded without credentials" if got is not None else describe(final),
    )


#: the SUBSCRIBE of the RFC 6665 case (the presence package, RFC 3856)
SUBSCRIBE = [("Event", "presence"), ("Expires", "60"), ("Accept", "application/pidf+xml")]


##= https://www.rfc-editor.org/rfc/rfc6665#section-4.3
##= type=test
##% If a proxy wishes to see all of the SUBSCRIBE and NOTIFY requests for a given dialog, it
##% MUST add a "Record-Route" header field to the initial SUBSCRIBE request and all NOTIFY
##% requests.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.3
##= type=test
##% Proxies that did not add a "Record-Route" header field to the initial SUBSCRIBE request
##% MUST NOT add a "Record-Route" header field to any of the associated NOTIFY requests.
##= https://www.rfc-editor.org/rfc/rfc6665#section-4.4.4
##= type=test
##% Note that "Allow-Events" header fields MUST NOT be inserted by proxies.
@case("proxy-6665-notify-record-route", roles=PROXY, no_control=FORWARDED)
def notify_record_route(ctx: Context) -> None:
    """The proxy record-routes the NOTIFY exactly when it record-routed the SUBSCRIBE.

    A SUBSCRIBE goes through to the notifier (the downstream socket), which answers 200 and
    sends its NOTIFY back through the proxy: the NOTIFY carries the proxy's Record-Route
    when the SUBSCRIBE did, none when it did not; neither request gets an Allow-Events."""
    link, down = ctx.link(), ctx.listener()
    req = ctx.request("SUBSCRIBE", link, uri=downstream_uri(down), extra=SUBSCRIBE)
    link.send(bytes(req))
    got = arrives(down, "SUBSCRIBE", req.call_id)
    if got is None:
        ctx.inconclusive(f"the SUBSCRIBE was not forwarded ({describe(final_of(link, req))})")
    assert got is not None
    sub = got[0]
    routes = sub.get_all("Record-Route")
    contact = f"<sip:notifier@{down.hostport}>"
    tag = reply(
        down,
        got,
        200,
        extra=[*[("Record-Route", r) for r in routes], ("Contact", contact), ("Expires", "60")],
    )
    final_of(link, req, timeout=1.0)
    # the notifier's NOTIFY: to the subscriber's Contact along the route set (RFC 3261 §12.1.1)
    uri = (sub.get("Contact") or "").split("<", 1)[-1].split(">", 1)[0]
    lines = [
        f"NOTIFY {uri} SIP/2.0",
        f"Via: SIP/2.0/UDP {down.hostport};branch={unique('z9hG4bK')};rport",
        "Max-Forwards: 70",
        *[f"Route: {r}" for r in routes],
        f"From: {sub.get('To')};tag={tag}",
        f"To: {sub.get('From')}",
        f"Call-ID: {req.call_id}",
        "CSeq: 1 NOTIFY",
        f"Contact: {contact}",
        "Event: presence",
        "Subscription-State: active;expires=60",
        "Content-Length: 0",
    ]
    down.send(("\r\n".join(lines) + "\r\n\r\n").encode(), ctx.target.address, "NOTIFY")
    notify = link.expect(
        lambda m: not m.is_response and m.method == "NOTIFY" and m.call_id == req.call_id,
        timeout=2.0,
    )
    if notify is None:
        ctx.inconclusive("the notifier's NOTIFY was not forwarded to the subscriber")
    assert notify is not None
    link.send(_ok(notify), "200 (NOTIFY)")
    down.expect(lambda m: m.is_response and m.cseq[1] == "NOTIFY", timeout=0.5)
    again = notify.get_all("Record-Route")
    if routes:
        ctx.check(bool(again), "the proxy's Record-Route on the NOTIFY too", "none", 0)
    else:
        ctx.check(not again, "no Record-Route on the NOTIFY", " | ".join(again), 1)
    inserted = sub.get_all("Allow-Events") + notify.get_all("Allow-Events")
    ctx.check(not inserted, "no Allow-Events inserted", " | ".join(inserted), 2)


def _ok(msg: Message) -> bytes:
    """A 200 to a request that reached the runner's upstream link (§8.2.6)."""
    lines = ["SIP/2.0 200 OK"]
    lines += [f"Via: {v}" for v in msg.get_all("Via")]
    to = msg.get("To") or ""
    lines += [
        f"From: {msg.get('From')}",
        f"To: {to}" + ("" if "tag=" in to else f";tag={unique('u')}"),
        f"Call-ID: {msg.call_id}",
        f"CSeq: {msg.get('CSeq')}",
        "Content-Length: 0",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()
