"""Frameworks under fxcheck: the cut reaches them as their own limits (or through the loaders they
build), and tracing changes nothing they do within it (real lightning, accelerate and transformers,
through the real CLI, against plain runs of the same scripts with the limits set by hand)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import SCRIPTS, fxcheck


def plain_and_traced(tmp_path, name: str, *plain_args: str):
    """Run a tests/scripts file plain with `plain_args` (the limits set by hand), then traced with
    --steps 10 --epochs 2; return what each wrote to --out, the JSON report and the trace's stdout."""
    plain, traced, report = tmp_path / "plain.json", tmp_path / "traced.json", tmp_path / "report.json"
    script = SCRIPTS / name
    subprocess.run([sys.executable, str(script), "--out", str(plain), *plain_args], check=True,
                   capture_output=True, cwd=tmp_path)
    proc = fxcheck("trace", str(script), "--steps", "10", "--epochs", "2", "--json", str(report), "--",
                   "--out", str(traced), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return (json.loads(plain.read_text()), json.loads(traced.read_text()), json.loads(report.read_text()),
            " ".join(proc.stdout.split()))


def test_lightning_gets_the_cut_as_its_limits_and_trains_bitwise_the_same(tmp_path):
    """Traced with --steps 10 --epochs 2 (accumulation 4: 8 batches per epoch, whole cycles), the fit
    ends its first two epochs with the weights of a plain fit given limit_train_batches=8,
    limit_val_batches=2 and max_epochs=3 by hand; the OneCycleLR sized from the trainer's estimate
    agrees too."""
    pytest.importorskip("lightning")
    a, b, r, out = plain_and_traced(tmp_path, "lightning_weights.py", "--limit-train", "8", "--limit-val", "2",
                                    "--max-epochs", "3")
    assert a["num_training_batches"] == b["num_training_batches"] == 8
    assert len(a["epochs"]) == 3 and len(b["epochs"]) == 2 and b["epochs"] == a["epochs"][:2]
    assert r["observed"]["optimizer_steps"] == 2 * 2 + 1  # 2 steps per epoch, and the first of epoch 3
    assert "limit_train_batches=8, limit_val_batches=2, max_epochs=3" in out
    assert r["checks"] and not r["findings"], r["findings"]


def test_accelerate_prepared_loader_is_cut_as_the_scripts_and_trains_bitwise_the_same(tmp_path):
    """Accelerate has no batch limit of its own: fxcheck cuts the prepared loader (one loader with the
    script's, aligned to gradient_accumulation_steps=4 before the first step: 10 -> 8 batches), and the
    first two epochs end with the weights of a plain run whose batch sampler stops after 8 batches
    (its len() saying 8, so the schedule sized from it agrees)."""
    pytest.importorskip("accelerate")
    a, b, r, _ = plain_and_traced(tmp_path, "accelerate_weights.py", "--limit", "8")
    assert a["len"] == b["len"] == 8
    assert len(a["epochs"]) == 3 and len(b["epochs"]) == 2 and b["epochs"] == a["epochs"][:2]
    assert r["observed"]["optimizer_steps"] == 2 * 2 + 1 and not r["findings"], r["findings"]


def test_hf_trainer_is_cut_through_its_loader_and_epochs_and_trains_bitwise_the_same(tmp_path):
    """HF's Trainer accumulates itself (gradient_accumulation_steps=2 aligns the cut before the first
    step) and gets num_train_epochs=E+1: its schedule's max_steps and the first two epochs' weights are
    those of a plain run of the same script with its training batch sampler stopped after 10 batches
    and num_train_epochs=3 set by hand."""
    pytest.importorskip("transformers")
    a, b, r, out = plain_and_traced(tmp_path, "hf_trainer_weights.py", "--limit", "10", "--epochs", "3")
    assert a["max_steps"] == b["max_steps"] == 3 * 5
    assert len(a["epochs"]) == 3 and len(b["epochs"]) == 2 and b["epochs"] == a["epochs"][:2]
    assert r["observed"]["optimizer_steps"] == 2 * 5 + 1 and not r["findings"], r["findings"]
    assert "set num_train_epochs=3" in out


def test_lightning_trainer_is_restored_after_the_run():
    pl = pytest.importorskip("lightning.pytorch")

    from fxcheck.capture import Capture, Limits

    before = (pl.Trainer.__dict__["__init__"], pl.Trainer.__dict__["fit"], list(sys.meta_path))
    capture = Capture([], Limits())
    capture.start()
    try:
        assert pl.Trainer.__dict__["__init__"] is not before[0]
    finally:
        capture.stop()
    assert (pl.Trainer.__dict__["__init__"], pl.Trainer.__dict__["fit"], list(sys.meta_path)) == before
