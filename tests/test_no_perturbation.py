"""Tracing never changes training: bitwise-identical weights with and without fxcheck."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from conftest import SCRIPTS, fxcheck


@pytest.mark.parametrize("name, steps", [("deterministic.py", 8), ("deterministic_transformer.py", 8),
                                         ("prefetch_accumulation.py", 18)])
def test_traced_run_ends_with_bitwise_identical_weights(tmp_path, name, steps):
    plain, traced = tmp_path / "plain.pt", tmp_path / "traced.pt"
    script = SCRIPTS / name
    subprocess.run([sys.executable, str(script), "--out", str(plain)], check=True, capture_output=True)
    # exactly the script's size (2 epochs x `steps` batches, 2 validation batches): nothing is truncated;
    # the prefetching loader with accumulation 4 and an 18-batch epoch ends each epoch on a partial cycle
    proc = fxcheck("trace", str(script), "--steps", str(steps), "--epochs", "2", "--val-steps", "2", "-q",
                   "--", "--out", str(traced))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    a, b = torch.load(plain), torch.load(traced)
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name
    # and the run did exercise what was hooked
    assert any(not torch.equal(v, torch.zeros_like(v)) for v in a.values())
