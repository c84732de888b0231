"""Session timers: keeping an INVITE session alive with periodic refreshes (RFC 4028).

Install :class:`SessionTimer` on a UA (``UserAgent(config, extensions=[SessionTimer()])``):
it registers Session-Expires (compact ``x``, §4) and Min-SE (§5), adds ``timer`` to
Supported, and then

- as UAC, puts Session-Expires (and Min-SE once it learnt one) in INVITEs and, with
  :mod:`extensions.rfc3311` installed too, in UPDATEs on confirmed dialogs (§7.1, §7.4);
  retries after a 422 with the larger Min-SE (§7.3); reads the session interval and the
  refresher from the 2xx (§7.2);
- as UAS, answers a too small interval with 422 and Min-SE (§6, §9), and otherwise
  echoes the interval in the 2xx with the refresher chosen by Table 2 (§9);
- on every confirmed dialog with a session timer, the refresher sends a session refresh
  (an UPDATE when the peer allows it and rfc3311 is installed, else a re-INVITE with the
  unchanged description) when half the interval has passed, and either side sends BYE
  when no refresh succeeded by ``min(32, interval / 3)`` before the session expiration
  (§10).

The state of one dialog's timer is a :class:`SessionTimerState` in
:attr:`SessionTimer.sessions`, keyed by dialog ID; its two timers are the UA core's
(``ua.call_at``), so tests move time by hand.  The application is told with
:class:`SessionIntervalSet` (a 2xx set or renewed the timer), :class:`SessionRefreshSent`
and :class:`SessionExpired` (the BYE went out).  Proxies (§8) are not covered here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rfc3261.dialog import Dialog, DialogId, DialogState, dialog_id_of
from rfc3261.errors import ParseError
from rfc3261.extension import ClientRequest, ServerRequest, UAEffect, UAEvent, UAExtension
from rfc3261.headers import register_header
from rfc3261.message import Request, Response, parse
from rfc3261.session import INVITE_USAGE, Call
from rfc3261.ua_core import Timer, UserAgent

__all__ = [
    "MIN_SE_FLOOR",
    "TAG",
    "MinSE",
    "SessionExpired",
    "SessionExpires",
    "SessionIntervalSet",
    "SessionRefreshSent",
    "SessionTimer",
    "SessionTimerState",
]

TAG = "timer"
##= https://www.rfc-editor.org/rfc/rfc4028#section-5
##% When the header field is not present, its default value for is 90
##% seconds.
MIN_SE_FLOOR = 90
##= https://www.rfc-editor.org/rfc/rfc4028#section-4
##% However, 1800 seconds (30
##% minutes) is RECOMMENDED as the value for the Session-Expires header
##% field.
##= https://www.rfc-editor.org/rfc/rfc4028#section-4
##% but entities that insert the Session-Expires header field
##% SHOULD NOT choose values of less than 30 minutes.
# (The default; a smaller session_expires is the deployment's explicit choice.)
DEFAULT_SESSION_EXPIRES = 1800
REFRESH_METHODS = ("INVITE", "UPDATE")

_PARAM = re.compile(r"\s*([!-~]+?)\s*(?:=\s*(\S+?))?\s*")
_DELTA = re.compile(r"[0-9]{1,10}")


def _parse_delta(header: str, section: str, value: str) -> tuple[int, dict[str, str | None]]:
    """delta-seconds *(SEMI generic-param): the number and the parameters (lower-case names)."""
    first, *rest = value.split(";")
    text = first.strip(" \t")
    if not _DELTA.fullmatch(text):
        raise ParseError(f"{text[:20]!r} is not delta-seconds", f"RFC 4028 §{section}", header)
    params: dict[str, str | None] = {}
    for item in rest:
        match = _PARAM.fullmatch(item)
        if match is None:
            raise ParseError(f"{item[:20]!r} is not a parameter", f"RFC 4028 §{section}", header)
        params[match.group(1).lower()] = match.group(2)
    return int(text), params


def _params_text(params: dict[str, str | None]) -> str:
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params.items())


##= https://www.rfc-editor.org/rfc/rfc4028#section-4
##% The syntax of the Session-Expires header field is as follows:
@dataclass(frozen=True)
class SessionExpires:
    """Session-Expires: the session interval in seconds and who refreshes (§4)."""

    delta: int
    refresher: str | None = None  # "uac", "uas" or None (left to the UAS, §7.1)
    params: dict[str, str | None] = field(default_factory=dict)

    ##= https://www.rfc-editor.org/rfc/rfc4028#section-4
    ##% In other words, SIP entities MUST be prepared to handle Session-Expires
    ##% header field values of any duration greater than 90 seconds
    @classmethod
    def parse(cls, value: str) -> SessionExpires:
        delta, params = _parse_delta("Session-Expires", "4", value)
        refresher = params.pop("refresher", None)
        if refresher is not None:
            refresher = refresher.lower()
            if refresher not in ("uac", "uas"):
                raise ParseError(
                    f"refresher={refresher!r} is neither uac nor uas",
                    "RFC 4028 §4",
                    "Session-Expires",
                )
        return cls(delta, refresher, params)

    def __str__(self) -> str:
        refresher = "" if self.refresher is None else f";refresher={self.refresher}"
        return f"{self.delta}{refresher}{_params_text(self.params)}"


##= https://www.rfc-editor.org/rfc/rfc4028#section-5
##% The syntax of the Min-SE header field is as follows:
@dataclass(frozen=True)
class MinSE:
    """Min-SE: the smallest session interval an element accepts (§5)."""

    delta: int
    params: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def parse(cls, value: str) -> MinSE:
        return cls(*_parse_delta("Min-SE", "5", value))

    def __str__(self) -> str:
        return f"{self.delta}{_params_text(self.params)}"


# -- events ----------------------------------------------------------------------------


@dataclass
class SessionIntervalSet(UAEvent):
    """A 2xx to a session refresh request set the dialog's timer (``interval`` None: off)."""

    dialog_id: DialogId
    interval: int | None
    local_refresher: bool

    def describe(self) -> str:
        """One line for a log or a terminal."""
        if self.interval is None:
            return f"session timer off ({self.dialog_id.call_id})"
        who = "we refresh" if self.local_refresher else "the peer refreshes"
        return f"session timer: {self.interval} s, {who} ({self.dialog_id.call_id})"


@dataclass
class SessionRefreshSent(UAEvent):
    """The refresher sent a session refresh request (``method``: INVITE or UPDATE)."""

    call: Call
    dialog: Dialog
    method: str

    def describe(self) -> str:
        """One line for a log or a terminal."""
        return f"session refresh sent ({self.method}, {self.call.call_id})"


@dataclass
class SessionExpired(UAEvent):
    """No refresh succeeded before the session expiration: a BYE was sent (§10)."""

    call: Call
    dialog: Dialog

    def describe(self) -> str:
        """One line for a log or a terminal."""
        return f"session expired without refresh: BYE sent ({self.call.call_id})"


# -- per-dialog state ------------------------------------------------------------------


##= https://www.rfc-editor.org/rfc/rfc4028#section-7.2
##% The session timer requires a UA to create and maintain state.  This
##% state includes the session interval, the session expiration, and the
##% identity of the refresher.  This state is associated with the dialog
##% on which the session has been negotiated.
##= https://www.rfc-editor.org/rfc/rfc4028#section-9
##% Just like the UAC, the UAS stores state for the session timer.  This
##% state includes the session interval, the session expiration, and the
##% identity of the refresher.  This state is bound to the dialog used to
##% set up the session.
@dataclass(eq=False)
class SessionTimerState:
    """The session timer of one dialog."""

    interval: int | None = None
    local_refresher: bool = False
    expiration: float | None = None
    # The largest Min-SE of a 422 or of a refresh request received on this dialog (§7.4).
    min_se: int | None = None
    peer_allows_update: bool = False
    refresh_timer: Timer | None = None
    expiry_timer: Timer | None = None

    def stop(self) -> None:
        for timer in (self.refresh_timer, self.expiry_timer):
            if timer is not None:
                timer.cancel()
        self.refresh_timer = self.expiry_timer = None


def _tags(message: Request | Response, name: str) -> list[str]:
    return [str(tag).lower() for tag in message.header(name) or []]


def _allows_update(message: Request | Response) -> bool:
    return "UPDATE" in (str(m).upper() for m in message.header("Allow") or [])


class SessionTimer(UAExtension):
    """RFC 4028 on one UA: negotiates session timers, refreshes, and ends stale sessions."""

    name = "timer"
    # (The option tag joins the UA's Supported, in requests outside a dialog and in
    # responses; outgoing_request adds it to in-dialog requests too, §7.1.)
    option_tags = (TAG,)

    def __init__(
        self,
        *,
        session_expires: int | None = DEFAULT_SESSION_EXPIRES,
        min_se: int = MIN_SE_FLOOR,
        refresher: str | None = None,
        uas_refresher: str = "uac",
        require: bool = False,
    ) -> None:
        """``session_expires``: the interval asked for (None: ask for none, accept one);
        ``min_se``: the smallest interval accepted (422 below it); ``refresher``: the
        refresher parameter of our initial INVITEs (None: the UAS chooses, as §7.1
        recommends); ``uas_refresher``: whom the UAS picks when the request leaves it
        open (Table 2); ``require``: put Require: timer in INVITEs (NOT RECOMMENDED)."""
        self.session_expires: int | None = None
        self.min_se = MIN_SE_FLOOR
        self.configure(session_expires=session_expires, min_se=min_se)
        if refresher not in (None, "uac", "uas") or uas_refresher not in ("uac", "uas"):
            raise ValueError("a refresher is 'uac' or 'uas' (RFC 4028 §4)")
        self.refresher = refresher
        self.uas_refresher = uas_refresher
        self.require = require
        #: The session timer of each dialog that has one, by dialog ID.
        self.sessions: dict[DialogId, SessionTimerState] = {}
        # The largest Min-SE of the 422s to an INVITE with no dialog yet, by Call-ID.
        self._min_se_by_call_id: dict[str, int] = {}

    def configure(self, *, session_expires: int | None = None, min_se: int | None = None) -> None:
        """Change the interval asked for and the minimum accepted (None: keep it)."""
        session_expires = self.session_expires if session_expires is None else session_expires
        min_se = self.min_se if min_se is None else min_se
        ##= https://www.rfc-editor.org/rfc/rfc4028#section-9
        ##% This minimum interval MUST
        ##% NOT be lower than 90 seconds.
        ##= https://www.rfc-editor.org/rfc/rfc4028#section-5
        ##% When present in a request or response, its value MUST NOT be less than 90 seconds.
        # (Every Min-SE this UA writes is its min_se, or a larger one it learnt.)
        if min_se < MIN_SE_FLOOR:
            raise ValueError(f"min_se {min_se} is below {MIN_SE_FLOOR} s (RFC 4028 §5)")
        ##= https://www.rfc-editor.org/rfc/rfc4028#section-7.1
        ##% If a Min-SE header is included in the
        ##% initial session refresh request, the value of the Session-Expires
        ##% MUST be greater than or equal to the value in Min-SE.
        if session_expires is not None and session_expires < min_se:
            raise ValueError(f"session_expires {session_expires} is below min_se {min_se}")
        self.session_expires, self.min_se = session_expires, min_se

    def install(self, ua: UserAgent) -> None:
        super().install(ua)
        ##= https://www.rfc-editor.org/rfc/rfc4028#section-4
        ##% Note that a compact form, the letter x, has been reserved for
        ##% Session-Expires.
        register_header(
            "Session-Expires", SessionExpires.parse, rfc=4028, section="4", compact="x"
        )
        register_header("Min-SE", MinSE.parse, rfc=4028, section="5")

    # -- UAC: the requests (§7.1, §7.4) -----------------------------------------------

    def outgoing_request(self, request: Request, client: ClientRequest | None) -> None:
        # (Not in a CANCEL either: RFC 3261 Table 3 gives CANCEL no Supported.)
        if request.method in ("ACK", "CANCEL") or client is None:
            return
        if request.method == "BYE" and client.dialog is not None:
            self.forget(client.dialog.id)  # the session ends with the BYE (RFC 3261 §15.1.1)
        ##= https://www.rfc-editor.org/rfc/rfc4028#section-7.1
        ##% A UAC that supports the session timer extension defined here MUST
        ##% include a Supported header field in each request (except ACK),
        ##% listing the option tag 'timer' [2].
        ##= https://www.rfc-editor.org/rfc/rfc4028#section-7.1
        ##% It MUST do so even if the UAC is
        ##% not requesting usage of the session timer for this session.
        # (The core builds in-dialog requests without Supported: it is added here.)
        tags = [str(tag) for tag in request.header("Supported") or []]
        if TAG not in (tag.lower() for tag in tags):
            request.headers.set("Supported", ", ".join([*tags, TAG]))
        if request.method not in REFRESH_METHODS:
            return
        if request.to.tag is None:
            if request.method == "INVITE":
                self._initial_request(request)
            return
        dialog = client.dialog
        if dialog is not None and dialog.state is DialogState.CONFIRMED:
            self._subsequent_request(request, dialog)

    ##= https://www.rfc-editor.org/rfc/rfc4028#section-7.1
    ##% A UAC MAY include the Min-SE header field in the initial INVITE
    ##% request.
    ##= https://www.rfc-editor.org/rfc/rfc4028#section-7.1
    ##% A UAC MAY include a Session-Expires header field in an initial
    ##% session refresh request if it wants a session timer applied to the
    ##% session.
    ##= https://www.rfc-editor.org/rfc/rfc4028#section-7.1
    ##% The UAC MAY include the refresher parameter with value 'uac' if it
    ##% wants to perform the refreshes.  However, it is RECOMMENDED that the
    ##% parameter be omitted so that it can be selected by the negotiation
    ##% mechanisms described below.
    ##= https://www.rfc-editor.org/rfc/rfc4028#section-7.1
    ##% The UAC MAY include a Require header field in the request with the
    ##% value 'timer' to indicate that the UAS must support the session timer
    ##% to participate in the session.
    ##= https://www.rfc-editor.org/rfc/rfc4028#section-7.1
    ##% However, usage of either Require or
    ##% Proxy-Require by the UAC is NOT RECOMMENDED.
    ##= https://www.rfc-editor.org/rfc/rfc4028#section-7.1
    ##% The Supported header field containing 'timer' MUST still
    ##% be included, even if the Require or Proxy-Require header fields are
    ##% present containing 'timer'.
    def _initial_request(self, request: Request) -> None:
        ##= https://www.rfc-editor.org/rfc/rfc4028#section-7.4
        ##% Similarly, if no dialog has been
        ##% established yet, a UAC MUST insert the Min-SE header field into an
        ##% INVITE request if it has ever received a 422 response to a previous
        ##% INVITE request with the same Call-ID.
        ##= https://www.rfc-editor.org/rfc/rfc4028#section-7.4
        ##% If
        ##% no dialog has been established, the Min-SE header field value is set
        ##% to the largest value among all Min-SE header field values returned in
        ##% all 422 responses for an INVITE request with the same Call-ID.
        ##= https://www.rfc-editor.org/rfc/rfc4028#section-7.4
        ##% The UAC may have its own opinions about the minimum session interval.
        ##% In that case, if the value above is too small, the UAC MAY increase
        ##% it.
        learnt = self._min_se_by_call_id.get(request.call_id)
        min_se = max(self.min_se, learnt or 0)
        if learnt is not None or self.min_se > MIN_SE_FLOOR:
            request.headers.set("Min-SE", str(min_se))
        if self.session_expires is not None or learnt is not None:
            interval = max(self.session_expires or 0, min_se)
            request.headers.set("Session-Expires", str(SessionExpires(interval, self.refresher)))
        if self.require:
            tags = [str(tag) for tag in request.header("Require") or []]
            if TAG not in (tag.lower() for tag in tags):
                request.headers.set("Require", ", ".join([*tags, TAG]))

    ##= https://www.rfc-editor.org/rfc/rfc4028#section-7.4
    ##% The values of Supported, Require, and Proxy-Require used in the
    ##% initial Session refresh request MUST be used.
    # (Supported is the UA's, the same in every request; Require: timer is only ever put
    # in an initial INVITE, and a refresh that needs no Require does not get one.)
    ##= https://www.rfc-editor.org/rfc/rfc4028#section-7.4
    ##% The UAC MUST insert the Min-SE header field into a session refresh
    ##% request for a particular dialog if it has ever received a 422
    ##% response to a previous session refresh request on the same dialog, or
    ##% if it has received a session refresh request on that dialog that
    ##% contained a Min-SE header field.
    ##= https://www.rfc-editor.org/rfc/rfc4028#section-7.4
    ##% The value of the Min-SE header field present in a session refresh
    ##% request MUST be the largest value among all Min-SE header field
    ##% values returned in all 422 responses or received in session refresh
    ##% requests, on the same dialog, if a dialog has been established.
    ##= https://www.rfc-editor.org/rfc/rfc4028#section-7.4
    ##% In a session refresh request sent within a dialog with an active
    ##% session timer, the Session-Expires header field SHOULD be present.
    ##% When present, it SHOULD be equal to the maximum of the Min-SE header
    ##% field (recall that its default value when not present is 90 seconds)
    ##% and the current session interval.
    ##= https://www.rfc-editor.org/rfc/rfc4028#section-7.4
    ##% As such, a UA
    ##% should only ignore the SHOULD in unusual and singular cases where it
    ##% is desirable to change the session interval mid-dialog.
    ##= https://www.rfc-editor.org/rfc/rfc4028#section-7.4
    ##% If the session refresh request is not the initial one, it is
    ##% RECOMMENDED that the refresher parameter be set to 'uac' if the
    ##% element sending the request is currently performing refreshes, and to
    ##% 'uas' if its peer is performing the refreshes.
    ##= https://www.rfc-editor.org/rfc/rfc4028#section-7.2
    ##% Similarly, a re-INVITE or UPDATE request sent within a dialog for
    ##% purposes other than session refreshes will also have the effect of
    ##% refreshing the session, and its processing will follow the procedures
    ##% defined in this specification.
    def _subsequent_request(self, request: Request, dialog: Dialog) -> None:
        state = self.sessions.get(dialog.id)
        if state is None:
            # No timer on this dialog: a re-INVITE or UPDATE may ask for one again.
            if self.session_expires is not None and request.method == "INVITE":
                request.headers.set("Session-Expires", str(SessionExpires(self.session_expires)))
            return
        if state.min_se is not None:
            request.headers.set("Min-SE", str(state.min_se))
        if state.interval is None:
            return
        interval = max(state.min_se or MIN_SE_FLOOR, state.interval)
        refresher = "uac" if state.local_refresher else "uas"
        request.headers.set("Session-Expires", str(SessionExpires(interval, refresher)))

    # -- UAC: the responses (§7.2, §7.3, §10) ------------------------------------------

    ##= https://www.rfc-editor.org/rfc/rfc4028#section-7.3
    ##% If the response to a session refresh request is a 422 (Session
    ##% Interval Too Small) response message, then the UAC MAY retry the
    ##% request.
    ##= https://www.rfc-editor.org/rfc/rfc4028#section-7.3
    ##% This new request constitutes a new transaction and SHOULD have the
    ##% same value as the Call-ID, To, and From of the previous request, but
    ##% the CSeq should contain a new sequence number that is one higher than
    ##% the previous.
    # (The core's retry keeps Call-ID, To and From and renumbers the CSeq, RFC 3261 §8.1.3.5.)
    ##= https://www.rfc-editor.org/rfc/rfc4028#section-10
    ##% If the session refresh request does not
    ##% generate a 2xx response (and, as a result, the session is not
    ##% refreshed), and a response other than 408 or 481 is received, the UAC
    ##% SHOULD follow the rules specific to that response code and retry if
    ##% possible.
    # (A 422 is retried here; credentials (401/407) by the core's retry policies and a 491
    # after the §14.1 back-off by the session manager, for a refresh as for any request.)
    ##= https://www.rfc-editor.org/rfc/rfc4028#section-10
    ##% This means that a UA
    ##% could attempt a refresh and receive a 422 response with a Min-SE
    ##% header field that contains a value much larger than the current
    ##% session interval.
    def retry(self, client: ClientRequest, response: Response, now: float) -> Request | None:
        request = client.request
        if response.status != 422 or request.method not in REFRESH_METHODS:
            return None
        min_se = response.header("Min-SE")
        sent = request.header("Min-SE")
        ##= https://www.rfc-editor.org/rfc/rfc4028#section-10
        ##% However, the UAC SHOULD NOT continuously retry the request if the server
        ##% indicates the same error response.
        # (A 422 without Min-SE, against §6, teaches nothing either.)
        if min_se is None or (sent is not None and min_se.delta <= sent.delta):
            if request.to.tag is None:
                self._min_se_by_call_id.pop(request.call_id, None)  # the INVITE failed
            return None
        learnt = max(min_se.delta, MIN_SE_FLOOR)
        if request.to.tag is None:
            known = self._min_se_by_call_id.get(request.call_id, 0)
            self._min_se_by_call_id[request.call_id] = max(known, learnt)
        else:
            state = self.sessions.get(dialog_id_of(request, uac=True))
            if state is None:
                return None
            state.min_se = max(state.min_se or 0, learnt)
        retry = parse(bytes(request))
        if not isinstance(retry, Request):
            return None
        retry.headers.remove("Session-Expires")  # outgoing_request writes it again
        retry.headers.remove("Min-SE")
        return retry

    def inspect_response(
        self, client: ClientRequest, response: Response, now: float
    ) -> list[UAEffect] | None:
        request = client.request
        if request.method not in REFRESH_METHODS or response.status < 200:
            return None
        if response.status >= 300:
            if request.to.tag is None and response.status != 422:
                self._min_se_by_call_id.pop(request.call_id, None)
            ##= https://www.rfc-editor.org/rfc/rfc4028#section-10
            ##% If the session refresh request transaction times out or generates a
            ##% 408 or 481 response, then the UAC sends a BYE request as per Section
            ##% 12.2.1.2 of RFC 3261 [2].
            # (A re-INVITE's 408 and 481 end the call in rfc3261.session; an UPDATE's here.)
            if request.method == "UPDATE" and response.status in (408, 481):
                did = dialog_id_of(request, uac=True)
                if did in self.sessions:
                    self.ua.call_at(now, lambda t: self._expire(did, t))
            return None
        if response.to.tag is None:
            return None
        did = dialog_id_of(response, uac=True)
        if request.to.tag is None:
            self._min_se_by_call_id.pop(request.call_id, None)
        elif did not in self.sessions and "Session-Expires" not in response.headers:
            return None
        if request.method == "UPDATE" and request.to.tag is None:
            return None
        state = self.sessions.get(did) or SessionTimerState()
        if "Allow" in response.headers:
            state.peer_allows_update = _allows_update(response)
        ##= https://www.rfc-editor.org/rfc/rfc4028#section-7.2
        ##% If it
        ##% does, the UAC MUST look for the Session-Expires header field to
        ##% process the response.
        ##= https://www.rfc-editor.org/rfc/rfc4028#section-7.2
        ##% UACs MUST be prepared to receive a Session-Expires header field in a
        ##% response, even if none were present in the request.
        granted = response.header("Session-Expires")
        asked = request.header("Session-Expires")
        ##= https://www.rfc-editor.org/rfc/rfc4028#section-7.2
        ##% The UAC MUST set the
        ##% identity of the refresher to the value of this parameter.
        if granted is not None:
            # A refresher missing (against §7.2) leaves the refreshes to us, who asked.
            interval, local = granted.delta, granted.refresher != "uas"
        ##= https://www.rfc-editor.org/rfc/rfc4028#section-7.2
        ##% In this case, if the UAC still wishes to use the
        ##% session timer (which is purely for its benefit alone), it has to
        ##% perform them.  To do this, the UAC follows the procedures defined in
        ##% this specification as if the Session-Expires header field were in the
        ##% 2xx response, and its value was the same as that in the request, but
        ##% with a refresher parameter of 'uac'.
        elif asked is not None and TAG not in _tags(response, "Require"):
            interval, local = asked.delta, True
        ##= https://www.rfc-editor.org/rfc/rfc4028#section-7.2
        ##% If the 2xx response did not contain a Session-Expires header field,
        ##% there is no session expiration.  In this case, no refreshes need to
        ##% be sent.
        ##= https://www.rfc-editor.org/rfc/rfc4028#section-7.2
        ##% This means that the session
        ##% timer can be 'turned-off' in mid dialog by receiving a response
        ##% without a Session-Expires header field.
        else:
            self._set(did, state, None, False, now)
            return None
        ##= https://www.rfc-editor.org/rfc/rfc4028#section-7.2
        ##% The UAC remembers the session interval for a session as the value of
        ##% the delta-time from the Session-Expires header field in the most
        ##% recent 2xx response to a session refresh request on a dialog.
        ##= https://www.rfc-editor.org/rfc/rfc4028#section-7.2
        ##% It is
        ##% explicitly allowed for there to be differing session intervals (or
        ##% none at all) on differing dialogs established as a result of a single
        ##% INVITE.
        ##= https://www.rfc-editor.org/rfc/rfc4028#section-7.2
        ##% The session expiration is the time of
        ##% reception of the last 2xx response to a session refresh request on
        ##% that dialog plus the session interval for that session.
        self._set(did, state, interval, local, now)
        return None

    # -- UAS (§9) ---------------------------------------------------------------------

    ##= https://www.rfc-editor.org/rfc/rfc4028#section-9
    ##% If an incoming request contains a Supported header field with a value
    ##% 'timer' and a Session Expires header field, the UAS MAY reject the
    ##% INVITE request with a 422 (Session Interval Too Small) response if
    ##% the session interval in the Session-Expires header field is smaller
    ##% than the minimum interval defined by the UAS' local policy.
    ##= https://www.rfc-editor.org/rfc/rfc4028#section-9
    ##% When
    ##% sending the 422 response, the UAS MUST include a Min-SE header field
    ##% with the value of its minimum interval.
    ##= https://www.rfc-editor.org/rfc/rfc4028#section-6
    ##% The 422 response MUST contain a Min-SE
    ##% header field with the minimum timer for that server.
    def screen_request(self, server: ServerRequest, now: float) -> list[UAEffect] | None:
        request = server.request
        if request.method not in REFRESH_METHODS:
            return None
        asked = request.header("Session-Expires")
        if asked is None or TAG not in _tags(request, "Supported"):
            return None
        if asked.delta < self.min_se:
            return self.ua.respond(server, 422, now, headers=[("Min-SE", str(self.min_se))])
        return None

    def outgoing_response(self, response: Response, server: ServerRequest | None) -> None:
        ##= https://www.rfc-editor.org/rfc/rfc4028#section-5
        ##% The Min-SE header field MUST NOT be used in responses except for
        ##% those with a 422 response code.
        if response.status != 422 and "Min-SE" in response.headers:
            response.headers.remove("Min-SE")
        if server is None or not 200 <= response.status < 300:
            return
        request = server.request
        if request.method == "BYE" and server.dialog is not None:
            self.forget(server.dialog.id)  # the peer ended the session (RFC 3261 §15.1.2)
            return
        if request.method not in REFRESH_METHODS or server.dialog is None:
            return
        dialog = server.dialog
        if request.method == "UPDATE" and dialog.state is not DialogState.CONFIRMED:
            return
        did = dialog.id
        state = self.sessions.get(did)
        received_min = request.header("Min-SE")
        if state is not None and received_min is not None:
            state.min_se = max(state.min_se or 0, received_min.delta)
        decided = self._choose(request)
        if decided is None:
            self._after_sending(server, did, None, False)
            return
        interval, refresher = decided
        response.headers.set("Session-Expires", str(SessionExpires(interval, refresher)))
        ##= https://www.rfc-editor.org/rfc/rfc4028#section-9
        ##% If the refresher parameter in the Session-Expires header field in the
        ##% 2xx response has a value of 'uac', the UAS MUST place a Require
        ##% header field into the response with the value 'timer'.
        ##= https://www.rfc-editor.org/rfc/rfc4028#section-9
        ##% If the refresher parameter in
        ##% the 2xx response has a value of 'uas' and the Supported header field
        ##% in the request contained the value 'timer', the UAS SHOULD place a
        ##% Require header field into the response with the value 'timer'.
        if refresher == "uac" or TAG in _tags(request, "Supported"):
            tags = [str(tag) for tag in response.header("Require") or []]
            if TAG not in (tag.lower() for tag in tags):
                response.headers.set("Require", ", ".join([*tags, TAG]))
        self._after_sending(server, did, interval, refresher == "uas")

    def _choose(self, request: Request) -> tuple[int, str] | None:
        """The session interval and refresher of our 2xx to ``request`` (§9), or None."""
        asked = request.header("Session-Expires")
        supported = TAG in _tags(request, "Supported")
        floor = max(
            MIN_SE_FLOOR, request.header("Min-SE").delta if "Min-SE" in request.headers else 0
        )
        ##= https://www.rfc-editor.org/rfc/rfc4028#section-9
        ##% If the UAS wishes to accept the request, it copies the value of the
        ##% Session-Expires header field from the request into the 2xx response.
        ##= https://www.rfc-editor.org/rfc/rfc4028#section-9
        ##% The UAS response MAY reduce its value but MUST NOT set it to a
        ##% duration lower than the value in the Min-SE header field in the
        ##% request, if it is present; otherwise the UAS MAY reduce its value but
        ##% MUST NOT set it to a duration lower than 90 seconds.
        ##= https://www.rfc-editor.org/rfc/rfc4028#section-9
        ##% The UAS MUST
        ##% NOT increase the value of the Session-Expires header field.
        if asked is not None:
            interval = asked.delta
            if self.session_expires is not None and self.session_expires < interval:
                interval = max(self.session_expires, floor)
            interval = min(interval, asked.delta)
        ##= https://www.rfc-editor.org/rfc/rfc4028#section-9
        ##% The UAS may request a session timer in the 2XX response by
        ##% including a Session-Expires header field.  The value MUST NOT be set
        ##% to a duration lower than the value in the Min-SE header field in the
        ##% request, if it is present.
        elif supported and self.session_expires is not None:
            interval = max(self.session_expires, floor)
        else:
            return None
        ##= https://www.rfc-editor.org/rfc/rfc4028#section-9
        ##% The UAS MUST set the value of the refresher parameter in the
        ##% Session-Expires header field in the 2xx response.
        ##= https://www.rfc-editor.org/rfc/rfc4028#section-9
        ##% The value is
        ##% based on the value of this parameter in the request, and on whether
        ##% the UAC supports the session timer extension.
        ##= https://www.rfc-editor.org/rfc/rfc4028#section-9
        ##% However, as the table
        ##% indicates, the UAS cannot override the UAC's choice of refresher, if
        ##% it made one.
        if not supported:
            refresher = "uas"  # Table 2: a UAC without the extension cannot refresh
        elif asked is not None and asked.refresher is not None:
            refresher = asked.refresher
        else:
            refresher = self.uas_refresher
        return interval, refresher

    ##= https://www.rfc-editor.org/rfc/rfc4028#section-9
    ##% The session expiration is the time of transmission of
    ##% the last 2xx response to a session refresh request on that dialog
    ##% plus the session interval.
    ##= https://www.rfc-editor.org/rfc/rfc4028#section-9
    ##% The session interval is set to the value of the
    ##% delta-time from the Session-Expires header field in the most recent
    ##% 2xx response to a session refresh request on that dialog.
    ##= https://www.rfc-editor.org/rfc/rfc4028#section-9
    ##% If the
    ##% most recent 2xx response had no Session-Expires header field, there
    ##% is no session expiration, and no refreshes have to be performed.
    def _after_sending(
        self, server: ServerRequest, did: DialogId, interval: int | None, local: bool
    ) -> None:
        """Set the dialog's timer once the 2xx has gone: outgoing_response has no clock,
        so this runs on the UA's next timer tick (a timer due at once), whenever the 2xx
        is sent (an extension may hold it back: RFC 3262 §3)."""
        request = server.request

        def start(now: float) -> list[UAEffect]:
            state = self.sessions.get(did) or SessionTimerState()
            if "Allow" in request.headers:
                state.peer_allows_update = _allows_update(request)
            received_min = request.header("Min-SE")
            if received_min is not None:
                state.min_se = max(state.min_se or 0, received_min.delta)
            self._set(did, state, interval, local, now)
            return []

        self.ua.call_at(0.0, start)

    # -- the timers (§10) ---------------------------------------------------------------

    def _set(
        self,
        did: DialogId,
        state: SessionTimerState,
        interval: int | None,
        local: bool,
        now: float,
    ) -> None:
        """A 2xx to a session refresh request: (re)start or stop the dialog's timer."""
        state.stop()
        if interval is None:
            if self.sessions.pop(did, None) is not None:
                self.ua.call_at(now, lambda t: [SessionIntervalSet(did, None, False)])
            return
        state.interval, state.local_refresher = interval, local
        state.expiration = now + interval
        self.sessions[did] = state
        ##= https://www.rfc-editor.org/rfc/rfc4028#section-7.2
        ##% If the UA
        ##% seeks to continue with the session beyond the session expiration, it
        ##% MUST generate a refresh before the session expiration.
        ##= https://www.rfc-editor.org/rfc/rfc4028#section-7.2
        ##% It is
        ##% RECOMMENDED that this refresh be sent once half the session interval
        ##% has elapsed.
        ##= https://www.rfc-editor.org/rfc/rfc4028#section-9
        ##% If UA wishes to continue with the session
        ##% beyond the session expiration, it MUST generate a refresh before the
        ##% session expiration.  It is RECOMMENDED that this refresh be sent once
        ##% half the session interval has elapsed.
        if local:
            state.refresh_timer = self.ua.call_at(
                now + interval / 2, lambda t: self._refresh(did, t)
            )
        ##= https://www.rfc-editor.org/rfc/rfc4028#section-10
        ##% Similarly, if the side not performing refreshes does not receive a
        ##% session refresh request before the session expiration, it SHOULD send
        ##% a BYE to terminate the session, slightly before the session
        ##% expiration.  The minimum of 32 seconds and one third of the session
        ##% interval is RECOMMENDED.
        # (The refresher too ends, at the expiration, a session no refresh of its own kept
        # alive, §10; the other side's BYE, earlier, usually ends it first.)
        margin = 0.0 if local else min(32.0, interval / 3)
        state.expiry_timer = self.ua.call_at(
            state.expiration - margin, lambda t: self._expire(did, t)
        )
        self.ua.call_at(now, lambda t: [SessionIntervalSet(did, interval, local)])

    def _live(self, did: DialogId) -> tuple[Dialog, Call] | None:
        """The dialog and call of a timer, or None (and the state dropped) when gone."""
        dialog = self.ua.dialogs.get(did)
        call = None if dialog is None else dialog.usage(INVITE_USAGE)
        if dialog is None or dialog.terminated or not isinstance(call, Call) or call.ended:
            state = self.sessions.pop(did, None)
            if state is not None:
                state.stop()
            return None
        return dialog, call

    ##= https://www.rfc-editor.org/rfc/rfc4028#section-10
    ##% The side generating a refresh does so according to the UAC procedures
    ##% defined in Section 7.
    ##= https://www.rfc-editor.org/rfc/rfc4028#section-7.4
    ##% A re-INVITE generated to refresh the session is a normal re-INVITE,
    ##% and an UPDATE generated to refresh a session is a normal UPDATE.
    ##= https://www.rfc-editor.org/rfc/rfc4028#section-7.4
    ##% If
    ##% a UAC knows that its peer supports the UPDATE method, it is
    ##% RECOMMENDED that UPDATE be used instead of a re-INVITE.
    ##= https://www.rfc-editor.org/rfc/rfc4028#section-7.4
    ##% It is RECOMMENDED that the UPDATE request not contain an
    ##% offer [4], but a re-INVITE SHOULD contain one, even if the details of
    ##% the session have not changed.
    ##= https://www.rfc-editor.org/rfc/rfc4028#section-7.4
    ##% In that case, the offer MUST indicate
    ##% that it has not changed.
    # (The re-INVITE offers the description sent last, unchanged: same origin line.)
    def _refresh(self, did: DialogId, now: float) -> list[UAEffect]:
        state = self.sessions.get(did)
        found = self._live(did)
        if state is None or found is None:
            return []
        dialog, call = found
        state.refresh_timer = None
        update = self.ua.extension("update")
        try:
            if update is not None and state.peer_allows_update:
                method = "UPDATE"
                effects = update.update(call, now)  # type: ignore[attr-defined]
            else:
                method = "INVITE"
                # (The negotiation holds the description sent last, offer or answer,
                # whoever wrote it: call.local_body is only the first one.)
                last = call.negotiation.local or call.local_body
                effects = self.ua.sessions.reinvite(
                    call, now, last, call.content_type or "application/sdp", dialog
                )
        except ValueError:
            # An INVITE transaction or an offer is in progress (RFC 3261 §14.1, RFC 3264
            # §4): try again shortly, while there is time before the expiry timer.
            retry_at = now + 2.0
            if state.expiration is not None and retry_at < state.expiration - 32.0:
                state.refresh_timer = self.ua.call_at(retry_at, lambda t: self._refresh(did, t))
            return []
        return [*effects, SessionRefreshSent(call, dialog, method)]

    def _expire(self, did: DialogId, now: float) -> list[UAEffect]:
        """No refresh came in time (or the refresh failed): end the session with BYE."""
        found = self._live(did)
        state = self.sessions.pop(did, None)
        if state is not None:
            state.stop()
        if found is None:
            return []
        dialog, call = found
        try:
            effects = self.ua.sessions.bye(call, now, dialog)
        except ValueError:
            return []
        return [*effects, SessionExpired(call, dialog)]

    # -- the end of a dialog ----------------------------------------------------------

    def forget(self, did: DialogId) -> None:
        """Stop and drop a dialog's timer (its session ended)."""
        state = self.sessions.pop(did, None)
        if state is not None:
            state.stop()
