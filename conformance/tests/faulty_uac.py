"""A tiny UAC over UDP for testing the UAC-role verdicts, with faults to order.

Run as a profile's trigger command: it sends one INVITE (``--kind invite``), OPTIONS
(``--kind options``) or MESSAGE (``--kind message``, text/plain, RFC 3428) to
``--target HOST:PORT``, retransmits it (Timer A/E from ``--t1``),
ACKs a final response to the INVITE (the non-2xx one in its transaction, the 2xx one end to
end) and exits when the transaction is over or after 64*T1.  Without faults it passes the
construction and transaction cases it meets; each fault breaks one rule:

- ``no_cookie``: the branch lacks the magic cookie z9hG4bK (§8.1.1.7);
- ``cseq_method``: the CSeq names another method than the request's (§8.1.1.5);
- ``to_tag``: the To of the initial request carries a tag (§8.1.1.2);
- ``no_retransmit``: the request is sent once, never retransmitted (§17.1.1.2);
- ``ack_new_branch``: the ACK for a non-2xx gets a branch of its own (§17.1.1.3);
- ``ack_2xx_same_branch``: the ACK for a 2xx reuses the INVITE's branch (§13.2.2.4: it is
  a request of its own, not part of the INVITE transaction);
- ``fixed_ids``: every run uses the same branch, Call-ID and From tag (§8.1.1.3/4/7);
- ``ack_require``: every ACK carries a Require the INVITE did not (§8.2.2.3);
- ``keep_retransmitting``: a non-INVITE is retransmitted after its final response
  (§17.1.2.2: the transaction is Completed);
- ``repeat_after_failure``: a 4xx-6xx to the INVITE is ACKed, then the same INVITE is sent
  again (new branch, next CSeq) once (§21.4, §21.4.4, §21.5.4);
- ``second_final``: a final response with another To tag after the first final response is
  ACKed too, not ignored (§13.2.2.3);
- ``take_short``: a response datagram shorter than its Content-Length is taken, not
  discarded (§18.3);
- ``strict_length``: a response datagram with bytes beyond its Content-Length is dropped
  (§18.3: they are to be discarded, not the response);
- ``ack_stray``: a response whose branch is not the request's is ACKed too, not dropped
  (RFC 6026 §8.9);
- ``no_reack_2xx``: a repeated 2xx is not ACKed again (RFC 6026 §7.2: the "Accepted"
  transaction passes it up to the TU, which ACKs it);
- ``prack_any``: every provisional response with an RSeq is PRACKed, a 100, a copy and one
  out of order too (RFC 3262 §4: only the next reliable 101-199 is);
- ``message_contact``: the MESSAGE carries a Contact (RFC 3428 §4 forbids it).

An INVITE lists 100rel in Supported and PRACKs each reliable 101-199 response in order.

``--kind register`` sends a REGISTER and answers one Digest challenge (401/407) as user
alice with ``--password``: the first challenge of an algorithm it knows (RFC 7616 §3.7),
qop=auth.  Its faults:

- ``digest_md5``: the MD5 challenge is answered when one is offered, even below a SHA-2
  one (RFC 7616 §5.6, §3.7);
- ``digest_quoted_nc``: the nc parameter is sent as a quoted string (RFC 7616 §3.4).

A challenge (401/407) to its PRACK is answered likewise with ``--password``; the fault
``prack_unauthenticated`` leaves it unanswered (RFC 3262 §9).
"""

from __future__ import annotations

import argparse
import re
import secrets
import socket
import time
from collections.abc import Sequence

from conformance.sipmsg import Message, parse_message
from conformance.tests.faulty_uas import _framing

FAULTS = (
    "no_cookie",
    "cseq_method",
    "to_tag",
    "no_retransmit",
    "ack_new_branch",
    "ack_2xx_same_branch",
    "fixed_ids",
    "ack_require",
    "keep_retransmitting",
    "repeat_after_failure",
    "second_final",
    "take_short",
    "strict_length",
    "ack_stray",
    "no_reack_2xx",
    "prack_any",
    "message_contact",
    "digest_md5",
    "digest_quoted_nc",
    "prack_unauthenticated",
)


def _token(faults: set[str], fixed: str) -> str:
    return fixed if "fixed_ids" in faults else secrets.token_hex(6)


def build(kind: str, host: str, port: int, local: tuple[str, int], faults: set[str]) -> bytes:
    """The request the UAC sends."""
    method = kind.upper()
    cookie = "" if "no_cookie" in faults else "z9hG4bK"
    branch = cookie + _token(faults, "fixedbranch")
    uri = f"sip:uas@{host}:{port}"
    to_tag = ";tag=early" if "to_tag" in faults else ""
    cseq_method = "BYE" if "cseq_method" in faults else method
    lines = [
        f"{method} {uri} SIP/2.0",
        f"Via: SIP/2.0/UDP {local[0]}:{local[1]};branch={branch}",
        "Max-Forwards: 70",
        f"To: <{uri}>{to_tag}",
        f"From: <sip:faulty@{local[0]}>;tag={_token(faults, 'fixedtag')}",
        f"Call-ID: {_token(faults, 'fixedcallid')}@{local[0]}",
        f"CSeq: 1 {cseq_method}",
        f"Contact: <sip:faulty@{local[0]}:{local[1]}>",
        "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS",
        "Accept: application/sdp",
        f"Supported: {'100rel' if kind == 'invite' else ''}",
        "Content-Length: 0",
    ]
    if method == "MESSAGE":  # RFC 3428 §4: a text/plain body, no Contact
        if "message_contact" not in faults:
            lines = [line for line in lines if not line.startswith("Contact:")]
        lines[-1:] = ["Content-Type: text/plain", "Content-Length: 5"]
        return ("\r\n".join(lines) + "\r\n\r\nhello").encode()
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def ack_for(request: Message, response: Message, faults: set[str]) -> bytes:
    """The ACK: in the transaction (same branch) for a non-2xx, end to end for a 2xx."""
    via = request.top_via
    to = response.get("To") or ""
    uri = request.uri
    new_branch = (response.status or 0) < 300 and "ack_2xx_same_branch" not in faults
    if new_branch or ((response.status or 0) >= 300 and "ack_new_branch" in faults):
        via = via.split(";branch=")[0] + ";branch=z9hG4bK" + secrets.token_hex(6)
    if (response.status or 0) < 300:
        contact = response.get("Contact") or ""
        if "<" in contact:
            uri = contact.split("<", 1)[1].split(">", 1)[0]
    lines = [
        f"ACK {uri} SIP/2.0",
        f"Via: {via}",
        "Max-Forwards: 70",
        f"To: {to}",
        f"From: {request.get('From')}",
        f"Call-ID: {request.call_id}",
        f"CSeq: {request.cseq[0]} ACK",
        *(["Require: 100rel"] if "ack_require" in faults else []),
        "Content-Length: 0",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def prack_for(request: Message, response: Message, cseq: int) -> bytes:
    """The PRACK of a reliable provisional response (RFC 3262 §7.1), in its early dialog."""
    contact = response.get("Contact") or ""
    uri = contact.split("<", 1)[1].split(">", 1)[0] if "<" in contact else request.uri
    via = request.top_via.split(";branch=")[0] + ";branch=z9hG4bK" + secrets.token_hex(6)
    number, method = request.cseq
    lines = [
        f"PRACK {uri} SIP/2.0",
        f"Via: {via}",
        "Max-Forwards: 70",
        f"To: {response.get('To')}",
        f"From: {request.get('From')}",
        f"Call-ID: {request.call_id}",
        f"CSeq: {cseq} PRACK",
        f"RAck: {response.get('RSeq')} {number} {method}",
        "Content-Length: 0",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def authorized(data: bytes, response: Message, password: str, faults: set[str]) -> bytes:
    """``data`` (a REGISTER or PRACK) again with credentials answering ``response``'s Digest
    challenge: next CSeq, new branch."""
    from rfc3261.digest import compute_response, is_supported

    request = parse_message(data)
    assert request is not None  # we built it
    proxy = response.status == 407
    pattern = r'([\w-]+)=(?:"([^"]*)"|([^\s,]*))'
    offered = [
        {k.lower(): v1 or v2 for k, v1, v2 in re.findall(pattern, c)}
        for c in response.get_all("Proxy-Authenticate" if proxy else "WWW-Authenticate")
        if c.strip().lower().startswith("digest")
    ]
    usable = [c for c in offered if is_supported(c.get("algorithm", "MD5"))]
    md5 = [c for c in usable if c.get("algorithm", "MD5").upper() == "MD5"]
    chosen = (md5 if "digest_md5" in faults and md5 else usable or [{}])[0]
    realm, nonce = chosen.get("realm", ""), chosen.get("nonce", "")
    algorithm, cnonce = chosen.get("algorithm", "MD5"), secrets.token_hex(4)
    digest = compute_response(
        method=request.method or "REGISTER",
        uri=request.uri,
        nonce=nonce,
        realm=realm,
        username="alice",
        password=password,
        algorithm=algorithm,
        qop="auth",
        nc="00000001",
        cnonce=cnonce,
    )
    nc = '"00000001"' if "digest_quoted_nc" in faults else "00000001"
    value = (
        f'Digest username="alice", realm="{realm}", nonce="{nonce}", uri="{request.uri}", '
        f'response="{digest}", algorithm={algorithm}, qop=auth, nc={nc}, cnonce="{cnonce}"'
    )
    if "opaque" in chosen:
        value += f', opaque="{chosen["opaque"]}"'
    header = "Proxy-Authorization" if proxy else "Authorization"
    old_branch = (request.branch or "").encode()
    data = data.replace(old_branch, old_branch + b"a").replace(b"CSeq: 1 ", b"CSeq: 2 ")
    return data.replace(b"Content-Length: 0", f"{header}: {value}\r\nContent-Length: 0".encode())


def run(kind: str, target: str, t1: float, faults: set[str], password: str = "") -> None:
    host, _, port_text = target.rpartition(":")
    port = int(port_text)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    data = build(kind, host, port, sock.getsockname()[:2], faults)
    request = parse_message(data)
    assert request is not None  # we built it
    sock.sendto(data, (host, port))
    start = time.monotonic()
    interval, next_send = t1, start + t1
    retransmit = "no_retransmit" not in faults
    final: Message | None = None
    repeated = False
    last_rseq: int | None = None  # RFC 3262 §4: the last in-order reliable 1xx
    prack_cseq = 1
    # the last PRACK's branch and the reliable 1xx it acknowledges (a challenge to it)
    prack_branch, acknowledged = "", request
    while time.monotonic() < start + 64 * t1:
        wait = (next_send if retransmit else start + 64 * t1) - time.monotonic()
        sock.settimeout(max(0.001, wait))
        try:
            raw, _ = sock.recvfrom(65536)
        except TimeoutError:
            if retransmit:
                sock.sendto(data, (host, port))
                interval = interval * 2 if kind == "invite" else min(interval * 2, 4.0)
                next_send = time.monotonic() + interval
            continue
        msg = parse_message(raw)
        if msg is None or not msg.is_response:
            continue
        if prack_branch and msg.branch == prack_branch and msg.status in (401, 407):
            if password and "prack_unauthenticated" not in faults:
                prack_cseq += 1
                again = prack_for(request, acknowledged, prack_cseq)
                prack_branch = ""
                sock.sendto(authorized(again, msg, password, faults), (host, port))
            continue
        if msg.branch != request.branch and "ack_stray" not in faults:
            continue
        framing = _framing(raw)
        if (framing == "short" and "take_short" not in faults) or (
            framing == "extra" and "strict_length" in faults
        ):
            continue  # §18.3: a response short of its Content-Length is discarded
        if (msg.status or 0) < 200:
            retransmit = retransmit and kind != "invite"
            rseq = (msg.get("RSeq") or "").strip()
            if kind == "invite" and rseq.isdigit() and "100rel" in msg.option_tags("Require"):
                in_order = (msg.status or 0) > 100 and (
                    last_rseq is None or int(rseq) == last_rseq + 1
                )
                if in_order or "prack_any" in faults:
                    last_rseq = int(rseq)
                    prack_cseq += 1
                    prack = prack_for(request, msg, prack_cseq)
                    sent = parse_message(prack)
                    prack_branch = (sent.branch if sent is not None else "") or ""
                    acknowledged = msg
                    sock.sendto(prack, (host, port))
            continue
        if final is not None and msg.to_tag != final.to_tag and "second_final" not in faults:
            continue  # §13.2.2.3: a later final response is ignored
        if final is not None and (final.status or 0) < 300 and "no_reack_2xx" in faults:
            continue
        final = msg
        if kind == "register" and msg.status in (401, 407) and not repeated:
            repeated = True
            data = authorized(data, msg, password, faults)
            request = parse_message(data)
            assert request is not None  # we built it
            sock.sendto(data, (host, port))
            final = None
            continue
        if kind == "invite":
            sock.sendto(ack_for(request, msg, faults), (host, port))
        retransmit = retransmit and "keep_retransmitting" in faults and kind != "invite"
        failed = kind == "invite" and (msg.status or 0) >= 400
        if failed and "repeat_after_failure" in faults and not repeated:
            repeated = True
            # the same request but for a new branch and the next CSeq
            old_branch = (request.branch or "").encode()
            data = data.replace(old_branch, old_branch + b"x").replace(b"CSeq: 1 ", b"CSeq: 2 ")
            request = parse_message(data)
            assert request is not None  # we built it
            sock.sendto(data, (host, port))
            final = None
            continue
        # stay a little to ACK copies of the final response
        start = time.monotonic() - 64 * t1 + 2.0
    del final
    sock.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance.tests.faulty_uac")
    parser.add_argument("--target", required=True, help="HOST:PORT of the runner")
    parser.add_argument(
        "--kind", choices=("invite", "options", "message", "register"), default="invite"
    )
    parser.add_argument("--password", default="secret", help="for --kind register")
    parser.add_argument("--t1", type=float, default=0.1)
    parser.add_argument("--fault", action="append", choices=FAULTS, default=[])
    args = parser.parse_args(argv)
    run(args.kind, args.target, args.t1, set(args.fault), args.password)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
