"""A small SIP element over UDP for testing the runner's verdicts, with faults to order.

Without faults it behaves as RFC 3261 asks of the cases it meets (a UAS, a registrar, a
redirect server or a stateless proxy, by ``role``); each fault breaks one rule, so a test
can check the runner gives that rule's case the failing verdict:

- ``no_to_tag``: responses carry no To tag (§8.2.6.2);
- ``no_retransmit``: 2xx and non-2xx final responses are never retransmitted (§13.3.1.4, §17.2.1);
- ``wrong_via``: responses echo only the top Via, and without received/rport (§8.2.6.2, §18.2.1);
- ``ignore_require``: Require is ignored, no 420 (§8.2.2.3);
- ``die_on_torture``: after a request whose Via has ";;" it never answers again (robustness);
- ``star_expires``: a registrar accepts Contact ``*`` with a non-zero Expires (§10.3);
- ``drop_unknown_method``: a proxy answers 501 to a method it does not know instead of
  forwarding it (§16.3);
- ``reorder_values``: a proxy forwards the rows of a header field name in reverse order
  (§16.6 step 1);
- ``no_received``: a proxy adds no received parameter to a Via whose sent-by is not the
  packet's source (§18.2.1);
- ``no_via_check``: a proxy forwards a response whose top Via is not its own (§16.11);
- ``answer_cancel``: a stateless proxy answers a CANCEL itself before forwarding it (§16.11);
- ``no_decrement``: a proxy forwards Max-Forwards unchanged (§16.6 step 3);
- ``early_483``: a proxy answers 483 to Max-Forwards 1 already, instead of forwarding the
  request with 0 (§16.3 step 3, §16.6 step 3);
- ``consume_credentials``: a proxy removes Proxy-Authorization values, even those for
  another realm (§22.3);
- ``keep_route``: a stateless proxy leaves the Route value naming it in the request it
  forwards (§16.4, §16.11);
- ``raise_session_expires``: a proxy doubles the Session-Expires of the requests it
  forwards, above the value the UAC asked for (RFC 4028 §8.1);
- ``ignore_expires_header``: a registrar ignores the Expires header field (§10.3 step 7);
- ``lf_only``: responses end their lines with LF alone, not CRLF (§7);
- ``bad_content_length``: responses say a Content-Length 3 above their body's (§20.14);
- ``dup_param``: the To tag parameter of responses appears twice (§7.3.1);
- ``combined_auth``: a registrar challenges REGISTER with two WWW-Authenticate values
  combined in one header row (§7.3.1);
- ``new_final_on_retransmission``: a retransmitted non-INVITE request gets a new final
  response (another To tag) instead of the first one again (§17.2.2);
- ``no_timer_h``: an unacknowledged non-2xx to INVITE is retransmitted for ever, not until
  Timer H, 64*T1 (§17.2.1);
- ``short_timer_j``: a non-INVITE transaction is forgotten 16*T1 after its final response,
  not 64*T1 (Timer J, §17.2.2);
- ``redirect_no_contact``: a redirect server's 302 lists no Contact (§8.3);
- ``reply_to_source``: responses go to the packet's source address and port, whatever the
  Via says (§18.2.2: received and sent-by port, maddr);
- ``ignore_maddr``: a Via's maddr is ignored (§18.2.2);
- ``other_source``: responses to OPTIONS go out from a second socket, not the one the
  request came to (RFC 3581 §4; probe with INVITE);
- ``strict_length``: 400 to a datagram with bytes beyond its Content-Length (§18.3);
- with a ``realm`` (Digest: REGISTER and INVITE challenged with 401, user alice, password
  secret): ``no_qop``: challenges without qop (§22.4); ``accept_basic``: Basic credentials
  accepted (§22); ``challenge_ack``: an ACK gets a 401 (§22.1); ``challenge_cancel``: a
  CANCEL gets a 401 (§22.1); ``retransmit_challenge``: a 401 to INVITE is retransmitted
  until ACKed (§26.3.2.4);
- ``garbage``: a datagram of garbage before every response (the runner must cope);
- ``flood``: every response sent 50 times (the runner must cope);
- ``no_allow_405``: a 405 without Allow (§21.4.6);
- ``no_unsupported``: a 420 without Unsupported (§8.2.2.3, §21.4.15);
- ``no_offer_in_2xx``: a 2xx to an INVITE without offer carries no offer (§13.3.1.4);
- ``bye_to_from``: the callee's BYE (calls to the user ``hangup`` are answered, then hung
  up 0.3 s after the ACK) goes to the caller's From URI, not its Contact (§12.1.1);
- ``bye_before_ack``: that BYE goes out at once, before the ACK (§15);
- ``sdp_no_connection``: the SDP of a 2xx has no c= line at all (RFC 8866 §5.7);
- ``ack_stray_2xx``: a 2xx to INVITE matching no transaction is ACKed, not silently
  discarded (RFC 6026 §8.9);
- with ``esc`` (an RFC 3903 event state compositor for ``presence``, PUBLISH only):
  ``publish_no_etag``: a 2xx to PUBLISH without SIP-ETag (§6); ``publish_same_etag``: a
  modification or refresh keeps the entity-tag it names instead of a new one (§6).

Faults of the environment rather than of a rule (each case whose control they break must end
inconclusive, not fail):

- ``unknown_user``: 404 to requests for any user but those in ``users`` (default: alice):
  a UAS by the Request-URI, a registrar by the To of a REGISTER, a proxy by the
  Request-URI before anything else (a proxy that relays to its own users only);
- ``need_branch``: requests without a magic-cookie Via branch are dropped unanswered;
- ``one_call``: while a call is up, a new INVITE gets 486 (Busy Here);
- ``no_dialog_options``: OPTIONS within a dialog gets 405;
- ``strip_to_port``: the To URI of responses loses its port and transport parameter;
- ``no_allow_501``: known but unsupported methods get 501 without Allow (not 405).

Run alone: ``python -m conformance.tests.faulty_uas --port 5090 --fault no_to_tag``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import itertools
import re
import secrets
import socket
import threading
import time
from collections.abc import Sequence

from conformance.sipmsg import Message, param, parse_message, uri_host_port

KNOWN = {"PUBLISH", "SUBSCRIBE", "MESSAGE", "REFER", "UPDATE", "INFO", "PRACK", "NOTIFY"}
ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS"
SDP = (
    b"v=0\r\no=fake 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 0 RTP/AVP 0\r\n"
)
REASONS = {
    100: "Trying",
    180: "Ringing",
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    415: "Unsupported Media Type",
    416: "Unsupported URI Scheme",
    420: "Bad Extension",
    412: "Conditional Request Failed",
    423: "Interval Too Brief",
    481: "Call/Transaction Does Not Exist",
    482: "Loop Detected",
    483: "Too Many Hops",
    486: "Busy Here",
    487: "Request Terminated",
    489: "Bad Event",
    500: "Server Internal Error",
    501: "Not Implemented",
    505: "Version Not Supported",
}


class FaultyElement:
    """A UAS, registrar or stateless proxy on one UDP socket, run in a thread."""

    def __init__(
        self,
        role: str = "uas",
        faults: tuple[str, ...] = (),
        t1: float = 0.5,
        users: tuple[str, ...] = ("alice", "ring"),
        realm: str = "",
        esc: bool = False,
    ) -> None:
        self.role = role
        # RFC 3903: PUBLISH for presence served (entity-tag -> (resource, expiry))
        self.esc = esc
        self.publications: dict[str, tuple[str, float]] = {}
        # Digest (RFC 2617, MD5): with a realm, REGISTER and INVITE need alice's credentials
        self.realm = realm
        self.faults = set(faults)
        self.users = set(users)
        self.t1 = t1
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        self.dead = False
        self.stopped = threading.Event()
        self.lock = threading.Lock()
        self.tags = itertools.count(1)
        # branch -> (last response bytes, address, method); pending INVITEs by branch
        self.transactions: dict[str, tuple[bytes, tuple[str, int], str]] = {}
        self.ringing: dict[str, tuple[Message, str]] = {}  # branch -> (INVITE, To tag)
        self.unacked: dict[str, tuple[bytes, tuple[str, int], float, float]] = {}
        self.dialogs: dict[str, int] = {}  # Call-ID + local tag -> remote CSeq
        self.seen: dict[tuple[str, str, str], str] = {}  # (from tag, call-id, cseq) -> branch
        self.bindings: dict[str, dict[str, tuple[int, str, int]]] = {}
        # calls to the user "hangup": Call-ID -> (INVITE, To tag, address); BYEs due
        self.hangups: dict[str, tuple[Message, str, tuple[str, int]]] = {}
        self.byes: list[tuple[float, str]] = []
        self.completed: dict[str, float] = {}  # branch -> when its final response went
        self.first_sent: dict[str, float] = {}  # unacked key -> when first sent (Timer H)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.timer = threading.Thread(target=self._retransmit, daemon=True)

    def start(self) -> int:
        self.thread.start()
        self.timer.start()
        return self.port

    def stop(self) -> None:
        self.stopped.set()
        with contextlib.suppress(OSError):
            self.sock.close()
        self.thread.join(2)
        self.timer.join(2)

    # --- plumbing -------------------------------------------------------------------------

    def _send(self, data: bytes, addr: tuple[str, int]) -> None:
        if "other_source" in self.faults and re.search(rb"\r\nCSeq: *\d+ OPTIONS\r\n", data):
            with (
                contextlib.suppress(OSError),
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s,
            ):
                s.bind(("127.0.0.1", 0))
                s.sendto(data, addr)
            return
        with contextlib.suppress(OSError):
            if "garbage" in self.faults:
                self.sock.sendto(b"\x00\xffnot SIP at all\r\n\r\n", addr)
            for _ in range(50 if "flood" in self.faults else 1):
                self.sock.sendto(data, addr)

    def _serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self.stopped.is_set():
            try:
                data, addr = self.sock.recvfrom(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if self.dead:
                continue
            msg = parse_message(data)
            if msg is None:
                continue
            framing = _framing(data)
            with self.lock:
                try:
                    if framing == "short" or (
                        framing == "extra" and "strict_length" in self.faults
                    ):
                        # §18.3: a short datagram's request gets 400, its response is dropped
                        if not msg.is_response:
                            self._reply(msg, addr[:2], 400)
                        continue
                    self._handle(msg, addr[:2])
                except Exception:  # a test double: malformed input is dropped
                    continue

    def _retransmit(self) -> None:
        while not self.stopped.wait(0.02):
            now = time.monotonic()
            with self.lock:
                for due, call_id in [b for b in self.byes if b[0] <= now]:
                    self.byes.remove((due, call_id))
                    self._hang_up(call_id)
                for key, (data, addr, due, interval) in list(self.unacked.items()):
                    # Timer H (and the 2xx's 64*T1, §13.3.1.4): give up unacknowledged
                    timer_h = now - self.first_sent.get(key, now) >= 64 * self.t1
                    if timer_h and "no_timer_h" not in self.faults:
                        del self.unacked[key]
                        continue
                    if now >= due and "no_retransmit" not in self.faults:
                        self._send(data, addr)
                        interval = min(interval * 2, 4.0)
                        self.unacked[key] = (data, addr, now + interval, interval)

    def _response(
        self,
        req: Message,
        addr: tuple[str, int],
        status: int,
        tag: str | None,
        extra: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> tuple[bytes, tuple[str, int]]:
        vias = req.get_all("Via")
        top = vias[0]
        if "wrong_via" in self.faults:
            vias = [top]
        else:
            if param(top, "rport") == "":
                top = top.replace(";rport", f";rport={addr[1]}", 1)
            if param(top, "received") is None:
                top += f";received={addr[0]}"
            vias = [top, *vias[1:]]
        to = req.get("To") or ""
        if "strip_to_port" in self.faults:
            to = re.sub(r"(sips?:[^>;,\s]*?)(:\d+)?(;transport=\w+)?(?=[>;,\s]|$)", r"\1", to)
        if tag and not param(to, "tag") and "no_to_tag" not in self.faults and status != 100:
            to += f";tag={tag}"
            if "dup_param" in self.faults:
                to += f";tag={tag}"
        lines = [f"SIP/2.0 {status} {REASONS.get(status, 'Whatever')}"]
        lines += [f"Via: {v}" for v in vias]
        lines += [
            f"From: {req.get('From')}",
            f"To: {to}",
            f"Call-ID: {req.call_id}",
            f"CSeq: {req.get('CSeq')}",
        ]
        if 200 <= status < 300 and req.method == "INVITE":
            lines += [f"Record-Route: {v}" for v in req.get_all("Record-Route")]
        lines += [f"{n}: {v}" for n, v in extra]
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append(
            f"Content-Length: {len(body) + (3 if 'bad_content_length' in self.faults else 0)}"
        )
        data = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        if "lf_only" in self.faults:
            data = data.replace(b"\r\n", b"\n")
        # where the response goes: RFC 3581 rport, else received + sent-by port (§18.2.2)
        sent_by = top.split()[1].split(";")[0] if len(top.split()) > 1 else ""
        host, port = uri_host_port("sip:" + sent_by)
        maddr = param(top, "maddr")
        if param(top, "rport") not in (None, "") or "reply_to_source" in self.faults:
            dest = (addr[0], addr[1])
        elif maddr and "ignore_maddr" not in self.faults:
            dest = (maddr, port or 5060)
        else:
            dest = (param(top, "received") or host, port or 5060)
        return data, dest

    def _reply(
        self,
        req: Message,
        addr: tuple[str, int],
        status: int,
        extra: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
        tag: str | None = None,
    ) -> bytes:
        # a counter and 32 random bits: tags unique and random enough (§19.3)
        tag = tag or f"fk{next(self.tags)}{secrets.token_hex(4)}"
        data, dest = self._response(req, addr, status, tag, extra, body)
        self._send(data, dest)
        branch = req.branch or ""
        if status >= 200:
            self.transactions[branch] = (data, dest, req.method or "")
            self.completed[branch] = time.monotonic()
            if req.method == "INVITE":
                self.first_sent[branch if status >= 300 else req.call_id] = time.monotonic()
                self.unacked[branch if status >= 300 else req.call_id] = (
                    data,
                    dest,
                    time.monotonic() + self.t1,
                    self.t1,
                )
        return data

    # --- behaviour ------------------------------------------------------------------------

    def _handle(self, msg: Message, addr: tuple[str, int]) -> None:
        if msg.is_response:
            if self.role == "proxy":
                self._proxy_response(msg)
            elif "ack_stray_2xx" in self.faults and msg.cseq[1] == "INVITE":
                # a 2xx of no transaction of ours ACKed, not discarded (RFC 6026 §8.9)
                ack = [f"ACK sip:{addr[0]}:{addr[1]} SIP/2.0"]
                ack += [f"Via: {msg.top_via}", f"Call-ID: {msg.call_id}"]
                ack += [f"From: {msg.get('From')}", f"To: {msg.get('To')}"]
                ack += [f"CSeq: {msg.cseq[0]} ACK", "Content-Length: 0"]
                self.sock.sendto(("\r\n".join(ack) + "\r\n\r\n").encode(), addr)
            return
        if "die_on_torture" in self.faults and ";;" in msg.top_via:
            self.dead = True
            return
        if "need_branch" in self.faults and not (msg.branch or "").startswith("z9hG4bK"):
            return
        branch = msg.branch or ""
        method = msg.method or ""
        if (
            self.realm
            and method in ("ACK", "CANCEL")
            and f"challenge_{method.lower()}" in (self.faults)
        ):
            self._reply(msg, addr, 401, [("WWW-Authenticate", self._challenge())])
            if method == "CANCEL":
                return
        if method == "ACK":
            self.unacked.pop(branch, None)
            self.unacked.pop(msg.call_id, None)
            if msg.call_id in self.hangups and "bye_before_ack" not in self.faults:
                self.byes.append((time.monotonic() + 0.3, msg.call_id))
            if self.role == "proxy" and branch not in self.transactions:
                # §16.11: a stateless proxy forwards an ACK like any other request
                self._proxy_request(msg, addr)
            return
        if branch in self.transactions and method not in ("CANCEL", "INVITE"):
            age = time.monotonic() - self.completed.get(branch, 0.0)
            expired = "short_timer_j" in self.faults and age > 16 * self.t1
            if expired or "new_final_on_retransmission" in self.faults:
                del self.transactions[branch]
        if branch in self.transactions and method != "CANCEL":
            data, dest, _ = self.transactions[branch]
            self._send(data, dest)
            return
        if branch in self.ringing and method == "INVITE":
            return
        if not msg.start_line.endswith("SIP/2.0"):
            self._reply(msg, addr, 505)
            return
        number, cseq_method = msg.cseq
        if number is None or cseq_method != method or not msg.call_id:
            self._reply(msg, addr, 400)
            return
        if self.role == "proxy":
            self._proxy_request(msg, addr)
            return
        if not msg.uri.lower().startswith(("sip:", "sips:")):
            self._reply(msg, addr, 416)
            return
        user = msg.uri.split(":", 1)[1].split("@")[0] if "@" in msg.uri else ""
        unknown = user not in self.users and not msg.to_tag  # in a dialog: the Contact's
        if "unknown_user" in self.faults and self.role == "uas" and unknown:
            self._reply(msg, addr, 404)
            return
        required = msg.option_tags("Require")
        if (
            required
            and method != "CANCEL"
            and "ignore_require" not in self.faults
            and self.role != "redirect"  # a redirect server ignores what it does not know (§8.3)
        ):
            unsupported = (
                [] if "no_unsupported" in self.faults else [("Unsupported", ", ".join(required))]
            )
            self._reply(msg, addr, 420, unsupported)
            return
        key = (param(msg.get("From") or "", "tag") or "", msg.call_id, msg.get("CSeq") or "")
        if not msg.to_tag and key in self.seen and self.seen[key] != branch:
            self._reply(msg, addr, 482)
            return
        self.seen[key] = branch
        if self.realm and method in ("REGISTER", "INVITE") and not self._authorized(msg):
            self._reply(msg, addr, 401, [("WWW-Authenticate", self._challenge())])
            if "retransmit_challenge" not in self.faults:
                self.unacked.pop(branch, None)  # §26.3.2.4: one 401, sent statelessly
            return
        if self.role == "registrar":
            self._register(msg, addr)
            return
        if self.esc and method == "PUBLISH":
            self._publish(msg, addr)
            return
        if self.role == "redirect":
            self._redirect(msg, addr, user)
            return
        if msg.get("Content-Encoding"):
            self._reply(
                msg, addr, 415, [("Accept", "application/sdp"), ("Accept-Encoding", "identity")]
            )
            return
        ctype = (msg.get("Content-Type") or "application/sdp").lower()
        if msg.body and not ctype.startswith("application/sdp"):
            self._reply(msg, addr, 415, [("Accept", "application/sdp")])
            return
        dialog = f"{msg.call_id}/{msg.to_tag}"
        if msg.to_tag and method != "CANCEL":
            if dialog not in self.dialogs:
                self._reply(msg, addr, 481)
                return
            if number < self.dialogs[dialog]:
                self._reply(msg, addr, 500)
                return
            self.dialogs[dialog] = number
            if method == "BYE":
                del self.dialogs[dialog]
            if method == "OPTIONS" and "no_dialog_options" in self.faults:
                self._reply(msg, addr, 405, [("Allow", "ACK, BYE")], tag=msg.to_tag)
                return
            self._reply(msg, addr, 200, [("Allow", ALLOW)], tag=msg.to_tag)
            return
        if method == "OPTIONS":
            self._reply(
                msg,
                addr,
                200,
                [("Allow", ALLOW), ("Accept", "application/sdp"), ("Supported", "")],
            )
        elif method == "INVITE":
            if "one_call" in self.faults and self.dialogs:
                self._reply(msg, addr, 486)
                return
            if "ring" in msg.uri.split("@")[0]:
                tag = f"fk{next(self.tags)}{secrets.token_hex(4)}"
                data, dest = self._response(msg, addr, 180, tag)
                self._send(data, dest)
                self.transactions.pop(branch, None)
                self.ringing[branch] = (msg, tag)
                return
            tag = f"fk{next(self.tags)}{secrets.token_hex(4)}"
            self.dialogs[f"{msg.call_id}/{tag}"] = number
            if msg.uri.split(":", 1)[-1].startswith("hangup@"):
                self.hangups[msg.call_id] = (msg, tag, addr)
                if "bye_before_ack" in self.faults:
                    self.byes.append((time.monotonic() + 0.05, msg.call_id))
            offer = SDP if msg.body or "no_offer_in_2xx" not in self.faults else b""
            if "sdp_no_connection" in self.faults:
                offer = offer.replace(b"c=IN IP4 127.0.0.1\r\n", b"")
            self._reply(
                msg,
                addr,
                200,
                [
                    ("Contact", f"<sip:fake@127.0.0.1:{self.port}>"),
                    ("Allow", ALLOW),
                    ("Supported", ""),
                ],
                offer,
                tag=tag,
            )
        elif method == "CANCEL":
            ringing = self.ringing.pop(branch, None)
            if ringing is None:
                self._reply(msg, addr, 481 if branch not in self.transactions else 200)
                return
            pending, tag = ringing
            self._reply(msg, addr, 200, tag=tag)
            self._reply(pending, addr, 487, tag=tag)
        elif method == "BYE":
            self._reply(msg, addr, 481)
        elif method in KNOWN and "no_allow_501" in self.faults:
            self._reply(msg, addr, 501)
        elif method in KNOWN or method == "REGISTER":
            allow = [] if "no_allow_405" in self.faults else [("Allow", ALLOW)]
            self._reply(msg, addr, 405, allow)
        else:
            self._reply(msg, addr, 501)

    def _hang_up(self, call_id: str) -> None:
        """The callee's BYE for a call to "hangup" (§12.1.1: to the remote target, along
        the route set, with the dialog's Call-ID and tags)."""
        invite, tag, addr = self.hangups.pop(call_id)
        self.dialogs.pop(f"{call_id}/{tag}", None)
        target = invite.get("Contact") or ""
        if "bye_to_from" in self.faults:
            target = invite.get("From") or ""
        uri = target.split("<", 1)[-1].split(">", 1)[0].strip()
        lines = [
            f"BYE {uri} SIP/2.0",
            f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch=z9hG4bKfkbye{next(self.tags)}",
            "Max-Forwards: 70",
        ]
        routes = invite.get_all("Record-Route")
        if routes:
            lines.append(f"Route: {', '.join(routes)}")
        lines += [
            f"From: {invite.get('To')};tag={tag}",
            f"To: {invite.get('From')}",
            f"Call-ID: {call_id}",
            "CSeq: 1 BYE",
            "Content-Length: 0",
        ]
        self._send(("\r\n".join(lines) + "\r\n\r\n").encode(), addr)

    def _redirect(self, msg: Message, addr: tuple[str, int], user: str) -> None:
        """A redirect server (§8.3): REGISTER as the registrar, CANCEL 200, the rest 302
        listing the user's bindings (and, for a user in ``users``, a fixed contact)."""
        if msg.method == "REGISTER":
            self._register(msg, addr)
            return
        if msg.method == "CANCEL":
            self._reply(msg, addr, 200)
            return
        if not user:
            self._reply(msg, addr, 200 if msg.method == "OPTIONS" else 404, [("Allow", ALLOW)])
            return
        host = uri_host_port(msg.uri)[0].lower()
        contacts = [f"<{uri}>" for uri in self.bindings.get(f"sip:{user}@{host}", {})]
        if user in self.users:
            contacts.append(f"<sip:{user}@127.0.0.1:9>")
        if not contacts:
            self._reply(msg, addr, 404)
            return
        if "redirect_no_contact" in self.faults:
            contacts = []
        self._reply(msg, addr, 302, [("Contact", c) for c in contacts])

    def _publish(self, msg: Message, addr: tuple[str, int]) -> None:
        """RFC 3903 §6 in short, for the presence package and the host 127.0.0.1."""
        host = uri_host_port(msg.uri)[0]
        resource = msg.uri.split(":", 1)[1].split(";")[0].split("@")[0] + "@" + host
        event = (msg.get("Event") or "").split(";")[0].strip().lower()
        etag = (msg.get("SIP-If-Match") or "").strip()
        expires_value = (msg.get("Expires") or "3600").strip()
        expires = int(expires_value) if expires_value.isdigit() else 3600
        ctype = (msg.get("Content-Type") or "").split(";")[0].strip().lower()
        now = time.monotonic()
        held = self.publications.get(etag)
        known = held[0] if held is not None and held[1] > now else None
        if host != "127.0.0.1":
            self._reply(msg, addr, 404)
        elif event != "presence":
            self._reply(msg, addr, 489, [("Allow-Events", "presence")])
        elif "," in etag:
            self._reply(msg, addr, 400)
        elif etag and known != resource:
            # unknown, expired, or another resource's
            self._reply(msg, addr, 412)
        elif 0 < expires < 60:
            self._reply(msg, addr, 423, [("Min-Expires", "60")])
        elif msg.body and ctype != "application/pidf+xml":
            self._reply(msg, addr, 415, [("Accept", "application/pidf+xml")])
        elif not msg.body and not etag:
            self._reply(msg, addr, 400)
        elif expires == 0:
            self.publications.pop(etag, None)
            self._reply(msg, addr, 200, [("Expires", "0")])
        else:
            new = etag if etag and "publish_same_etag" in self.faults else secrets.token_hex(6)
            self.publications.pop(etag, None)
            self.publications[new] = (resource, now + expires)
            extra = [("Expires", str(expires))]
            if "publish_no_etag" not in self.faults:
                extra.append(("SIP-ETag", new))
            self._reply(msg, addr, 200, extra)

    def _challenge(self) -> str:
        qop = "" if "no_qop" in self.faults else ', qop="auth"'
        nonce = hashlib.md5(f"{time.monotonic()}".encode()).hexdigest()
        return f'Digest realm="{self.realm}", nonce="{nonce}", algorithm=MD5{qop}'

    def _authorized(self, msg: Message) -> bool:
        """Right Digest credentials of alice (password "secret"), with or without qop."""
        value = msg.get("Authorization") or ""
        scheme, _, rest = value.partition(" ")
        if scheme.lower() == "basic":
            token = base64.b64decode(rest.strip() or "=").decode("latin-1", "replace")
            return "accept_basic" in self.faults and token == "alice:secret"
        fields = dict(re.findall(r'(\w+)\s*=\s*"?([^",]*)"?', rest))

        def md5(text: str) -> str:
            return hashlib.md5(text.encode()).hexdigest()

        ha1 = md5(f"alice:{self.realm}:secret")
        ha2 = md5(f"{msg.method}:{fields.get('uri', '')}")
        nonce = fields.get("nonce", "")
        if fields.get("qop"):
            parts = [fields.get(k, "") for k in ("nc", "cnonce", "qop")]
            expected = md5(f"{ha1}:{nonce}:{':'.join(parts)}:{ha2}")
        else:
            expected = md5(f"{ha1}:{nonce}:{ha2}")
        return fields.get("username") == "alice" and fields.get("response") == expected

    def _register(self, msg: Message, addr: tuple[str, int]) -> None:
        method = msg.method
        if method == "OPTIONS":
            self._reply(msg, addr, 200, [("Allow", "REGISTER, OPTIONS")])
            return
        if method != "REGISTER":
            self._reply(msg, addr, 405, [("Allow", "REGISTER, OPTIONS")])
            return
        if "combined_auth" in self.faults and msg.get("Authorization") is None:
            challenge = (
                'Digest realm="one.invalid", nonce="1", Digest realm="two.invalid", nonce="2"'
            )
            self._reply(msg, addr, 401, [("WWW-Authenticate", challenge)])
            return
        to = msg.get("To") or ""
        if not to.split("<")[-1].lower().startswith(("sip:", "sips:")):
            self._reply(msg, addr, 400)
            return
        aor = to.split("<")[-1].split(">")[0].split(";")[0].lower()
        user = aor.split(":", 1)[-1].split("@")[0] if "@" in aor else ""
        if uri_host_port(aor)[0] != uri_host_port(msg.uri)[0].lower():
            self._reply(msg, addr, 404)  # §10.3 step 5: an AOR of another domain
            return
        if "unknown_user" in self.faults and user not in self.users:
            self._reply(msg, addr, 404)
            return
        store = self.bindings.setdefault(aor, {})
        contacts = msg.get_all("Contact")
        default = (
            int(msg.get("Expires") or 3600) if (msg.get("Expires") or "3600").isdigit() else 3600
        )
        if "ignore_expires_header" in self.faults and default != 0:
            default = 3600
        number = msg.cseq[0] or 0
        if any(c.strip() == "*" for c in contacts):
            if len(contacts) > 1 or (default != 0 and "star_expires" not in self.faults):
                self._reply(msg, addr, 400)
                return
            if any(cid == msg.call_id and number <= seq for _, cid, seq in store.values()):
                self._reply(msg, addr, 500)  # §10.3 step 6: an out-of-order removal fails
                return
            for uri, (_, cid, seq) in list(store.items()):
                if cid != msg.call_id or number > seq:
                    del store[uri]
        changes: list[tuple[str, int]] = []
        for c in contacts:
            if c.strip() == "*":
                continue
            uri = c.split("<")[-1].split(">")[0]
            value = param(c, "expires")
            expires = int(value) if value and value.isdigit() else default
            if 0 < expires < 60:
                self._reply(msg, addr, 423, [("Min-Expires", "60")])
                return
            old = store.get(uri)
            if old and old[1] == msg.call_id and number <= old[2]:
                self._reply(msg, addr, 500)
                return
            changes.append((uri, expires))
        # all or nothing (§10.3): committed once every contact passed
        for uri, expires in changes:
            if expires == 0:
                store.pop(uri, None)
            else:
                store[uri] = (min(expires, 3600), msg.call_id, number)
        extra = [("Contact", f"<{uri}>;expires={e}") for uri, (e, _, _) in store.items()]
        extra.append(("Date", time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())))
        self._reply(msg, addr, 200, extra)

    def _proxy_request(self, msg: Message, addr: tuple[str, int]) -> None:
        user = msg.uri.split(":", 1)[-1].split("@")[0] if "@" in msg.uri else ""
        if "unknown_user" in self.faults and user not in self.users:
            self._reply(msg, addr, 404)
            return
        if "drop_unknown_method" in self.faults and msg.method not in {
            *KNOWN,
            "INVITE",
            "ACK",
            "BYE",
            "CANCEL",
            "OPTIONS",
            "REGISTER",
        }:
            self._reply(msg, addr, 501)
            return
        if msg.method == "CANCEL" and "answer_cancel" in self.faults:
            self._reply(msg, addr, 200)
        mf = msg.get("Max-Forwards")
        if mf is not None and mf.strip() == "1" and "early_483" in self.faults:
            self._reply(msg, addr, 483)
            return
        if mf is not None and mf.strip() == "0":
            # §16.3 step 3: never forwarded; OPTIONS may be answered as its final recipient
            self._reply(msg, addr, 200 if msg.method == "OPTIONS" else 483)
            return
        tags = msg.option_tags("Proxy-Require")
        if tags:
            self._reply(msg, addr, 420, [("Unsupported", ", ".join(tags))])
            return
        if not msg.uri.lower().startswith(("sip:", "sips:")):
            self._reply(msg, addr, 416)
            return
        me = f"127.0.0.1:{self.port}"
        headers = list(msg.headers)
        routes = msg.get_all("Route")
        if routes and me in routes[0] and "keep_route" not in self.faults:
            headers = [(n, v) for n, v in headers if n.lower() != "route"]
            rest = routes[1:]
            if rest:
                headers.append(("Route", ", ".join(rest)))
        host, port = uri_host_port(msg.uri)
        top = msg.top_via + ("" if param(msg.top_via, "received") else f";received={addr[0]}")
        if "no_received" in self.faults:
            top = msg.top_via
        top = (
            # the valueless flag only (";rport;" or a trailing ";rport"), once
            re.sub(r";rport(?=;|$)", f";rport={addr[1]}", top, count=1)
            if param(msg.top_via, "rport") == ""
            else top
        )
        branch = "z9hG4bK" + hashlib.sha1(f"{msg.branch}{msg.uri}".encode()).hexdigest()[:16]
        out = [f"Via: SIP/2.0/UDP {me};branch={branch}"]
        first_via = True
        if "reorder_values" in self.faults:
            headers = _reverse_rows(headers)
        for name, value in headers:
            low = name.lower()
            if low in ("via", "v") and first_via:
                first_via = False
                rest_vias = value.split(",", 1)
                value = top + ("," + rest_vias[1] if len(rest_vias) > 1 else "")
            if low == "max-forwards" and "no_decrement" not in self.faults:
                value = str(max(int(value.strip()) - 1, 0))
            if low in ("content-length", "l"):
                continue
            if low == "proxy-authorization" and "consume_credentials" in self.faults:
                continue
            if low in ("session-expires", "x") and "raise_session_expires" in self.faults:
                seconds, _, params = value.partition(";")
                value = str(2 * int(seconds.strip())) + (f";{params}" if params else "")
            out.append(f"{name}: {value}")
        if mf is None:
            out.append("Max-Forwards: 70")
        out.append(f"Content-Length: {len(msg.body)}")
        data = (f"{msg.method} {msg.uri} SIP/2.0\r\n" + "\r\n".join(out) + "\r\n\r\n").encode()
        self._send(data + msg.body, (host.strip("[]"), port or 5060))

    def _proxy_response(self, msg: Message) -> None:
        vias = msg.get_all("Via")
        if len(vias) < 2:
            return
        mine = vias[0].split()[1].split(";")[0] if len(vias[0].split()) > 1 else ""
        if mine != f"127.0.0.1:{self.port}" and "no_via_check" not in self.faults:
            return  # §16.11: not a response to a request of ours
        nxt = vias[1]
        host, port = uri_host_port("sip:" + nxt.split()[1].split(";")[0])
        rport = param(nxt, "rport")
        if not param(nxt, "received") and not re.fullmatch(r"[0-9.]+", host):
            return  # a name in sent-by and no received: never resolved (no DNS in tests)
        dest = (
            param(nxt, "received") or host,
            int(rport) if rport and rport.isdigit() else port or 5060,
        )
        lines = [msg.start_line, *(f"Via: {v}" for v in vias[1:])]
        lines += [f"{n}: {v}" for n, v in msg.headers if n.lower() not in ("via", "v")]
        self._send(("\r\n".join(lines) + "\r\n\r\n").encode() + msg.body, dest)


def _framing(data: bytes) -> str:
    """ "short" when a datagram holds less body than its Content-Length says, "extra" when
    it holds more, else "" (RFC 3261 §18.3)."""
    head, sep, body = data.partition(b"\r\n\r\n")
    m = re.search(rb"\r\n(?:content-length|l)[ \t]*:[ \t]*(\d+)", head, re.I)
    if not sep or m is None:
        return ""
    length = int(m[1])
    return "short" if len(body) < length else "extra" if len(body) > length else ""


def _reverse_rows(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The header fields with the rows of each name reversed among their own places."""
    out = list(headers)
    names = {n.lower() for n, _ in headers if n.lower() not in ("via", "v")}
    for name in names:
        places = [i for i, (n, _) in enumerate(headers) if n.lower() == name]
        for place, source in zip(places, reversed(places), strict=True):
            out[place] = headers[source]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance.tests.faulty_uas")
    parser.add_argument("--role", default="uas", choices=("uas", "registrar", "redirect", "proxy"))
    parser.add_argument("--fault", action="append", default=[])
    args = parser.parse_args(argv)
    element = FaultyElement(args.role, tuple(args.fault))
    print(f"listening on udp:127.0.0.1:{element.start()}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        while True:
            time.sleep(3600)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
