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


def test_two_traced_ranks_end_with_the_weights_of_the_plain_run(tmp_path):
    """A 2-rank DDP run launched by `fxcheck trace --nproc-per-node 2` (its checksums read, its forwards
    captured) ends on every rank with the weights the plain torchrun run ends with, bit for bit."""
    from test_distributed import free_port

    script = SCRIPTS / "ddp_deterministic.py"
    plain, traced = tmp_path / "plain.pt", tmp_path / "traced.pt"
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-addr",
                    "127.0.0.1", "--master-port", str(free_port()), str(script), "--out", str(plain)],
                   check=True, capture_output=True, timeout=300)
    proc = fxcheck("trace", str(script), "--nproc-per-node", "2", "--steps", "8", "--epochs", "2", "-q",
                   "--", "--out", str(traced))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for rank in ("", ".rank1"):
        a, b = torch.load(f"{plain}{rank}"), torch.load(f"{traced}{rank}")
        assert a.keys() == b.keys()
        for name in a:
            assert torch.equal(a[name], b[name]), (rank, name)
    assert all(torch.equal(v, w) for v, w in zip(torch.load(plain).values(), torch.load(f"{plain}.rank1").values()))
