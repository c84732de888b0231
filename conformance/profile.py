"""Profiles: what the element under test supports and how to drive it (a small TOML file).

Example::

    name = "sipref minimal UAS"
    user = "alice"                 # user part of Request-URIs sent to the target
    domain = "127.0.0.1"           # the domain it serves (registrar, proxy)
    extensions = ["100rel"]        # option tags it supports (never sent as unknown)
    methods = ["INVITE", "ACK", "BYE", "CANCEL", "OPTIONS"]
    probe = "OPTIONS"              # liveness probe: "OPTIONS" or "INVITE" (a whole call)
    ringing_user = "ring"          # a user whose INVITE rings without answering (CANCEL tests)
    busy_user = "busy"             # a user whose INVITE gets a non-2xx (Timer G tests)
    t1 = 0.5                       # the target's T1 in seconds
    timer_c = 0.0                  # a proxy's Timer C in seconds, when short enough to observe
    hangup_user = "hangup"         # a user whose calls the target answers, then ends (BYE)
    hold_user = "hold"             # ... answers, then puts on hold (re-INVITE)
    hangup_after = 1.0             # ... this many seconds after answering
    stateless = false              # a stateless UAS (RFC 3261 §8.2.7)
    dns = "127.0.0.1:5353"         # the DNS server the target asks (RFC 3263 proxy cases)
    skip = ["uas-cancel-*"]        # case id globs the profile rules out
    [credentials]                  # digest tests
    username = "alice"
    password = "secret"
    registrar_requires_auth = false
    international_username = "Zoë"   # a second user, name and password not ASCII
    international_password = "pässwörd€"
    [uac]                          # the UAC role: what makes the target send requests
    invite = "sipp -sn uac {target} -m 1 -nostdin"      # one command per kind (trigger.KINDS)
    dial = false                   # true: prompt the tester for kinds without a command
    dial_timeout = 60              # ... and wait this long for the request
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from conformance.model import Profile

__all__ = ["ProfileError", "load_profile"]


class ProfileError(ValueError):
    """A profile file that cannot be used."""


def _strings(value: object, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProfileError(f"profile: {key} must be a list of strings")
    return tuple(value)


def _uac(profile: Profile, table: object, path: Path) -> None:
    """The ``[uac]`` table: a command per kind of request (``originate`` = ``invite``)."""
    from conformance.trigger import TriggerError, check_command

    if not isinstance(table, dict):
        raise ProfileError(f"profile {path}: [uac] must be a table")
    for key, value in table.items():
        if key == "dial":
            if not isinstance(value, bool):
                raise ProfileError(f"profile {path}: [uac] dial must be true or false")
            profile.dial = value
        elif key == "dial_timeout":
            if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
                raise ProfileError(f"profile {path}: [uac] dial_timeout must be seconds > 0")
            profile.dial_timeout = float(value)
        else:
            kind = "invite" if key == "originate" else key
            if not isinstance(value, str):
                raise ProfileError(f"profile {path}: [uac] {key} must be a command line")
            try:
                check_command(kind, value)
            except TriggerError as exc:
                raise ProfileError(f"profile {path}: [uac] {exc}") from exc
            profile.triggers[kind] = value
    profile.originate = profile.triggers.get("invite", "")


def load_profile(path: Path | None) -> Profile:
    """A `Profile` from a TOML file (defaults when ``path`` is None)."""
    if path is None:
        return Profile()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ProfileError(f"profile {path}: {exc}") from exc
    profile = Profile()
    creds = data.pop("credentials", {})
    uac = data.pop("uac", {})
    for key, value in data.items():
        if not hasattr(profile, key) or key in (
            "username",
            "password",
            "international_username",
            "international_password",
            "originate",
            "triggers",
            "dial",
            "dial_timeout",
        ):
            raise ProfileError(f"profile {path}: unknown key {key!r}")
        current = getattr(profile, key)
        if isinstance(current, tuple):
            value = _strings(value, key)
        elif isinstance(current, bool):
            if not isinstance(value, bool):
                raise ProfileError(f"profile {path}: {key} must be true or false")
        elif isinstance(current, float):
            if not isinstance(value, int | float):
                raise ProfileError(f"profile {path}: {key} must be a number")
            value = float(value)
        elif not isinstance(value, str):
            raise ProfileError(f"profile {path}: {key} must be a string")
        setattr(profile, key, value)
    profile.username = str(creds.get("username", ""))
    profile.password = str(creds.get("password", ""))
    profile.international_username = str(creds.get("international_username", ""))
    profile.international_password = str(creds.get("international_password", ""))
    profile.registrar_requires_auth = bool(
        creds.get("registrar_requires_auth", profile.registrar_requires_auth)
    )
    _uac(profile, uac, path)
    if profile.probe not in ("OPTIONS", "INVITE"):
        raise ProfileError(f"profile {path}: probe must be OPTIONS or INVITE")
    return profile
