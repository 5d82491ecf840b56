"""Exit status: 0 only when every requested check actually ran and passed."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reprokit.bundle.integrity import _ANY_UNSAFE, parse_sums, safe_relpath
from reprokit.checks import CheckResult, Evidence, from_legacy, judge

PASSED = CheckResult(name="integrity", status="passed", reason="412 files")
REBUILT = CheckResult(name="rebuild-pip", status="passed")
NO_NIX = CheckResult(name="rebuild-nix", status="not-run", reason="nix is not installed")
NO_AIRGAP = CheckResult(name="airgap", status="not-run", reason="could not make a network namespace")
BROKEN = CheckResult(name="rerun", status="failed", reason="results/a.json: different",
                     evidence=(Evidence(path="results/a.json", message="different at $.x"),))


def test_all_passed_exits_0() -> None:
    outcome = judge([PASSED, REBUILT], requested=["integrity", "rebuild-pip"])
    assert outcome.ok and outcome.exit_status == 0
    assert outcome.verdict_line() == "OK: every requested check ran and passed"


def test_a_failed_check_exits_1_and_is_named() -> None:
    outcome = judge([PASSED, BROKEN])
    assert outcome.exit_status == 1
    assert [c.name for c in outcome.failures] == ["rerun"]
    assert outcome.verdict_line() == "FAILED: rerun failed"


@pytest.mark.parametrize("skipped", [NO_NIX, NO_AIRGAP])
def test_a_check_that_could_not_run_is_a_failure(skipped: CheckResult) -> None:
    outcome = judge([PASSED, skipped])
    assert outcome.exit_status == 1
    assert outcome.verdict_line() == f"FAILED: {skipped.name} did not run"


def test_unless_the_user_allowed_that_check_to_be_skipped() -> None:
    outcome = judge([PASSED, NO_AIRGAP], allow_skip=["airgap"])
    assert outcome.exit_status == 0
    assert outcome.skipped == (NO_AIRGAP,)
    assert outcome.verdict_line() == "OK: every requested check ran and passed (airgap not run, as allowed)"
    # Leave to skip one check is not leave to skip another, nor to fail.
    assert judge([NO_NIX, NO_AIRGAP], allow_skip=["airgap"]).exit_status == 1
    assert judge([BROKEN], allow_skip=["rerun"]).exit_status == 1


def test_a_requested_check_without_a_result_fails() -> None:
    outcome = judge([PASSED], requested=["integrity", "rerun"])
    assert outcome.exit_status == 1
    assert outcome.failures[0].name == "rerun" and outcome.failures[0].status == "not-run"


def test_json_carries_status_reason_and_evidence() -> None:
    data = judge([PASSED, BROKEN, NO_NIX], allow_skip=["rebuild-nix"]).to_json()
    assert data["ok"] is False and data["exit_status"] == 1 and data["failures"] == ["rerun"]
    checks = data["checks"]
    assert isinstance(checks, list)
    assert checks[1] == {"name": "rerun", "status": "failed", "reason": "results/a.json: different",
                         "evidence": [{"path": "results/a.json", "message": "different at $.x"}]}
    assert checks[2]["status"] == "not-run" and checks[2]["reason"] == "nix is not installed"


def test_from_the_earlier_check_shape() -> None:
    assert from_legacy("rebuild-nix", None, "nix is not installed", []).status == "not-run"
    assert from_legacy("integrity", True, None, [], "12 files") == CheckResult(name="integrity", status="passed", reason="12 files")
    r = from_legacy("integrity", False, None, [("SHA256SUMS", "missing"), ("paper/a.py", "sha256 differs")])
    assert r.status == "failed" and r.reason == "SHA256SUMS: missing (and 1 more)" and len(r.evidence) == 2


SUMS_LINES = st.sampled_from([f"{'ab' * 32}  paper/a.py", f"{'cd' * 32}  paper/dir/b c.csv", f"{'ab' * 32}  paper/a.py", "",
                              f"{'ef' * 32} one-space.txt", f"{'AB' * 32}  upper.txt", f"{'01' * 32}  x\x0by", f"{'23' * 32}  r\rs",
                              f"{'45' * 32}  u\u2028v", "not a line", f"{'67' * 32}  ../up", f"{'89' * 32}  /abs", f"{'aa' * 32}  ok\\name",
                              f"{'bb' * 32}  -dash", f"{'cc' * 32}  a//b", f"{'dd' * 32}  a/./b", f"{'ee' * 32}  ~home", f"{'ff' * 32}  tab\tx"])


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(SUMS_LINES, max_size=8), end=st.sampled_from(["\n", "", "\r\n"]))
def test_sums_read_at_once_say_what_reading_line_by_line_says(lines: list[str], end: str) -> None:
    """SHA256SUMS and its paths read at once (one expression over the text) give the same
    files and problems as line by line, whatever the lines."""
    text = end.join(lines) + (end if lines else "")
    listed, problems = parse_sums(text)
    slow: dict[str, str] = {}
    slow_problems = []
    for n, line in enumerate(text.splitlines(), 1):
        m = re.fullmatch(r"([0-9a-f]{64})  (.+)", line)
        if m:
            slow[m.group(2)] = m.group(1)
        else:
            slow_problems.append(f"line {n} is not 'SHA256  PATH'")
    assert (listed, [p.message for p in problems]) == (slow, slow_problems)
    # The quick look over every path misses none that the look at each one refuses.
    if any(safe_relpath(rel) for rel in listed):
        assert _ANY_UNSAFE.search("\n".join(listed))
    assert not _ANY_UNSAFE.search("paper/a.py\npaper/dir/b c.csv\nREADME.md")
