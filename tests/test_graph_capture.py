"""The TorchDynamo capture through the real CLI: graphs in both phases, the script's own torch.compile,
graph breaks, autocast dtypes and --no-graph."""

from __future__ import annotations

import subprocess
import sys

from conftest import SAMPLES, SCRIPTS


def captured(run, source="fxcheck"):
    return [g for g in run.report["model"]["captured"] if g["source"] == source]


def test_script_compiling_its_model_keeps_its_own_backend(trace_cli):
    script = SAMPLES / "clean_torch_compile.py"
    plain = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True)
    run = trace_cli(script)
    assert run.code == 0, run.stdout + run.stderr
    # the script's counting backend compiled the same graphs as without fxcheck (train and eval)
    assert "compiled graphs: 2" in plain.stdout and "compiled graphs: 2" in run.stdout
    graphs = captured(run, "script")
    assert [(g["phase"], g["backend"]) for g in graphs] == [("train", "counting_backend"), ("eval", "counting_backend")]
    assert not captured(run)  # fxcheck compiled nothing of its own on top
    assert "BatchNorm1d ×1 (keeps running stats; eval mode)" in run.check("FX305")["evidence"]


def test_graph_breaks_fall_back_with_a_note_and_no_dynamo_noise(trace_cli):
    run = trace_cli(SAMPLES / "clean_dynamo_graph_breaks.py")
    assert run.code == 0 and run.rules() == set(), run.stdout
    train, evaluation = captured(run)
    assert train["phase"] == "train" and evaluation["phase"] == "eval"
    assert train["graphs"] > 1 and "graph breaks" in train["note"] and train["breaks"]
    assert "Dropout ×1 (off)" in run.check("FX305")["evidence"]
    assert "Graph break" not in run.stderr and "torch/_dynamo" not in run.stderr


def test_autocast_dtypes_and_both_phases(trace_cli, tmp_path):
    run = trace_cli(SCRIPTS / "deterministic.py", "--steps", "8", "--", "--out", str(tmp_path / "w.pt"))
    train, evaluation = captured(run)
    assert train["autocast"] == "bfloat16" and "linear" in train["dtypes"]["bfloat16"]
    assert evaluation["autocast"] is None and set(evaluation["dtypes"]) == {"float32"}
    layers = {(x["type"], x["training"]) for x in train["layers"]} 
    assert layers == {("BatchNorm1d", True), ("Dropout", True)}
    assert {(x["type"], x["training"]) for x in evaluation["layers"]} == {("BatchNorm1d", False), ("Dropout", False)}
    modes = run.report["model"]["modes"]
    assert any(line.startswith("forwards of model#1: 16 in training (train mode, autograd on, autocast bfloat16)")
               for line in modes), modes


def test_no_graph_skips_the_capture(trace_cli):
    run = trace_cli(SAMPLES / "clean_layernorm_transformer.py", "--no-graph", "--steps", "4", "--epochs", "1")
    assert run.code == 0, run.stdout + run.stderr
    assert run.report["model"]["captured"] == []
    assert run.check("FX305")["status"] == "n/a"
    assert any("--no-graph" in line for line in run.report["model"]["graphs"])


def test_layernorm_only_model_inventory(trace_cli):
    run = trace_cli(SAMPLES / "clean_layernorm_transformer.py", "--steps", "4", "--epochs", "1")
    assert run.code == 0 and run.rules() == set(), run.stdout
    evidence = run.check("FX305")["evidence"]
    assert "LayerNorm ×5 (no running stats; same in both modes)" in evidence and "running stats ×0" in evidence
