"""Launched runs (torchrun / torch.distributed.run, 2 gloo ranks on 127.0.0.1): every rank traced and
cut like one process, one report on rank 0 with every rank in it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

from conftest import SCRIPTS

from fxcheck import cli, distributed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(script, tmp_path, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    report = tmp_path / "report.json"
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                           "--master-addr", "127.0.0.1", "--master-port", str(free_port()),
                           "-m", "fxcheck", "trace", str(script), "--json", str(report), *args],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, NO_COLOR="1", COLUMNS="160"))
    return proc, json.loads(report.read_text())


def test_every_rank_is_traced_and_rank_0_writes_one_report(tmp_path):
    proc, r = torchrun(SCRIPTS / "ddp_torchrun.py", tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert r["observed"]["ranks"] == 2
    assert [e["rank"] for e in r["ranks"]] == [0, 1]
    for e in r["ranks"]:  # each rank cut like one process: 2 epochs of 10 batches and the first step of the third
        assert e["status"] == "stopped" and e["observed"]["optimizer_steps"] == 21, e
    assert r["findings"] == []
    assert proc.stdout.count("Summary:") == 1 and "Ranks (2;" in proc.stdout  # one console report, not two
    assert "rank 1 of 2: trace handed to rank 0 (store)" in proc.stderr  # through the launcher's store


def test_a_rank_whose_trace_never_came_is_missing_and_the_run_is_not_clean(tmp_path, monkeypatch):
    monkeypatch.setattr(distributed, "_folder", lambda r: tmp_path / "ranks")
    distributed.hand_over(distributed.Rank(1, 3, "t", None, None), "{}")
    others = distributed.gather(distributed.Rank(0, 3, "t", None, None), seconds=0.5)  # rank 2 hands nothing over
    assert others == {1: "{}", 2: None}
    own = {"run": {"status": "stopped"}, "exit": 0, "findings": [], "observed": {}}
    merged = distributed.merge({0: own, 1: dict(own, exit=1), 2: None}, 3)
    assert [e["status"] for e in merged["ranks"]] == ["stopped", "stopped", "missing"]
    assert cli._worst([0, 1, cli.EXIT_SCRIPT_ERROR]) == cli.EXIT_SCRIPT_ERROR and cli._worst([0, 1, 0]) == 1


def test_nproc_per_node_starts_the_ranks_through_the_launcher_and_exits_with_their_worst_code(tmp_path, trace_cli):
    run = trace_cli(SCRIPTS / "ddp_torchrun.py", "--nproc-per-node", "2", "--", "--no-zero-grad-on-rank1",
                    cwd=tmp_path)
    assert run.code == cli.EXIT_FINDINGS, run.stdout + run.stderr
    assert run.report["observed"]["ranks"] == 2
    assert [(f["rule"], f["ranks"]) for f in run.report["findings"]] == [("FX101", [1])]
    assert "ChildFailedError" not in run.stderr  # rank 0 hands its code to fxcheck, not to the launcher
    assert run.report["ranks"][0]["exit"] == cli.EXIT_OK and run.report["ranks"][1]["exit"] == cli.EXIT_FINDINGS
    missing = trace_cli(tmp_path / "nope.py", "--nproc-per-node", "2")
    assert missing.code == cli.EXIT_BAD_INPUT and "no such file" in missing.stderr


def test_ranks_the_script_spawns_are_traced_cut_and_reported_together(tmp_path, trace_cli):
    """torch.multiprocessing.spawn (the DDP tutorials' launch): every spawned rank runs under capture,
    is cut like one process, and hands its trace to the fxcheck that runs the script."""
    clean = trace_cli(SCRIPTS / "ddp_spawn.py", "--save", str(tmp_path / "t.json"), "--", "--port", str(free_port()),
                      cwd=tmp_path)
    assert clean.code == 0, clean.stdout + clean.stderr
    assert clean.report["observed"]["ranks"] == 2 and clean.report["findings"] == []
    assert [(e["rank"], e["status"], e["observed"]["optimizer_steps"]) for e in clean.report["ranks"]] == \
        [(0, "stopped", 21), (1, "stopped", 21)]
    assert (tmp_path / "t.json").exists() and (tmp_path / "t.rank1.json").exists()  # each rank's trace
    buggy = trace_cli(SCRIPTS / "ddp_spawn.py", "--", "--port", str(free_port()), "--no-zero-grad-on-rank1",
                      cwd=tmp_path)
    assert buggy.code == cli.EXIT_FINDINGS, buggy.stdout + buggy.stderr
    assert [(f["rule"], f["ranks"]) for f in buggy.report["findings"]] == [("FX101", [1])]
