"""Profiles load from TOML and refuse what they do not know."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.profile import ProfileError, load_profile

PROFILES = Path(__file__).resolve().parents[1] / "profiles"


def test_shipped_profiles_load() -> None:
    sipp = load_profile(PROFILES / "sipp-uas.toml")
    assert sipp.probe == "INVITE" and sipp.name == "SIPp uas"
    assert load_profile(PROFILES / "minimal-uas.toml").probe == "OPTIONS"


def test_full_profile(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(
        'name = "x"\nextensions = ["100rel"]\nt1 = 1\nskip = ["txn-*"]\n'
        '[credentials]\nusername = "alice"\npassword = "pw"\nregistrar_requires_auth = true\n'
        '[uac]\noriginate = "sipp -sn uac {target}"\n'
    )
    profile = load_profile(path)
    assert profile.extensions == ("100rel",) and profile.t1 == 1.0 and profile.skip == ("txn-*",)
    assert (profile.username, profile.password, profile.registrar_requires_auth) == (
        "alice",
        "pw",
        True,
    )
    assert profile.originate.endswith("{target}")


@pytest.mark.parametrize(
    "text", ['probe = "PING"', "extensions = 3", 't1 = "fast"', "[nonsense", 'username = "a"']
)
def test_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "p.toml"
    path.write_text(text + "\n")
    with pytest.raises(ProfileError):
        load_profile(path)
