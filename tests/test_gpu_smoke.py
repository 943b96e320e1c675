"""The AMP rules on a device's real mixed-precision path: CUDA float16 + GradScaler("cuda"), CPU bfloat16 + GradScaler("cpu").

One script (tests/scripts/amp_smoke.py) runs clean or with one AMP bug on either device; its
`# expect[BUG]: FXnnn` markers say where each bug must be reported, so both devices are held to
the same lines. The CUDA variants run only where torch sees a GPU; set FXCHECK_REQUIRE_CUDA=1 on
a GPU runner to make a missing GPU a failure instead of a skip.
"""

from __future__ import annotations

import json
import os
import re

import pytest
import torch

import fxcheck
from conftest import SCRIPTS

SMOKE = SCRIPTS / "amp_smoke.py"
MARKER = re.compile(r"#\s*expect\[([\w-]+)\]:\s*(FX\d{3})")
AMP_RULES = ("FX104", "FX106", "FX107", "FX108")
ORDERING_RULES = ("FX101", "FX102", "FX103", "FX105", "FX109")
AMP_DTYPE = {"cuda": "float16", "cpu": "bfloat16"}

REQUIRE_CUDA = os.environ.get("FXCHECK_REQUIRE_CUDA") == "1"
needs_cuda = pytest.mark.skipif(
    not torch.cuda.is_available() and not REQUIRE_CUDA,
    reason="CUDA is not available (torch.cuda.is_available() is False): the float16 autocast + "
           "GradScaler('cuda') variants need an NVIDIA GPU and a CUDA build of torch",
)
DEVICES = [pytest.param("cpu"), pytest.param("cuda", marks=needs_cuda)]


def bug_lines() -> dict[str, tuple[str, int]]:
    """bug -> (rule, line), from the script's `# expect[BUG]: FXnnn` markers."""
    found = {}
    for lineno, text in enumerate(SMOKE.read_text().splitlines(), start=1):
        for m in MARKER.finditer(text):
            found[m.group(1)] = (m.group(2), lineno)
    return found


BUGS = bug_lines()


def trace_amp(device: str, bug: str, tmp_path) -> fxcheck.Result:
    if device == "cuda" and not torch.cuda.is_available():
        pytest.fail("FXCHECK_REQUIRE_CUDA=1 but torch.cuda.is_available() is False "
                    f"(torch {torch.__version__}, CUDA build {torch.version.cuda})")
    return fxcheck.run(SMOKE, "--device", device, "--bug", bug, steps=4, out_dir=tmp_path, timeout=300)


def assert_device_amp_path(result: fxcheck.Result, device: str) -> None:
    """The run really used the device's autocast dtype and an enabled GradScaler on that device."""
    banner = next((line for line in result.stdout.splitlines() if line.startswith("amp_smoke:")), None)
    assert banner is not None, result.stdout + result.stderr
    assert f"device={device} autocast_dtype={AMP_DTYPE[device]} scaler_enabled=True" in banner, banner
    saved = json.loads(result.trace_path.read_text())
    scalers = [o for o in saved["objects"] if o["type"] == "scaler"]
    assert [(s["attrs"]["enabled"], s["attrs"]["device"]) for s in scalers] == [(True, device)], scalers


def test_every_bug_has_a_marker():
    assert set(BUGS) == {"clip-before-unscale", "scaler-bypassed", "unscaled-backward", "no-update"}
    assert {rule for rule, _ in BUGS.values()} == set(AMP_RULES)


@pytest.mark.parametrize("device", DEVICES)
def test_clean_amp_run_passes_the_amp_and_ordering_checks(device, tmp_path):
    result = trace_amp(device, "none", tmp_path)
    assert result.exit_code == 0, result.explain()
    assert result.findings == [], result.explain()
    assert_device_amp_path(result, device)
    for rule_id in AMP_RULES + ORDERING_RULES:
        check = result.check(rule_id)
        assert check.status == "pass", f"{rule_id}: {check}"
    assert result.report["observed"]["optimizer_steps"] >= 8, result.report["observed"]


@pytest.mark.parametrize("bug", sorted(BUGS))
@pytest.mark.parametrize("device", DEVICES)
def test_amp_bug_is_reported_at_its_line(device, bug, tmp_path):
    rule_id, line = BUGS[bug]
    result = trace_amp(device, bug, tmp_path)
    assert_device_amp_path(result, device)
    got = {(f.rule, f.line) for f in result.findings}
    assert (rule_id, line) in got, f"{rule_id} expected at line {line}; got {sorted(got)}\n{result.explain()}"
    assert result.rules() == {rule_id}, result.explain()
    assert result.check(rule_id).status == "fail"
    if bug == "no-update":  # PyTorch itself stops the run at the next unscale_/step
        assert result.crashed and "RuntimeError" in result.traceback, result.stderr
    else:
        assert result.exit_code == 1, result.stderr
