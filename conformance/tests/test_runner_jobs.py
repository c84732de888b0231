"""Cases run side by side (``Runner(jobs=N)``, ``--jobs N``) get the verdicts they get one
after another: against the faulty UAS and UAC doubles and against our own ua as a UAS.

Cases that must not overlap others (``serial="alone"``, hostile ones: the target may die)
are barriers at their place in the order; cases naming the same ``serial`` share a lane;
registrar cases all share one (they register the same address-of-record).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.model import REGISTRY, Case, Profile
from conformance.profile import load_profile
from conformance.runner import CaseResult, Runner, default_jobs, select_cases
from conformance.selftest import PROFILES, _stacks
from conformance.target import parse_target
from conformance.tests.faulty_uas import FaultyElement
from conformance.tests.support import started, verdicts
from conformance.tests.test_uac import CASES as UAC_CASES
from conformance.tests.test_uac import _profile as faulty_uac_profile
from rfc3261.asyncio.loopback import free_port

TARGET = parse_target("udp:127.0.0.1:5060")


def _case(id: str, serial: str = "", hostile: bool = False) -> Case:
    return Case(id, id, ("uas",), "MUST", lambda ctx: None, "t", hostile=hostile, serial=serial)


def _ids(cases: list[Case], segments: list[list[list[int]]]) -> list[list[list[str]]]:
    return [[[cases[i].id for i in lane] for lane in segment] for segment in segments]


def test_one_job_is_one_lane_in_order() -> None:
    cases = [_case("a"), _case("b", hostile=True), _case("c", serial="alone")]
    assert _ids(cases, Runner(TARGET, "uas", Profile()).segments(cases)) == [[["a", "b", "c"]]]


def test_alone_and_hostile_cases_are_barriers_and_lanes_keep_their_order() -> None:
    cases = [
        _case("learn", serial="alone"),
        _case("a"),
        _case("x1", serial="x"),
        _case("b"),
        _case("x2", serial="x"),
        _case("torture", hostile=True),
        _case("c"),
    ]
    got = _ids(cases, Runner(TARGET, "uas", Profile(), jobs=4).segments(cases))
    assert got == [[["learn"]], [["a"], ["x1", "x2"], ["b"]], [["torture"]], [["c"]]]


@pytest.mark.parametrize("role", ["registrar", "redirect"])
def test_registrar_and_redirect_cases_share_one_lane(role: str) -> None:
    cases = [_case("r1"), _case("r2"), _case("alone", serial="alone"), _case("r3")]
    got = _ids(cases, Runner(TARGET, role, Profile(), jobs=4).segments(cases))
    assert got == [[["r1", "r2"]], [["alone"]], [["r3"]]]


def test_default_jobs() -> None:
    assert default_jobs("uac") > 1 and default_jobs("proxy") > 1
    # a phone under test may hold one call at a time
    assert default_jobs("uas") == 1 and default_jobs("registrar") == 1


def _both(runner_for: object, chosen: list[Case]) -> tuple[dict[str, str], dict[str, str]]:
    """The verdicts with jobs 1 and with jobs 4; the second run keeps the cases' order and
    reports progress once per case."""
    serial = runner_for(1).run(chosen)  # type: ignore[operator]
    seen: list[tuple[int, str]] = []
    runner = runner_for(4)  # type: ignore[operator]
    runner.progress = lambda done, total, res: seen.append((done, res.case.id))
    side_by_side = runner.run(chosen)
    assert [r.case.id for r in side_by_side.results] == [c.id for c in chosen]
    assert [done for done, _ in seen] == list(range(1, len(chosen) + 1))
    assert sorted(i for _, i in seen) == sorted(c.id for c in chosen)
    return verdicts(serial), verdicts(side_by_side)


@pytest.fixture
def faulty() -> Iterator[object]:
    started_: list[FaultyElement] = []

    def factory(*faults: str) -> str:
        element = FaultyElement("uas", faults, t1=0.2)
        started_.append(element)
        return f"udp:127.0.0.1:{element.start()}"

    yield factory
    for element in started_:
        element.stop()


#: the UAS-role cases the faulty UAS meets: the learning ones, torture messages (hostile:
#: barriers), the well-formedness battery (one case gathers, the others reuse) and more
UAS_CASES = "uas-*,txn-non-invite-*,torture-4475-esc*,torture-4475-badinv01,wellformed-*"


@pytest.mark.parametrize("faults", [(), ("no_to_tag", "lf_only", "die_on_torture")])
def test_faulty_uas_same_verdicts_side_by_side(faulty, faults: tuple[str, ...]) -> None:
    # after a target died every case waits for a probe: few of them then
    pattern = UAS_CASES.replace("wellformed-*", "wellformed-f*") if faults else UAS_CASES
    first_wave = ("uas", "transaction", "torture", "wellformed")  # their modules, not later ones
    chosen = [c for c in select_cases(REGISTRY.values(), "uas", pattern) if c.group in first_wave]
    assert any(c.hostile for c in chosen) and any(c.serial == "alone" for c in chosen)
    profile = Profile(t1=0.2)

    def runner(jobs: int) -> Runner:  # a fresh double each time: die_on_torture kills it
        return Runner(parse_target(faulty(*faults)), "uas", profile, jobs=jobs, probe_timeout=1)

    one, four = _both(runner, chosen)
    assert four == one
    assert one["uas-to-tag-added"] == ("fail" if faults else "pass")
    if faults:
        assert one["uas-to-tag-added"] == "fail"
        # the cases after the one that killed it (the battery) find it silent
        assert one["torture-4475-badinv01"] == "fail"
        assert one["wellformed-framing"] == "inconclusive"


@pytest.mark.parametrize("fault", ["", "to_tag"])
def test_faulty_uac_same_verdicts_side_by_side(fault: str) -> None:
    chosen = [REGISTRY[i] for i in UAC_CASES]
    profile = faulty_uac_profile(fault)
    one, four = _both(lambda jobs: Runner(TARGET, "uac", profile, jobs=jobs), chosen)
    assert four == one
    assert ("fail" in one.values()) == bool(fault)


def test_own_ua_same_verdicts_side_by_side() -> None:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="sipref-jobs-") as work:
        command, profile_name, role = _stacks(port, Path(work))["sipref-ua"]
        assert command is not None and role == "uas"
        profile = load_profile(PROFILES / profile_name)
        # lanes and plain cases, without the cases that wait for 64*T1 timers
        subset = "uas-[a-m]*,txn-cancel-*,rfc3262-prack-*,rfc6665-*"
        chosen = select_cases(REGISTRY.values(), role, subset)
        with started(command, port):
            target = parse_target(f"udp:127.0.0.1:{port}")
            one, four = _both(lambda jobs: Runner(target, role, profile, jobs=jobs), chosen)
    assert four == one
    assert "fail" not in one.values()


def test_results_keep_their_order_when_a_lane_finishes_late() -> None:
    # unit-level: results land at their index whatever order the lanes finish in
    order: list[str] = []

    def slow(ctx: object) -> None:
        import time

        time.sleep(0.3)
        order.append("slow")

    def fast(ctx: object) -> None:
        order.append("fast")

    cases = [
        Case("slow", "slow", ("uac",), "MUST", slow, "t"),
        Case("fast", "fast", ("uac",), "MUST", fast, "t"),
    ]
    run = Runner(TARGET, "uac", Profile(), jobs=2).run(cases)
    assert order == ["fast", "slow"]
    assert [r.case.id for r in run.results] == ["slow", "fast"]
    assert all(isinstance(r, CaseResult) and r.verdict.value == "pass" for r in run.results)


def test_cli_jobs(faulty, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from conformance import cli

    seen: list[int] = []

    class Recording(Runner):
        def __init__(self, *args: object, **kw: object) -> None:
            seen.append(kw["jobs"])  # type: ignore[arg-type]
            super().__init__(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(cli, "Runner", Recording)
    out = tmp_path / "run.json"
    argv = ["run", "--target", faulty(), "--role", "uas", "--quiet", "--json", str(out)]
    assert cli.main([*argv, "--cases", "uas-options-*,uas-405-allow", "--jobs", "3"]) == 0
    assert cli.main([*argv, "--cases", "uas-options-final"]) == 0
    assert seen == [3, default_jobs("uas")]
    assert out.exists()


def test_a_failing_progress_stops_the_run_without_starting_more_cases() -> None:
    import time

    ran: list[int] = []

    def work(ctx: object) -> None:
        ran.append(1)
        time.sleep(0.2)

    def progress(done: int, total: int, res: CaseResult) -> None:
        raise BrokenPipeError("the reader went away")

    cases = [Case(f"c{i}", "c", ("uac",), "MUST", work, "t") for i in range(8)]
    runner = Runner(TARGET, "uac", Profile(), jobs=2, progress=progress)
    with pytest.raises(BrokenPipeError):
        runner.run(cases)
    assert len(ran) < len(cases)
