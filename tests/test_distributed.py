"""Launched runs (torchrun / torch.distributed.run, 2 gloo ranks on 127.0.0.1): every rank traced and
cut like one process, one report on rank 0 with every rank in it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from conftest import ROOT, SCRIPTS, expectations, fxcheck

from fxcheck import cli, distributed

DISTRIBUTED = ROOT / "samples" / "distributed"


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


def test_ranks_the_script_spawns_are_reported_together_and_saved_in_one_trace(tmp_path, trace_cli):
    """torch.multiprocessing.spawn (the DDP tutorials' launch): every spawned rank runs under capture, is
    cut like one process, and hands its trace to the fxcheck that runs the script; the saved trace holds
    every rank, and check, show and diff read it."""
    saved = tmp_path / "t.json"
    buggy = trace_cli(SCRIPTS / "ddp_spawn.py", "--save", str(saved), "--", "--port", str(free_port()),
                      "--no-zero-grad-on-rank1", cwd=tmp_path)
    assert buggy.code == cli.EXIT_FINDINGS, buggy.stdout + buggy.stderr
    assert [(e["rank"], e["status"], e["observed"]["optimizer_steps"]) for e in buggy.report["ranks"]] == \
        [(0, "stopped", 21), (1, "stopped", 21)]
    assert [(f["rule"], f["ranks"]) for f in buggy.report["findings"]] == [("FX101", [1])]
    assert "Ranks (2;" in buggy.stdout and "FX101" in buggy.stdout.split("Ranks (2;")[1]  # found on rank 1
    doc = json.loads(saved.read_text())
    assert doc["version"] == 2 and [r["rank"] for r in doc["ranks"]] == [0, 1] and not list(tmp_path.glob("t.rank*"))
    report = tmp_path / "again.json"
    again = fxcheck("check", str(saved), "--json", str(report), "-q")
    assert again.returncode == cli.EXIT_FINDINGS, again.stderr
    assert json.loads(report.read_text())["findings"] == buggy.report["findings"]  # the same verdicts, rank by rank
    shown = fxcheck("show", str(saved), "--rank", "1")
    assert shown.returncode == 0 and " · rank 1 · " in shown.stdout, shown.stdout + shown.stderr
    assert fxcheck("diff", str(saved), str(saved), "--rank", "1").returncode == 0
    wrong = fxcheck("show", str(saved), "--rank", "3")
    assert wrong.returncode == cli.EXIT_BAD_INPUT and "has the traces of ranks 0, 1" in wrong.stderr


def test_ranks_started_as_processes_are_traced_and_a_crashing_rank_is_reported_by_rank(tmp_path, trace_cli):
    """multiprocessing.Process ranks (fork and spawn): each is traced and cut like one process; the
    data-preparation process the script starts first is not a rank. A rank that raises is reported as
    crashed with what it observed, its peer's failure too, and the run exits 3."""
    forked = trace_cli(SCRIPTS / "ddp_process.py", "--", "--start", "fork", cwd=tmp_path)
    assert forked.code == 0, forked.stdout + forked.stderr
    assert [(e["rank"], e["status"], e["observed"]["optimizer_steps"]) for e in forked.report["ranks"]] == \
        [(0, "stopped", 21), (1, "stopped", 21)]
    assert forked.check("FX505")["status"] == "pass"
    crashed = trace_cli(SCRIPTS / "ddp_process.py", "--", "--start", "spawn", "--crash-rank1", cwd=tmp_path)
    assert crashed.code == cli.EXIT_SCRIPT_ERROR, crashed.stdout + crashed.stderr
    ranks = {e["rank"]: e for e in crashed.report["ranks"]}
    assert ranks[1]["status"] == "crashed" and "rank 1 lost its data shard" in ranks[1]["reason"]
    assert ranks[0]["status"] == "crashed" and ranks[0]["observed"]["optimizer_steps"] == 13
    assert "rank 1 lost its data shard" in crashed.stdout.split("Ranks (2;")[1]
    assert crashed.check("FX504")["status"] == "pass"  # the epochs both ranks completed ran the same steps


# How each distributed sample is launched: torchrun running `-m fxcheck trace` on every rank, `fxcheck trace
# --nproc-per-node 2` (fxcheck starts torch.distributed.run), or `fxcheck trace` of a script that spawns its ranks.
LAUNCH = {
    "clean_ddp_no_sync_accumulation.py": "torchrun",
    "clean_ddp_spawn_amp.py": "spawn",
    "fx501_sampler_epoch_not_set.py": "torchrun",
    "fx502_accumulation_syncs_every_micro_batch.py": "nproc",
    "fx503_forward_through_module.py": "spawn",
    "fx503_wrapper_rebuilt_each_epoch.py": "nproc",
    "fx504_scheduler_on_rank0_only.py": "spawn",
    "fx505_module_converted_after_wrap.py": "torchrun",
}


def test_every_distributed_sample_has_a_launch_mode():
    assert {p.name for p in DISTRIBUTED.glob("*.py")} == set(LAUNCH)


def launched(script, mode: str, tmp_path, trace_cli, *args: str) -> tuple[int, dict, str]:
    """Run a script under a launch mode: its exit code, JSON report and console output."""
    if mode == "torchrun":
        proc, report = torchrun(script, tmp_path, *(["--", *args] if args else []))
        out = proc.stdout + proc.stderr
        assert "rank 1 of 2: trace handed to rank 0 (store)" in proc.stderr, out  # through the launcher's store
        return proc.returncode, report, out
    nproc = ["--nproc-per-node", "2"] if mode == "nproc" else []
    run = trace_cli(script, *nproc, *(["--", *args] if args else []), cwd=tmp_path)
    return run.code, run.report, run.stdout + run.stderr


def findings(report: dict) -> set[tuple[str, int]]:
    return {(f["rule"], f["line"]) for f in report["findings"] if f["severity"] in ("error", "warning")}


@pytest.mark.parametrize("name", sorted(LAUNCH), ids=lambda n: n.removesuffix(".py"))
def test_distributed_sample(name, tmp_path, trace_cli):
    """Buggy samples yield exactly their rules at the marked lines on every rank they happen on; clean ones
    pass every FX5xx rule they exercise, with evidence from both ranks."""
    script = DISTRIBUTED / name
    code, report, out = launched(script, LAUNCH[name], tmp_path, trace_cli)
    assert report["observed"]["ranks"] == 2 and [e["status"] for e in report["ranks"]] == ["stopped", "stopped"], out
    assert out.count("Summary:") == 1  # one console report for the run, not one per rank
    assert findings(report) == set(expectations(script)), out
    if name.startswith("clean_"):
        assert code == 0, out
        checks = {c["rule"]: c for c in report["checks"]}
        assert all(checks[r]["status"] == "pass" for r in FX5XX), checks
    else:
        errors = any(f["severity"] == "error" for f in report["findings"])
        assert code == (cli.EXIT_FINDINGS if errors else cli.EXIT_OK), out


FX5XX = ("FX501", "FX502", "FX503", "FX504", "FX505")


@pytest.mark.parametrize("mode,clean", [("torchrun", False), ("nproc", False), ("nproc", True), ("spawn", False),
                                        ("process", False)], ids=["torchrun", "nproc", "nproc-clean", "spawn",
                                                                  "process"])
def test_every_fx5xx_rule_fires_under_every_launch_mode(mode, clean, tmp_path, trace_cli):
    """One script with all five FX5xx bugs, run as torchrun's ranks, as fxcheck's --nproc-per-node ranks, and
    as ranks it spawns or forks itself: every rule at its marked line under each; its clean variant passes
    them all with both ranks' evidence."""
    script = SCRIPTS / "ddp_every_bug.py"
    args = ["--start", mode] if mode in ("spawn", "process") else []
    code, report, out = launched(script, mode, tmp_path, trace_cli, *args, *(["--clean"] if clean else []))
    assert report["observed"]["ranks"] == 2 and [e["status"] for e in report["ranks"]] == ["stopped", "stopped"], out
    checks = {c["rule"]: c["status"] for c in report["checks"]}
    if clean:
        assert code == 0 and not findings(report) and all(checks[r] == "pass" for r in FX5XX), out
    else:
        assert code == cli.EXIT_FINDINGS and findings(report) == set(expectations(script)), out


CORPUS = ROOT / "tests" / "corpus" / "distributed"
CORPUS_KEY = json.loads((CORPUS / "EXPECTED.json").read_text()) if (CORPUS / "EXPECTED.json").exists() else {}


@pytest.mark.parametrize("name", sorted(CORPUS_KEY), ids=lambda n: n.removesuffix(".py"))
def test_distributed_corpus_script(name, tmp_path, trace_cli):
    """Realistic DDP scripts written apart from the samples, each under its own launch mode: exactly the
    rules and lines of the answer key, on a run that traced both ranks."""
    entry = CORPUS_KEY[name]
    code, report, out = launched(CORPUS / name, entry["launch"], tmp_path, trace_cli)
    assert report is not None and report["observed"]["ranks"] == 2, out
    assert all(e.get("status") in ("stopped", "completed") for e in report["ranks"]), report["ranks"]
    assert findings(report) == {(e["rule"], e["line"]) for e in entry["findings"]}, out
