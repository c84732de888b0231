"""A PJSIP user agent driven over stdin/stdout: the outside peer of the extension interop tests.

Run in its own process (PJSIP's callbacks belong to its own event loop) by
:class:`extensions.tests.pjsua_support.PjsuaPeer`::

    python extensions/tests/pjsua_peer.py --port P [--transport udp|tcp] [--user NAME]
        [--100rel off|supported|required] [--timer off|optional|required|always]
        [--session-expires S] [--min-se S] [--codecs PCMA,opus] [--log FILE]

It binds 127.0.0.1:P only (no STUN, no ICE, the null audio device, media ports in a
fixed loopback range) and writes PJSIP's log (level 5, every message on the wire) to
``--log`` or stderr, never to stdout.  Commands come one JSON object a line on stdin
(``call``, ``answer``, ``update``, ``reinvite``, ``hold``, ``hangup``, ``xfer``,
``xfer_replaces``, ``message``, ``subscribe``, ``publish``, ``quit``); events go one JSON
object a line to stdout (``ready``, ``incoming_call``, ``call_state``, ``media``, ``message``,
``message_status``, ``buddy_state``, ``transfer_request``, ``transfer_status``,
``replace_request``, ``replaced``, ``error``).  ``media`` reports what PJSIP negotiated
for each audio stream (codec, payload types, direction, remote RTP address) as its API gives it.
``--publish-via URI`` lets the account PUBLISH its presence through URI.  The protocol is
described in pjsua_support.py.

Every PJSIP call runs on the main thread: PJSIP gets no worker threads
(``threadCnt = 0``) and is polled with ``libHandleEvents``; a plain Python thread only
reads stdin into a queue.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import sys
import threading
import time
from typing import Any, TextIO

import pjsua2 as pj

# RTP ports of the peer: a fixed loopback range, clear of the kernel's ephemeral ports.
MEDIA_PORT = 40000
MEDIA_PORT_RANGE = 200
PRACK_USE = {
    "off": pj.PJSUA_100REL_NOT_USED,
    "supported": pj.PJSUA_100REL_OPTIONAL,
    "required": pj.PJSUA_100REL_MANDATORY,
}
# RFC 4028 session timers: PJSIP's use of the extension (its default is "optional").
TIMER_USE = {
    "off": pj.PJSUA_SIP_TIMER_INACTIVE,
    "optional": pj.PJSUA_SIP_TIMER_OPTIONAL,
    "required": pj.PJSUA_SIP_TIMER_REQUIRED,
    "always": pj.PJSUA_SIP_TIMER_ALWAYS,
}
# pjmedia_dir and pjsua_call_media_status as words.
DIRECTIONS = {
    pj.PJMEDIA_DIR_NONE: "inactive",
    pj.PJMEDIA_DIR_ENCODING: "sendonly",
    pj.PJMEDIA_DIR_DECODING: "recvonly",
    pj.PJMEDIA_DIR_ENCODING_DECODING: "sendrecv",
}
MEDIA_STATUS = {
    pj.PJSUA_CALL_MEDIA_NONE: "none",
    pj.PJSUA_CALL_MEDIA_ACTIVE: "active",
    pj.PJSUA_CALL_MEDIA_LOCAL_HOLD: "local_hold",
    pj.PJSUA_CALL_MEDIA_REMOTE_HOLD: "remote_hold",
    pj.PJSUA_CALL_MEDIA_ERROR: "error",
}
STATES = {
    pj.PJSIP_INV_STATE_EARLY: "EARLY",
    pj.PJSIP_INV_STATE_CONFIRMED: "CONFIRMED",
    pj.PJSIP_INV_STATE_DISCONNECTED: "DISCONNECTED",
}

_out_lock = threading.Lock()
# The events' stream: the original stdout.  PJSIP prints to file descriptor 1 before its
# log writer is installed (libCreate), so main() points descriptor 1 at stderr.
_events: TextIO = sys.stdout


def emit(event: str, **fields: Any) -> None:
    """One event line on the events' stream."""
    with _out_lock:
        _events.write(json.dumps({"event": event, **fields}) + "\n")
        _events.flush()


def headers_of(whole_msg: str) -> dict[str, str]:
    """The header fields of a raw SIP message (a repeated field's values joined by commas)."""
    head = whole_msg.replace("\r\n", "\n").split("\n\n", 1)[0].split("\n")[1:]
    fields: dict[str, str] = {}
    for line in head:
        if line[:1] in (" ", "\t") and fields:
            last = next(reversed(fields))
            fields[last] += " " + line.strip()
            continue
        name, _, value = line.partition(":")
        if not value and not _:
            continue
        name, value = name.strip(), value.strip()
        fields[name] = f"{fields[name]}, {value}" if name in fields else value
    return fields


class Writer(pj.LogWriter):
    """PJSIP's log lines into a file (or stderr)."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self.stream = stream

    def write(self, entry: pj.LogEntry) -> None:
        self.stream.write(entry.msg if entry.msg.endswith("\n") else entry.msg + "\n")
        self.stream.flush()


class PeerCall(pj.Call):
    def __init__(self, peer: Peer, account: pj.Account, call_id: int = pj.PJSUA_INVALID_ID):
        super().__init__(account, call_id)
        self.peer = peer

    # PJSIP names its callbacks in camelCase.
    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        info = self.getInfo()
        state = STATES.get(info.state)
        if state is not None:
            emit(
                "call_state",
                call=info.id,
                state=state,
                code=info.lastStatusCode,
                reason=info.lastReason,
            )
        if info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.peer.ended(self)

    def onInstantMessage(self, prm: pj.OnInstantMessageParam) -> None:
        emit("message", **{"from": prm.fromUri, "text": prm.msgBody}, content_type=prm.contentType)

    def onInstantMessageStatus(self, prm: pj.OnInstantMessageStatusParam) -> None:
        emit("message_status", code=prm.code, reason=prm.reason)

    # RFC 3515 transfer: PJSIP as transferee (a REFER came) and as transferor (NOTIFYs).
    def onCallTransferRequest(self, prm: pj.OnCallTransferRequestParam) -> None:
        new = PeerCall(self.peer, self.peer.account)
        self.peer.calls.append(new)
        prm.newCall = new
        emit("transfer_request", call=self.getId(), uri=prm.dstUri, code=prm.statusCode)

    def onCallTransferStatus(self, prm: pj.OnCallTransferStatusParam) -> None:
        emit(
            "transfer_status",
            call=self.getId(),
            code=prm.statusCode,
            reason=prm.reason,
            final=bool(prm.finalNotify),
        )

    def onCallReplaceRequest(self, prm: pj.OnCallReplaceRequestParam) -> None:
        emit("replace_request", call=self.getId(), code=prm.statusCode)

    def onCallReplaced(self, prm: pj.OnCallReplacedParam) -> None:
        new = PeerCall(self.peer, self.peer.account, prm.newCallId)
        self.peer.calls.append(new)
        prm.newCall = new
        emit("replaced", call=self.getId(), new_call=prm.newCallId)

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:
        """What PJSIP negotiated, stream by stream, read from its API (not from SDP)."""
        info = self.getInfo()
        streams = []
        for media in info.media:
            if media.type != pj.PJMEDIA_TYPE_AUDIO:
                continue
            stream: dict[str, Any] = {
                "index": media.index,
                "status": MEDIA_STATUS.get(media.status, str(media.status)),
                "dir": DIRECTIONS.get(media.dir, str(media.dir)),
            }
            try:
                si = self.getStreamInfo(media.index)
            except pj.Error:
                si = None  # no stream (rejected, or port 0)
            if si is not None:
                stream.update(
                    codec=si.codecName,
                    clock_rate=si.codecClockRate,
                    tx_pt=si.txPt,
                    rx_pt=si.rxPt,
                    remote=si.remoteRtpAddress,
                    stream_dir=DIRECTIONS.get(si.dir, str(si.dir)),
                )
            streams.append(stream)
        emit("media", call=info.id, streams=streams)


class PeerBuddy(pj.Buddy):
    """A buddy whose presence subscription (RFC 3856) reports its state as events."""

    def onBuddyState(self) -> None:
        info = self.getInfo()
        status = {
            pj.PJSUA_BUDDY_STATUS_ONLINE: "online",
            pj.PJSUA_BUDDY_STATUS_OFFLINE: "offline",
        }.get(info.presStatus.status, "unknown")
        emit(
            "buddy_state",
            uri=info.uri,
            status=status,
            text=info.presStatus.statusText,
            sub_state=info.subStateName,
        )


class PeerAccount(pj.Account):
    def __init__(self, peer: Peer) -> None:
        super().__init__()
        self.peer = peer

    def onIncomingCall(self, prm: pj.OnIncomingCallParam) -> None:
        call = PeerCall(self.peer, self, prm.callId)
        self.peer.calls.append(call)
        self.peer.incoming = call
        headers = headers_of(prm.rdata.wholeMsg)
        emit(
            "incoming_call", call=prm.callId, **{"from": headers.get("From", "")}, headers=headers
        )

    def onInstantMessage(self, prm: pj.OnInstantMessageParam) -> None:
        emit("message", **{"from": prm.fromUri, "text": prm.msgBody}, content_type=prm.contentType)

    def onInstantMessageStatus(self, prm: pj.OnInstantMessageStatusParam) -> None:
        self.peer.pending_messages = max(0, self.peer.pending_messages - 1)
        emit("message_status", code=prm.code, reason=prm.reason)


class Peer:
    """The endpoint, its one account, its calls and the commands it carries out."""

    def __init__(self, args: argparse.Namespace, log: TextIO) -> None:
        self.args = args
        self.calls: list[PeerCall] = []
        self.incoming: PeerCall | None = None
        self.buddies: dict[str, pj.Buddy] = {}
        self.pending_messages = 0
        self.ep = pj.Endpoint()
        self.ep.libCreate()
        config = pj.EpConfig()
        config.uaConfig.threadCnt = 0
        config.uaConfig.mainThreadOnly = True
        config.uaConfig.maxCalls = 4
        config.uaConfig.stunServer = pj.StringVector()
        config.uaConfig.userAgent = "sipref-pjsua-peer"
        config.medConfig.threadCnt = 0
        config.medConfig.hasIoqueue = False
        self.writer = Writer(log)
        config.logConfig.writer = self.writer
        config.logConfig.level = 5
        config.logConfig.consoleLevel = 5
        config.logConfig.msgLogging = True
        config.logConfig.decor = 0
        self.ep.libInit(config)
        transport = pj.TransportConfig()
        transport.port = args.port
        transport.boundAddress = "127.0.0.1"
        transport.publicAddress = "127.0.0.1"
        kind = pj.PJSIP_TRANSPORT_TCP if args.transport == "tcp" else pj.PJSIP_TRANSPORT_UDP
        self.transport_id = self.ep.transportCreate(kind, transport)
        self.ep.libStart()
        self.ep.audDevManager().setNullDev()
        account = pj.AccountConfig()
        suffix = ";transport=tcp" if args.transport == "tcp" else ""
        account.idUri = f"sip:{args.user}@127.0.0.1:{args.port}{suffix}"
        account.sipConfig.transportId = self.transport_id
        account.natConfig.iceEnabled = False
        account.natConfig.sipStunUse = pj.PJSUA_STUN_USE_DISABLED
        account.natConfig.mediaStunUse = pj.PJSUA_STUN_USE_DISABLED
        account.mediaConfig.transportConfig.port = MEDIA_PORT
        account.mediaConfig.transportConfig.portRange = MEDIA_PORT_RANGE
        account.mediaConfig.transportConfig.boundAddress = "127.0.0.1"
        account.callConfig.prackUse = PRACK_USE[args.rel100]
        account.callConfig.timerUse = TIMER_USE[args.timer]
        if args.session_expires is not None:
            account.callConfig.timerSessExpiresSec = args.session_expires
        if args.min_se is not None:
            account.callConfig.timerMinSESec = args.min_se
        if args.publish_via:
            account.presConfig.publishEnabled = True
            account.sipConfig.proxies = pj.StringVector([args.publish_via])
        if args.codecs:
            self.prefer_codecs([name.strip().lower() for name in args.codecs.split(",")])
        self.account = PeerAccount(self)
        self.account.create(account, True)

    def prefer_codecs(self, names: list[str]) -> None:
        """Enable only the audio codecs named (``PCMA``, ``opus``...), in that order."""
        for codec in self.ep.codecEnum2():
            name = codec.codecId.split("/")[0].lower()
            rank = names.index(name) if name in names else None
            self.ep.codecSetPriority(codec.codecId, 0 if rank is None else 250 - rank)

    # -- bookkeeping ------------------------------------------------------------------

    def ended(self, call: PeerCall) -> None:
        if call in self.calls:
            self.calls.remove(call)
        if self.incoming is call:
            self.incoming = None

    def current(self) -> PeerCall:
        if not self.calls:
            raise LookupError("no call")
        return self.calls[-1]

    @staticmethod
    def options(command: dict[str, Any], code: int | None = None) -> pj.CallOpParam:
        prm = pj.CallOpParam(True)
        if code is not None:
            prm.statusCode = code
        for name, value in (command.get("headers") or {}).items():
            header = pj.SipHeader()
            header.hName, header.hValue = name, str(value)
            prm.txOption.headers.append(header)
        return prm

    # -- commands -----------------------------------------------------------------------

    def run(self, command: dict[str, Any]) -> bool:
        """Carry out one command; False for quit."""
        name = command.get("cmd")
        if name == "quit":
            return False
        if name == "call":
            call = PeerCall(self, self.account)
            self.calls.append(call)
            call.makeCall(command["uri"], self.options(command))
        elif name == "answer":
            if self.incoming is None:
                raise LookupError("no incoming call to answer")
            self.incoming.answer(self.options(command, int(command.get("code", 200))))
        elif name == "update":
            self.current().update(self.options(command))
        elif name == "reinvite":
            prm = self.options(command)
            prm.opt.flag = pj.PJSUA_CALL_UNHOLD
            self.current().reinvite(prm)
        elif name == "hold":
            self.current().setHold(self.options(command))
        elif name == "hangup":
            headers = dict(command.get("headers") or {})
            if command.get("reason"):
                headers["Reason"] = command["reason"]
            code = command.get("code")
            self.current().hangup(self.options({"headers": headers}, code and int(code)))
        elif name == "xfer":
            self.current().xfer(command["uri"], self.options(command))
        elif name == "xfer_replaces":
            # Attended: the first call's peer is REFERred to the second call's, replacing it.
            if len(self.calls) < 2:
                raise LookupError("xfer_replaces needs two calls")
            self.calls[0].xferReplaces(self.calls[1], self.options(command))
        elif name == "message":
            self.message(command["uri"], command.get("text", ""), command.get("content_type"))
        elif name == "subscribe":
            config = pj.BuddyConfig()
            config.uri, config.subscribe = command["uri"], True
            buddy = PeerBuddy()
            buddy.create(self.account, config)
            self.buddies[command["uri"]] = buddy
        elif name == "publish":
            status = pj.PresenceStatus()
            online = bool(command.get("online", True))
            status.status = (
                pj.PJSUA_BUDDY_STATUS_ONLINE if online else pj.PJSUA_BUDDY_STATUS_OFFLINE
            )
            self.account.setOnlineStatus(status)
        else:
            raise ValueError(f"unknown command {name!r}")
        return True

    def message(self, uri: str, text: str, content_type: str | None) -> None:
        """MESSAGE outside any dialog (RFC 3428 §4), through a buddy that never subscribes."""
        buddy = self.buddies.get(uri)
        if buddy is None:
            config = pj.BuddyConfig()
            config.uri, config.subscribe = uri, False
            buddy = pj.Buddy()
            buddy.create(self.account, config)
            self.buddies[uri] = buddy
        prm = pj.SendInstantMessageParam()
        prm.content = text
        if content_type:
            prm.contentType = content_type
        buddy.sendInstantMessage(prm)
        self.pending_messages += 1

    def hang_up_all(self, timeout: float = 5.0) -> None:
        """End every call and poll until they are gone (the wheel holds only 4)."""
        self.ep.hangupAllCalls()
        end = time.monotonic() + timeout
        while self.calls and time.monotonic() < end:
            self.ep.libHandleEvents(20)

    def close(self) -> None:
        self.hang_up_all()
        # Let a MESSAGE still in flight end before the endpoint goes (PJSIP asserts when
        # its status arrives for an account already gone).
        end = time.monotonic() + 2.0
        while self.pending_messages and time.monotonic() < end:
            self.ep.libHandleEvents(20)
        self.ep.libDestroy()


def read_commands(into: queue.Queue[dict[str, Any] | None]) -> None:
    """stdin, one JSON object a line, into ``into``; None at end of input."""
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            into.put(json.loads(line))
        except ValueError as error:
            emit("error", text=f"bad command {line.strip()!r}: {error}")
    into.put(None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--transport", choices=("udp", "tcp"), default="udp")
    parser.add_argument("--user", default="pjsua")
    parser.add_argument("--100rel", dest="rel100", choices=tuple(PRACK_USE), default="off")
    parser.add_argument("--timer", choices=tuple(TIMER_USE), default="optional")
    parser.add_argument("--session-expires", type=int, help="PJSIP's Session-Expires (s)")
    parser.add_argument("--min-se", type=int, help="PJSIP's Min-SE (s, at least 90)")
    parser.add_argument("--codecs", help="the audio codecs to enable, in order (default: all)")
    parser.add_argument("--log", help="PJSIP's log file (default: stderr)")
    parser.add_argument("--publish-via", metavar="URI", help="PUBLISH presence through URI")
    args = parser.parse_args(argv)
    global _events
    _events = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    log: TextIO = open(args.log, "a", encoding="utf-8") if args.log else sys.stderr  # noqa: SIM115
    peer = Peer(args, log)
    commands: queue.Queue[dict[str, Any] | None] = queue.Queue()
    threading.Thread(target=read_commands, args=(commands,), daemon=True).start()
    emit("ready", port=args.port)
    try:
        while True:
            peer.ep.libHandleEvents(10)
            try:
                command = commands.get_nowait()
            except queue.Empty:
                continue
            if command is None:
                break
            try:
                if not peer.run(command):
                    break
            except (pj.Error, LookupError, ValueError, KeyError, TypeError) as error:
                text = error.info() if isinstance(error, pj.Error) else str(error)
                emit("error", text=f"{command.get('cmd')}: {text}")
    finally:
        peer.close()
        emit("stopped", calls=len(peer.calls))
        if log is not sys.stderr:
            log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
