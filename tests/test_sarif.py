"""SARIF 2.1.0 output through the real CLI: the rule catalog, results at the samples' marked lines,
locations GitHub code scanning can resolve, and the same results from a saved trace."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from conftest import ROOT, SAMPLES, expectations, fxcheck
from fxcheck import __version__
from fxcheck.report import sarif
from fxcheck.rules import all_rules

BUGGY = SAMPLES / "fx104_clip_scaled_gradients.py"
CLEAN = SAMPLES / "clean_amp_accumulation.py"
LEVELS = {"error": "error", "warning": "warning", "info": "note"}


pytestmark = pytest.mark.xdist_group("sarif")  # one worker makes the runs once


@pytest.fixture(scope="module")
def runs(tmp_path_factory, forked_cli):
    """fx104 traced live (SARIF + saved trace), the saved trace re-checked, and a clean sample."""
    tmp = tmp_path_factory.mktemp("sarif")
    out = {}
    live = forked_cli("trace", str(BUGGY.relative_to(ROOT)), "--steps", "4", "--sarif", str(tmp / "live.sarif"),
                   "--save", str(tmp / "trace.json"), "-q")
    out["live"] = (live, tmp / "live.sarif")
    again = forked_cli("check", str(tmp / "trace.json"), "--sarif", str(tmp / "again.sarif"), "-q")
    out["check"] = (again, tmp / "again.sarif")
    clean = forked_cli("trace", str(CLEAN.relative_to(ROOT)), "--steps", "8", "--sarif", str(tmp / "clean.sarif"), "-q")
    out["clean"] = (clean, tmp / "clean.sarif")
    return out


def load(runs, name) -> tuple[object, dict]:
    proc, path = runs[name]
    assert path.exists(), proc.stderr
    text = path.read_text(encoding="utf-8")
    doc = json.loads(text)
    assert json.loads(json.dumps(doc)) == doc  # plain JSON values only
    return proc, doc


def results_at(doc: dict) -> set[tuple[str, int]]:
    return {(r["ruleId"], r["locations"][0]["physicalLocation"]["region"]["startLine"])
            for r in doc["runs"][0]["results"] if r["level"] in ("error", "warning")}


@pytest.mark.parametrize("name", ["live", "check", "clean"])
def test_log_and_driver(runs, name):
    proc, doc = load(runs, name)
    assert doc["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert doc["version"] == "2.1.0"
    assert len(doc["runs"]) == 1
    driver = doc["runs"][0]["tool"]["driver"]
    assert driver["name"] == "fxcheck"
    assert driver["version"] == driver["semanticVersion"] == __version__
    assert urlparse(driver["informationUri"]).scheme == "https"


def test_every_registered_rule_is_described_once(runs):
    _, doc = load(runs, "live")
    described = doc["runs"][0]["tool"]["driver"]["rules"]
    registry = all_rules()
    assert [d["id"] for d in described] == [r.id for r in registry]
    for d, r in zip(described, registry):
        assert d["name"] == r.name
        assert d["shortDescription"]["text"] == r.summary
        assert d["fullDescription"]["text"] == r.what
        assert d["defaultConfiguration"]["level"] == LEVELS[r.severity]
        assert d["help"]["markdown"] == r.markdown()
        for section in ("What it does", "Why is this bad", "Example", "Use instead", "Known limits"):
            assert section in d["help"]["text"] and section in d["help"]["markdown"]
        # GitHub's limits: name 255 characters, descriptions 1024
        assert 0 < len(d["name"]) <= 255
        assert 0 < len(d["shortDescription"]["text"]) <= 1024 and 0 < len(d["fullDescription"]["text"]) <= 1024


def test_results_are_the_samples_marked_lines(runs):
    proc, doc = load(runs, "live")
    assert proc.returncode == 1, proc.stderr
    run = doc["runs"][0]
    assert results_at(doc) == set(expectations(BUGGY))
    described = run["tool"]["driver"]["rules"]
    for r in run["results"]:
        assert described[r["ruleIndex"]]["id"] == r["ruleId"]
        assert r["level"] == described[r["ruleIndex"]]["defaultConfiguration"]["level"]
        assert r["message"]["text"].strip()
        assert "Fix: " in r["message"]["text"]
    invocation = run["invocations"][0]
    assert invocation["executionSuccessful"] is True and invocation["exitCode"] == 1


def test_locations_resolve_to_the_sample_from_the_repository_root(runs):
    _, doc = load(runs, "live")
    run = doc["runs"][0]
    srcroot = run["originalUriBaseIds"]["%SRCROOT%"]["uri"]
    assert srcroot.startswith("file:///") and srcroot.endswith("/")
    assert Path(unquote(urlparse(srcroot).path)) == ROOT
    for r in run["results"]:
        artifact = r["locations"][0]["physicalLocation"]["artifactLocation"]
        assert artifact["uriBaseId"] == "%SRCROOT%"
        uri = artifact["uri"]
        assert uri == "samples/fx104_clip_scaled_gradients.py"  # relative, forward slashes
        assert (ROOT / unquote(uri)).resolve() == BUGGY
        assert (Path(unquote(urlparse(srcroot).path)) / unquote(uri)).resolve() == BUGGY
    assert run["automationDetails"]["id"] == "fxcheck/samples/fx104_clip_scaled_gradients.py/"


def test_clean_sample_has_no_error_or_warning_results(runs):
    proc, doc = load(runs, "clean")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert results_at(doc) == set()
    assert doc["runs"][0]["invocations"][0]["exitCode"] == 0
    assert len(doc["runs"][0]["tool"]["driver"]["rules"]) == len(all_rules())
    assert any(c["status"] == "pass" for c in doc["runs"][0]["properties"]["checks"])


def test_check_of_the_saved_trace_gives_the_live_results(runs):
    live_proc, live = load(runs, "live")
    check_proc, again = load(runs, "check")
    assert check_proc.returncode == live_proc.returncode == 1
    assert again["runs"][0]["results"] == live["runs"][0]["results"]
    assert again["runs"][0]["tool"] == live["runs"][0]["tool"]
    assert again["runs"][0]["originalUriBaseIds"] == live["runs"][0]["originalUriBaseIds"]


def test_uris_inside_and_outside_the_source_root(tmp_path):
    root = tmp_path / "repo"
    assert sarif._uri("src/train loop.py", root) == ("src/train%20loop.py", True)
    assert sarif._uri(str(root / "src" / "train.py"), root) == ("src/train.py", True)
    outside = tmp_path / "elsewhere" / "train.py"
    assert sarif._uri(str(outside), root) == (outside.as_uri(), False)


def test_sarif_folder_must_exist(tmp_path):
    proc = fxcheck("trace", str(CLEAN), "--sarif", str(tmp_path / "missing" / "out.sarif"))
    assert proc.returncode == 2 and "--sarif" in proc.stderr
