"""The run page says what a verdict rests on: preamble, control, postamble (issue 16)."""

from __future__ import annotations

from annotate.sphinxext.conformance import Run, run_page_html


def _page(case: dict) -> str:
    run = Run("kamailio-proxy.json", {"role": "proxy"}, "Kamailio", {case["id"]: case})
    return run_page_html(run, lambda doc, anchor="": "#", lambda rid: rid)


def test_a_case_shows_its_preamble_control_and_postamble() -> None:
    page = _page(
        {
            "id": "proxy-max-forwards-zero",
            "verdict": "fail",
            "preamble": "ok: alice registered at the target",
            "control": {"outcome": "OPTIONS with Max-Forwards: 70 -> 200 OK", "ok": True},
            "postamble": ["alice unregistered"],
        }
    )
    assert "<dt>Preamble</dt><dd>ok: alice registered at the target</dd>" in page
    assert "OPTIONS with Max-Forwards: 70 -&gt; 200 OK" in page and "(passed)" in page
    assert "<dt>Postamble</dt><dd>alice unregistered</dd>" in page


def test_a_failed_control_says_the_verdict_is_not_trusted() -> None:
    page = _page(
        {
            "id": "uas-bad-cseq",
            "verdict": "inconclusive",
            "control": {"outcome": "the control OPTIONS -> 503", "ok": False},
        }
    )
    assert "did not pass: the verdict is not trusted" in page


def test_a_case_without_control_says_why() -> None:
    page = _page({"id": "uas-ack", "verdict": "fail", "no_control": "an ACK gets no answer"})
    assert "<dt>No control</dt><dd>an ACK gets no answer</dd>" in page
