"""The UAC role: profiles' [uac] triggers, verdicts against a faulty UAC, our own ua."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.model import REGISTRY, Profile, Verdict
from conformance.profile import ProfileError, load_profile
from conformance.runner import Runner, select_cases
from conformance.selftest import JOBS
from conformance.target import parse_target
from conformance.tests.support import need_external, verdicts
from conformance.trigger import KINDS, fill

PROFILES = Path(__file__).resolve().parents[1] / "profiles"
FAULTY = "{python} -m conformance.tests.faulty_uac --target {target} --t1 0.1"
#: the cases the faulty UAC meets, and which of them each fault must fail
CASES = [
    "uac-invite-mandatory-headers",
    "uac-options-mandatory-headers",
    "uac-request-tags",
    "uac-request-cseq",
    "uac-request-via",
    "uac-invite-retransmitted",
    "uac-ack-non2xx",
    "uac-ack-2xx",
    "uac-request-identifiers-new",
    "uac-non-invite-final-in-trying",
    "uac-non-invite-final-in-proceeding",
    "uac-403-not-repeated",
    "uac-503-as-500",
    "uac-second-final-ignored",
    "uac-6026-2xx-retransmission-reacked",
    "uac-6026-non-2xx-acked",
    "uac-6026-stray-2xx-dropped",
    "rfc3428-uac-message-construction",
]
FAULTS = {
    "": set(),
    "no_cookie": {"uac-invite-mandatory-headers", "uac-options-mandatory-headers"},
    "cseq_method": {"uac-request-cseq"},
    # the 486 keeps the UAC's own To tag, so the ACK cannot carry the runner's either
    "to_tag": {"uac-request-tags", "uac-ack-non2xx"},
    "no_retransmit": {"uac-invite-retransmitted"},
    "ack_new_branch": {"uac-ack-non2xx", "uac-6026-non-2xx-acked"},
    "ack_2xx_same_branch": {"uac-ack-2xx", "uac-6026-2xx-retransmission-reacked"},
    "fixed_ids": {"uac-request-identifiers-new"},
    "ack_require": {"uac-ack-non2xx", "uac-ack-2xx"},
    "keep_retransmitting": {
        "uac-non-invite-final-in-trying",
        "uac-non-invite-final-in-proceeding",
    },
    "repeat_after_failure": {
        "uac-403-not-repeated",
        "uac-503-as-500",
        # the 486 repeated after the new INVITE left matches no transaction: not ACKed again
        "uac-6026-non-2xx-acked",
    },
    "second_final": {"uac-second-final-ignored"},
    "ack_stray": {"uac-6026-stray-2xx-dropped"},
    "no_reack_2xx": {"uac-6026-2xx-retransmission-reacked"},
    "message_contact": {"rfc3428-uac-message-construction"},
}
#: RFC 3262's UAC cases, met by the faulty UAC only with and without its PRACK fault
PRACK_CASES = ["uac-3262-prack-sent", "uac-3262-rseq-in-order"]


def _profile(fault: str) -> Profile:
    extra = f" --fault {fault}" if fault else ""
    profile = Profile(name="faulty uac", t1=0.1)
    profile.triggers = {
        "invite": FAULTY + " --kind invite" + extra,
        "options": FAULTY + " --kind options" + extra,
        "message": FAULTY + " --kind message" + extra,
    }
    return profile


def _run(profile: Profile, ids: list[str]) -> dict[str, str]:
    chosen = [REGISTRY[i] for i in ids]
    # side by side: test_runner_jobs shows the verdicts are those of one job
    run = Runner(parse_target("udp:127.0.0.1:5060"), "uac", profile, jobs=JOBS).run(chosen)
    return verdicts(run)


@pytest.mark.parametrize("fault", list(FAULTS))
def test_faulty_uac_gets_exactly_its_fail_verdicts(fault: str) -> None:
    got = _run(_profile(fault), CASES)
    # a SHOULD-level case that finds its requirement broken says warn
    failed = {case for case, verdict in got.items() if verdict in ("fail", "warn")}
    assert failed == FAULTS[fault], got
    assert set(got.values()) <= {"pass", "fail", "warn"}, got


@pytest.mark.parametrize(("fault", "verdict"), [("", "pass"), ("prack_unauthenticated", "warn")])
def test_faulty_uac_prack_challenge(fault: str, verdict: str) -> None:
    """The faulty UAC answers a 401 to its PRACK (RFC 3262 §9) unless its fault says not."""
    profile = _profile(fault)
    profile.username, profile.password = "alice", "secret"
    case = "uac-3262-prack-authenticated"
    assert _run(profile, [case]) == {case: verdict}


@pytest.mark.parametrize(("fault", "failing"), [("", set()), ("prack_any", set(PRACK_CASES))])
def test_faulty_uac_prack_gets_exactly_its_fail_verdicts(fault: str, failing: set[str]) -> None:
    got = _run(_profile(fault), PRACK_CASES)
    assert {case for case, verdict in got.items() if verdict == "fail"} == failing, got
    assert set(got.values()) <= {"pass", "fail"}, got


def test_shipped_uac_profiles_load() -> None:
    ours = load_profile(PROFILES / "sipref-uac.toml")
    assert set(ours.triggers) == set(KINDS)
    assert ours.originate == ours.triggers["invite"]
    sipp = load_profile(PROFILES / "sipp-uac.toml")
    assert {"invite", "bye", "cancel", "register"} <= set(sipp.triggers)
    filled = fill(sipp.triggers["cancel"], sipp, "127.0.0.1:5999")
    assert "127.0.0.1:5999" in filled and "{" not in filled
    assert (PROFILES / "sipp" / "cancel.xml").exists()


def test_originate_is_the_invite_trigger(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text('[uac]\noriginate = "x {target}"\ndial = true\ndial_timeout = 5\n')
    profile = load_profile(path)
    assert profile.triggers == {"invite": "x {target}"}
    assert (profile.dial, profile.dial_timeout) == (True, 5.0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('ring = "x {target}"', "unknown kind"),
        ('invite = "x {target} {nonsense}"', "unknown placeholder"),
        ('invite = "x 127.0.0.1"', "never names the runner"),
        ('invite = "x {target} \\"open"', "No closing quotation"),
        ("invite = 3", "command line"),
        ('dial = "yes"', "true or false"),
        ("dial_timeout = 0", "seconds"),
    ],
)
def test_bad_uac_tables_are_refused(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "p.toml"
    path.write_text(f"[uac]\n{text}\n")
    with pytest.raises(ProfileError, match=message):
        load_profile(path)


def test_without_a_trigger_the_case_is_not_applicable() -> None:
    got = _run(Profile(), ["uac-bye-in-dialog", "uac-register-refresh"])
    assert set(got.values()) == {"not-applicable"}


def test_dial_waits_for_the_tester(capsys: pytest.CaptureFixture[str]) -> None:
    """With dial = true and no command the tester is prompted; nobody dials: inconclusive."""
    profile = Profile(dial=True, dial_timeout=0.3)
    run = Runner(parse_target("udp:127.0.0.1:5060"), "uac", profile).run(
        [REGISTRY["uac-request-tags"]]
    )
    assert run.results[0].verdict == Verdict.INCONCLUSIVE
    assert "please call sip:uas@127.0.0.1:" in capsys.readouterr().err


#: a representative subset of the wave against our ua (the whole one takes about 90 s:
#: Timer B and F, the 491 back-off and the registration refresh wait seconds each)
OWN_SUBSET = [
    "uac-invite-retransmitted",  # after 0.1 s: the ua's --t1 works
    "uac-invite-mandatory-headers",
    "uac-ack-non2xx",
    "uac-ack-2xx-route-set",
    "uac-bye-strict-route",
    "uac-cancel-construction",  # the ua's --cancel-after
    "uac-401-retry",
    "uac-3xx-recurse",
    "uac-response-foreign-sent-by",
    "uac-register-construction",
    "uac-invite-expires-cancel",  # the ua's --invite-expires
    "uac-require-insisted",  # the ua's --require-100rel
    "uac-302-not-cached",  # two calls (--count 2)
    "uac-register-aor-host",  # --register without --registrar
    "uac-uri-request-formed",  # --open: a link's method parameter and headers (§19.1.5)
    "uac-uri-dangerous-headers",
    "uac-uri-invalid-not-sent",
    "uac-uri-unsupported-extension-not-sent",
    "uac-3262-prack-sent",  # --extension 100rel: PRACK
    "uac-4028-refreshes-as-refresher",  # [uac] timer: --extension timer --session-expires
    "uac-3326-bye-reason",  # [uac] reason: --extension reason --reason
    "uac-3262-prack-authenticated",  # the PRACK challenged: again with Authorization
    "uac-5658-switch-to-tcp",  # the 2xx's Contact says transport=tcp: ACK/BYE over TCP
]


def test_own_ua_passes_a_representative_subset() -> None:
    profile = load_profile(PROFILES / "sipref-uac.toml")
    got = _run(profile, OWN_SUBSET)
    assert set(got.values()) == {"pass"}, got


@pytest.mark.interop
def test_sipp_reaches_a_verdict_in_the_quick_cases() -> None:
    need_external("sipp")
    profile = load_profile(PROFILES / "sipp-uac.toml")
    ids = [c.id for c in select_cases(REGISTRY.values(), "uac", "uac-request-*,uac-cancel-*")]
    got = _run(profile, ids)
    assert "error" not in got.values(), got
    assert got["uac-cancel-construction"] == "pass", got


def test_faulty_uac_digest_faults_fail_their_cases() -> None:
    """The RFC 7616 UAC cases (conformance.cases.auth_rfc7616) pass against the faulty UAC
    registering without faults; answering MD5 below SHA-256 fails the challenge choice,
    a quoted nc the credentials syntax, and nothing else."""
    cases = ["uac-digest-challenge-choice", "uac-digest-credentials-syntax"]

    def register(fault: str) -> Profile:
        profile = Profile(name="faulty uac", t1=0.1, username="alice", password="secret")
        extra = f" --fault {fault}" if fault else ""
        profile.triggers = {"register": FAULTY + " --kind register" + extra}
        return profile

    assert _run(register(""), cases) == dict.fromkeys(cases, "pass")
    assert _run(register("digest_md5"), cases) == {cases[0]: "fail", cases[1]: "pass"}
    assert _run(register("digest_quoted_nc"), cases) == {cases[0]: "pass", cases[1]: "fail"}
