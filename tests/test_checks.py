"""Exit status: 0 only when every requested check actually ran and passed."""

from __future__ import annotations

import pytest

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
