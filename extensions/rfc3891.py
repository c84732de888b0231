"""The Replaces header field (RFC 3891): one dialog taking the place of another.

Install :class:`ReplacesExtension` on a UA (``--extension replaces`` in the programs):
``replaces`` joins Supported (§6.2) and the Replaces header field is read typed
(:class:`Replaces`, §6.1).

Receiving (§3): an INVITE carrying a Replaces header field is screened before the
session manager sees it.  The dialog it names is looked up among this UA's dialogs
(the to-tag against the local tag, the from-tag against the remote tag; a tag of
"0" also matches none).  400 for a request other than INVITE, for two Replaces or
for a Replaces beside a contradictory header field; 481 when no INVITE dialog
matches (or several do), or when it names an early dialog this UA did not
originate; 603 when the dialog has ended already; 486 for ``early-only`` and a
confirmed dialog; 403 when the ``authorize`` policy refuses.  Otherwise the new call
is answered at once (its offer answered by the session describer, RFC 3264 with SDP),
the replaced dialog is shut down (BYE when confirmed, CANCEL of our INVITE when
early) and the application gets :class:`CallReplaced` naming both calls.

Sending (§4): :meth:`ReplacesExtension.invite` sends an INVITE with a Replaces naming
a dialog (one of ours, its ID as its owner sees it, or a value received in a REFER's
Refer-To); :func:`replaces_value` writes the value.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from rfc3261 import abnf
from rfc3261.dialog import Dialog, DialogId, DialogState
from rfc3261.digest_server import DigestAuthenticator
from rfc3261.errors import ParseError
from rfc3261.extension import ServerRequest, UAEffect, UAEvent, UAExtension
from rfc3261.headers import NameAddr, register_header
from rfc3261.message import Request
from rfc3261.session import INVITE_USAGE, Call, IncomingCall
from rfc3261.ua_core import UserAgent
from rfc3261.uri import SipURI

__all__ = [
    "CallReplaced",
    "Replaces",
    "ReplacesExtension",
    "referred_by_or_same_user",
    "replaces_value",
]


##= https://www.rfc-editor.org/rfc/rfc3891#section-4
##% The
##% User Agent Client (UAC) places the Call-ID, to-tag, and from-tag
##% information for the target dialog in a single Replaces header field
def replaces_value(dialog: DialogId, *, early_only: bool = False) -> str:
    """The Replaces value naming ``dialog`` (this UA's view of it) to the dialog's peer.

    The peer matches the to-tag against its local tag and the from-tag against its remote
    tag (§3): so the to-tag is our remote tag and the from-tag our local tag.
    """
    if not dialog.call_id or dialog.local_tag is None or dialog.remote_tag is None:
        raise ValueError("a Replaces value needs the Call-ID and both tags of the dialog")
    value = f"{dialog.call_id};to-tag={dialog.remote_tag};from-tag={dialog.local_tag}"
    return value + (";early-only" if early_only else "")


# Replaces = "Replaces" HCOLON callid *(SEMI replaces-param) (§6.1); each replaces-param
# (to-tag, from-tag, early-flag) is a generic-param in form, so the value is read as a
# callid and generic-params, and the three are picked out of those.
_VALUE = re.compile(f"({abnf.callid})((?:{abnf.SEMI}{abnf.generic_param})*+)")
_PARAM = re.compile(f"{abnf.SEMI}({abnf.token})(?:{abnf.EQUAL}({abnf.gen_value}))?")
_TOKEN = re.compile(abnf.token)


def _bad(defect: str) -> ParseError:
    return ParseError(defect, "RFC 3891 §6.1", "Replaces")


@dataclass(frozen=True)
class Replaces:
    """One Replaces value: the dialog to replace, as its receiver's peer names it."""

    call_id: str
    to_tag: str
    from_tag: str
    early_only: bool = False
    # Other generic-params, kept as written.
    params: tuple[tuple[str, str | None], ...] = ()

    ##= https://www.rfc-editor.org/rfc/rfc3891#section-6.1
    ##% A Replaces header field MUST contain exactly one to-tag and exactly
    ##% one from-tag, as they are required for unique dialog matching.
    ##= https://www.rfc-editor.org/rfc/rfc3891#section-6.1
    ##% A Replaces header field MAY contain the early-flag.
    @classmethod
    def parse(cls, value: str) -> Replaces:
        match = _VALUE.fullmatch(value.strip())
        if match is None:
            raise _bad(f"{value!r} is not a callid followed by parameters")
        to_tags: list[str] = []
        from_tags: list[str] = []
        early_only = False
        others: list[tuple[str, str | None]] = []
        for name, param in _PARAM.findall(match[2]):
            lowered, given = name.lower(), param or None
            if lowered in ("to-tag", "from-tag"):
                # to-tag = "to-tag" EQUAL token (a tag is a token, not a quoted string)
                if given is None or _TOKEN.fullmatch(given) is None:
                    raise _bad(f"{name} needs a token value")
                (to_tags if lowered == "to-tag" else from_tags).append(given)
            elif lowered == "early-only":
                if given is not None:
                    raise _bad("early-only is a flag: it takes no value")
                early_only = True
            else:
                others.append((name, given))
        if len(to_tags) != 1 or len(from_tags) != 1:
            raise _bad("exactly one to-tag and one from-tag are needed")
        return cls(match[1], to_tags[0], from_tags[0], early_only, tuple(others))

    def __str__(self) -> str:
        text = f"{self.call_id};to-tag={self.to_tag};from-tag={self.from_tag}"
        text += ";early-only" if self.early_only else ""
        for name, value in self.params:
            text += f";{name}" if value is None else f";{name}={value}"
        return text

    ##= https://www.rfc-editor.org/rfc/rfc3891#section-3
    ##% The User Agent Server
    ##% (UAS) matches the to-tag and from-tag parameters as if they were tags
    ##% present in an incoming request.  In other words, the to-tag parameter
    ##% is compared to the local tag, and the from-tag parameter is compared
    ##% to the remote tag.
    def names(self, dialog: DialogId) -> bool:
        """Whether this value names ``dialog`` (this UA's dialog ID)."""
        return (
            dialog.call_id == self.call_id
            and _tag_matches(self.to_tag, dialog.local_tag)
            and _tag_matches(self.from_tag, dialog.remote_tag)
        )


##= https://www.rfc-editor.org/rfc/rfc3891#section-6.1
##% For
##% compatibility with dialogs initiated by RFC 2543 [9] compliant UAs, a
##% tag of zero matches both tags of zero and null.
def _tag_matches(given: str, tag: str | None) -> bool:
    if given == "0":
        return tag in (None, "", "0")
    return given == tag


@dataclass
class CallReplaced(UAEvent):
    """``call`` (new, answered already) took the place of ``replaced``'s ``dialog``."""

    call: Call
    replaced: Call
    dialog: Dialog
    request: Request

    def describe(self) -> str:
        return f"call {self.call.call_id} replaces call {self.replaced.call_id}"


#: Decides whether the INVITE ``request`` may replace ``dialog`` of ``call`` (§3).
Authorize = Callable[[Request, Call, Dialog], bool]


def _same_user(a: Any, b: Any) -> bool:
    if not isinstance(a, SipURI) or not isinstance(b, SipURI):
        return False
    return (a.user, a.host_lower) == (b.user, b.host_lower)


##= https://www.rfc-editor.org/rfc/rfc3891#section-3
##% If the replacement request contains a
##% Referred-By header that corresponds to the user being replaced, the
##% UA SHOULD treat the replacement as if the replacement was authorized
##% by the replaced party.
##= https://www.rfc-editor.org/rfc/rfc3891#section-3
##% If the initiator of the new INVITE has been
##% successfully authenticated as equivalent to the user who is being
##% replaced, then the replacement is authorized.
##= https://www.rfc-editor.org/rfc/rfc3891#section-8
##% In addition, implementations
##% which support the Replaces header SHOULD also implement the Referred-By
##% mechanism.
##= https://www.rfc-editor.org/rfc/rfc3891#section-8
##% Implementations SHOULD NOT rely
##% on this method as an authorization mechanism.
# (A former participant in a conversation with this UA is not the user replaced: only
# that user, or a Referred-By naming that user, passes.)
def referred_by_or_same_user(request: Request, call: Call, dialog: Dialog) -> bool:
    """The default policy: the INVITE comes from, or is referred by, the user replaced.

    The user being replaced is the matched dialog's remote party.  The identities are
    compared as the request states them (From, Referred-By); an application with
    stronger means (Digest, S/MIME) passes its own ``authorize``.
    """
    replaced = dialog.remote_uri.uri
    if _same_user(request.from_.uri, replaced):
        return True
    for value in request.headers.get_all("Referred-By"):
        try:
            referrer = NameAddr.parse(value.split(",")[0], "Referred-By")
        except ValueError:
            continue
        if _same_user(referrer.uri, replaced):
            return True
    return False


# Header fields whose call control semantics contradict a Replaces (§3): Join (RFC 3911)
# asks to join the dialog rather than replace it.
CONTRADICTORY = ("Join",)


class ReplacesExtension(UAExtension):
    """RFC 3891 on one UA: answers INVITEs with Replaces and sends them."""

    name = "replaces"
    ##= https://www.rfc-editor.org/rfc/rfc3891#section-6.2
    ##% UAs which support the Replaces header MUST include the
    ##% "replaces" option tag in a Supported header field.
    option_tags = ("replaces",)

    def __init__(
        self,
        authorize: Authorize | None = None,
        *,
        authenticator: DigestAuthenticator | None = None,
    ) -> None:
        """``authorize``: the policy (default :func:`referred_by_or_same_user`);
        ``authenticator``: Digest for every INVITE with Replaces before the policy runs
        (give it ``bind_from=True`` so that From names the authenticated user)."""
        self.authorize: Authorize = authorize or referred_by_or_same_user
        self.authenticator = authenticator

    def install(self, ua: UserAgent) -> None:
        super().install(ua)
        register_header("Replaces", Replaces.parse, rfc=3891, section="6.1")

    # -- receiving (§3) --------------------------------------------------------------

    def screen_request(self, server: ServerRequest, now: float) -> list[UAEffect] | None:
        request = server.request
        values = request.headers.get_all("Replaces")
        if not values:
            return None
        ua = self.ua
        ##= https://www.rfc-editor.org/rfc/rfc3891#section-3
        ##% If more than one Replaces header field is present in an INVITE, or if
        ##% a Replaces header field is present in a request other than INVITE,
        ##% the UAS MUST reject the request with a 400 Bad Request response.
        ##= https://www.rfc-editor.org/rfc/rfc3891#section-6.1
        ##% It is a request header
        ##% only, and defined only for INVITE requests.
        ##= https://www.rfc-editor.org/rfc/rfc3891#section-6.1
        ##% Only a
        ##% single Replaces header field value may be present in a SIP request.
        if request.method != "INVITE":
            return ua.respond(server, 400, now, reason="Bad Request (Replaces in a non-INVITE)")
        if len(values) > 1:
            return ua.respond(server, 400, now, reason="Bad Request (more than one Replaces)")
        if request.to.tag is not None:
            # A re-INVITE replaces no dialog: it modifies its own (RFC 3261 §14).
            return None
        ##= https://www.rfc-editor.org/rfc/rfc3891#section-3
        ##% If both a
        ##% Replaces header field and another header field with contradictory
        ##% semantics are present in a request, the request MUST be rejected with
        ##% a 400 "Bad Request" response.
        for name in CONTRADICTORY:
            if name in request.headers:
                return ua.respond(server, 400, now, reason=f"Bad Request (Replaces and {name})")
        try:
            replaces = request.header("Replaces")
        except ParseError as error:
            return ua.respond(server, 400, now, reason=f"Bad Request ({error.defect})")
        return self._replace(server, replaces, now)

    def matching(self, replaces: Replaces) -> list[tuple[Dialog, Call | None]]:
        """This UA's dialogs ``replaces`` names, with their INVITE usage (None: not INVITE).

        Live dialogs are the UA's; ended ones are still known to the calls the session
        manager keeps for 64*T1 after they end.
        """
        found: list[tuple[Dialog, Call | None]] = []
        for dialog in self.ua.dialogs.values():
            if replaces.names(dialog.id):
                call = dialog.usage(INVITE_USAGE)
                found.append((dialog, call if isinstance(call, Call) else None))
        seen = {id(dialog) for dialog, _ in found}
        for call in self.ua.sessions.calls:
            ended = [call.established, call.server.dialog if call.server else None]
            for dialog in ended:
                if dialog is None or not dialog.terminated or id(dialog) in seen:
                    continue
                if replaces.names(dialog.id):
                    seen.add(id(dialog))
                    found.append((dialog, call))
        return found

    def _replace(self, server: ServerRequest, replaces: Replaces, now: float) -> list[UAEffect]:
        ua, request = self.ua, server.request
        found = self.matching(replaces)
        ##= https://www.rfc-editor.org/rfc/rfc3891#section-3
        ##% If the Replaces header field matches more than one dialog, the UA
        ##% MUST act as if no match is found.
        ##= https://www.rfc-editor.org/rfc/rfc3891#section-3
        ##% If no match is found, the UAS rejects the INVITE and returns a 481
        ##% Call/Transaction Does Not Exist response.
        if len(found) != 1:
            return ua.respond(server, 481, now)
        ((dialog, call),) = found
        ##= https://www.rfc-editor.org/rfc/rfc3891#section-3
        ##% Likewise, if the Replaces
        ##% header field matches a dialog which was not created with an INVITE,
        ##% the UAS MUST reject the request with a 481 response.
        if call is None:
            return ua.respond(server, 481, now)
        ##= https://www.rfc-editor.org/rfc/rfc3891#section-3
        ##% If the Replaces header field matches a dialog which has already
        ##% terminated, the UA SHOULD decline the request with a 603 Declined
        ##% response.
        # (A call this UA is hanging up -- its CANCEL or BYE under way -- counts as
        # terminated: the race the parenthesis of §3 describes.)
        if dialog.terminated or call.hangup_requested or call.bye_pending:
            return ua.respond(server, 603, now)
        ##= https://www.rfc-editor.org/rfc/rfc3891#section-3
        ##% If the Replaces header field matches a confirmed dialog, it checks
        ##% for the presence of the "early-only" flag in the Replaces header
        ##% field.
        ##= https://www.rfc-editor.org/rfc/rfc3891#section-3
        ##% If the flag is
        ##% present, the UA rejects the request with a 486 Busy response.
        if dialog.state is DialogState.CONFIRMED and replaces.early_only:
            return ua.respond(server, 486, now)
        ##= https://www.rfc-editor.org/rfc/rfc3891#section-3
        ##% If the Replaces header field matches an early dialog that was not
        ##% initiated by this UA, it returns a 481 (Call/Transaction Does Not
        ##% Exist) response to the new INVITE, and leaves the matched dialog
        ##% unchanged.
        if dialog.state is DialogState.EARLY and not (dialog.is_uac and call.is_uac):
            return ua.respond(server, 481, now)
        ##= https://www.rfc-editor.org/rfc/rfc3891#section-3
        ##% If the Replaces header field matches an active dialog, the UA MUST
        ##% verify that the initiator of the new INVITE is authorized to replace
        ##% the matched dialog.
        ##= https://www.rfc-editor.org/rfc/rfc3891#section-3
        ##% The UA MAY apply other local policy to authorize the remainder of the
        ##% request.
        ##= https://www.rfc-editor.org/rfc/rfc3891#section-3
        ##% In addition, the UA MAY use other authorization mechanisms defined
        ##% for this purpose in standards track extensions.
        ##= https://www.rfc-editor.org/rfc/rfc3891#section-8
        ##% As such, invitations with the Replaces header MUST only be accepted if
        ##% the peer requesting replacement has been properly authenticated using
        ##% a standard SIP mechanism (Digest or S/MIME), and authorized to request
        ##% a replacement of the target dialog.
        authenticator = self.authenticator
        if authenticator is not None:
            result = authenticator.check(request, now)
            if result.status is not None:  # 403 (From is someone else), 503 (throttled)
                after = [] if result.retry_after is None else [("Retry-After", result.retry_after)]
                return ua.respond(server, result.status, now, headers=after)
            if not result.ok:
                challenge = authenticator.challenge(
                    request, now, stale=result.stale, to_tag=server.to_tag
                )
                return ua.respond_with(server, challenge, now)
        if not self.authorize(request, call, dialog):
            return ua.respond(server, 403, now, reason="Forbidden (not authorized to replace)")
        return self._accept(server, call, dialog, now)

    ##= https://www.rfc-editor.org/rfc/rfc3891#section-3
    ##% If authorization is successful, the UA attempts to accept the new
    ##% INVITE, reassign the user interface and other resources of the
    ##% matched dialog to the new INVITE, and shut down the replaced dialog.
    def _accept(
        self, server: ServerRequest, replaced: Call, dialog: Dialog, now: float
    ) -> list[UAEffect]:
        sessions = self.ua.sessions
        received = sessions.receive_invite(server, now, server.tls)
        incoming = [e for e in received if isinstance(e, IncomingCall)]
        ##= https://www.rfc-editor.org/rfc/rfc3891#section-3
        ##% If the UA cannot accept the new INVITE (for example: it cannot
        ##% establish required QoS or keying, or it has incompatible media), the
        ##% UA MUST return an appropriate error response and MUST leave the
        ##% matched dialog unchanged.
        if not incoming:
            return received  # refused (488 with a Warning): the old dialog is untouched

        call = incoming[0].call
        # The replaced session's description is the new call's own (the opaque describer
        # answers with it; the SDP one writes its answer from its configuration).
        call.local_body, call.content_type = replaced.local_body, replaced.content_type
        try:
            effects = sessions.answer(call, now)
        except ValueError:
            return sessions.reject(call, now, 488, warning="no session description to answer")
        effects += [e for e in received if not isinstance(e, IncomingCall)]
        ##= https://www.rfc-editor.org/rfc/rfc3891#section-3
        ##% Otherwise, it accepts the new INVITE by sending a 200-class response,
        ##% and shuts down the replaced dialog by sending a BYE.
        if dialog.state is DialogState.CONFIRMED:
            effects += sessions.bye(replaced, now, dialog)
        ##= https://www.rfc-editor.org/rfc/rfc3891#section-3
        ##% If the Replaces
        ##% header field matches an early dialog that was initiated by the UA, it
        ##% accepts the new INVITE by sending a 200-class response, and shuts
        ##% down the replaced dialog by sending a CANCEL.
        else:
            effects += sessions.hangup(replaced, now)
        effects.append(CallReplaced(call, replaced, dialog, server.request))
        return effects

    # -- sending (§4) ----------------------------------------------------------------

    ##= https://www.rfc-editor.org/rfc/rfc3891#section-4
    ##% A User Agent that wishes to replace a single existing early or
    ##% confirmed dialog with a new dialog of its own, MAY send the target
    ##% User Agent an INVITE request containing a Replaces header field.
    ##= https://www.rfc-editor.org/rfc/rfc3891#section-4
    ##% If the user agent only
    ##% wishes to replace an early dialog (as in the Call Pickup example in
    ##% Section 7.1), the UAC MAY also include the "early-only" parameter in
    ##% the Replaces header field.
    ##= https://www.rfc-editor.org/rfc/rfc3891#section-6.2
    ##% UAs that want
    ##% explicit failure notification if Replaces is not supported MAY
    ##% include the "replaces" option in a Require header field.
    def invite(
        self,
        replaced: Dialog | DialogId | str,
        now: float,
        *,
        target: str | None = None,
        early_only: bool = False,
        require: bool = False,
        body: bytes = b"",
        content_type: str | None = "application/sdp",
        headers: Iterable[tuple[str, str]] = (),
    ) -> tuple[Call, list[UAEffect]]:
        """Send an INVITE with a Replaces naming ``replaced`` to ``target``.

        ``replaced`` is one of this UA's dialogs (the target defaults to its peer's
        Contact), a dialog ID as the party being replaced sees it, or a Replaces value
        (one received in a Refer-To, RFC 3515).  ``require`` adds ``Require: replaces``.
        """
        if isinstance(replaced, Dialog):
            ##= https://www.rfc-editor.org/rfc/rfc3891#section-4
            ##% A UAC MUST NOT send an INVITE with a
            ##% Replaces header field that attempts to replace an early dialog which
            ##% was not originated by the target of the INVITE with a Replaces header
            ##% field.
            if replaced.state is DialogState.EARLY and replaced.is_uac:
                raise ValueError(
                    "the target did not originate this early dialog: it cannot be "
                    "replaced there (RFC 3891 §4)"
                )
            if replaced.terminated:
                raise ValueError("the dialog has ended: nothing to replace (RFC 3891 §3)")
            ##= https://www.rfc-editor.org/rfc/rfc3891#section-4
            ##% Although this specification takes reasonable
            ##% precautions to prevent unexpected behavior in the face of forking,
            ##% implementations SHOULD only address replacement requests (i.e., set
            ##% the Request-URI of the replacement request) to the SIP Contact URI of
            ##% the target.
            target = target or str(replaced.remote_target)
            value = replaces_value(replaced.id, early_only=early_only)
        elif isinstance(replaced, DialogId):
            value = replaces_value(replaced, early_only=early_only)
        else:
            parsed = Replaces.parse(replaced)
            if early_only:
                parsed = dataclasses.replace(parsed, early_only=True)
            value = str(parsed)
        if target is None:
            raise ValueError("the INVITE with Replaces needs a target (the peer's Contact URI)")
        return self.ua.sessions.invite(
            target,
            now,
            body=body,
            content_type=content_type,
            headers=[("Replaces", value), *headers],
            require=["replaces"] if require else [],
        )
