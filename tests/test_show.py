"""`fxcheck show`: the AMP timeline of saved traces, through the real CLI (console and HTML)."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import SAMPLES, SCRIPTS, expectations, fxcheck

SLOT_KINDS = {"model.forward", "scaler.scale", "backward", "scaler.unscale_", "clip", "optimizer.step", "scaler.step",
              "scaler.update", "grad.clear", "scheduler.step"}


@pytest.fixture(scope="module")
def traces(tmp_path_factory):
    """Each script traced once (--save) for the whole module."""
    folder = tmp_path_factory.mktemp("traces")
    saved: dict[str, Path] = {}

    def get(script: Path, *args: str) -> Path:
        if script.stem not in saved:
            path = folder / f"{script.stem}.json"
            proc = fxcheck("trace", str(script), "--save", str(path), "-q", *args)
            assert path.exists(), proc.stderr
            saved[script.stem] = path
        return saved[script.stem]

    return get


def expected_line(sample: Path, rule: str) -> int:
    return next(line for r, line in expectations(sample) if r == rule)


def summary(stdout: str) -> tuple[dict[str, int], dict[str, str]]:
    """The summary table: where each column starts, and each cycle's row by its number."""
    lines = stdout.splitlines()
    header = next(line for line in lines if re.match(r"  cycle +where ", line))
    starts = {m.group(): m.start() for m in re.finditer(r"\S+", header)}
    rows = {m.group(1): line for line in lines if (m := re.match(r"  (\d+)\s", line))}
    return starts, rows


def show(*args: str) -> tuple[int, str, str]:
    proc = fxcheck("show", *map(str, args))
    return proc.returncode, proc.stdout, proc.stderr


def test_clip_before_unscale_is_marked_in_its_column_with_the_users_line(traces):
    sample = SAMPLES / "fx104_clip_scaled_gradients.py"
    line = expected_line(sample, "FX104")
    code, out, err = show(traces(sample, "--steps", "4", "--epochs", "1"))
    assert code == 0, err
    starts, rows = summary(out)
    row = rows["1"]
    assert row.index(f"✗ FX104 {sample.name}:{line}") == starts["clip"]
    assert row.index("∅ unscale_ (FX104)") == starts["unscale_"]
    assert "cycles 2-4: same as cycle 1" in out
    # the detail of the cycle puts the gap right before the clip it should have preceded
    detail = out[out.index("Cycles with findings"):].splitlines()
    gap = next(i for i, text in enumerate(detail) if "∅ unscale_" in text)
    assert "clip" in detail[gap + 1] and f"{sample.name}:{line}" in detail[gap + 1] and "✗ FX104" in detail[gap + 1]
    assert f"samples/{sample.name}:{line}" in out


def test_optimizer_stepped_directly_is_marked_on_the_step(traces):
    sample = SAMPLES / "fx106_scaler_bypassed.py"
    line = expected_line(sample, "FX106")
    code, out, err = show(traces(sample, "--steps", "4", "--epochs", "1"))
    assert code == 0, err
    starts, rows = summary(out)
    assert rows["1"].index(f"✗ FX106 {sample.name}:{line}") == starts["step"]
    assert "called directly" in out


def test_missing_update_is_a_gap_after_the_step(traces):
    sample = SAMPLES / "fx108_scaler_update_missing.py"
    line = expected_line(sample, "FX108")
    code, out, err = show(traces(sample, "--steps", "4", "--epochs", "1"))
    assert code == 0, err
    starts, rows = summary(out)
    assert rows["1"].index("∅ update (FX108)") == starts["update"]
    assert "2 (unfinished)" in rows["2"] and "raised" in rows["2"]
    detail = out[out.index("Cycles with findings"):].splitlines()
    gap = next(i for i, text in enumerate(detail) if "∅ update" in text)
    assert "scaler.step(optimizer#1)" in detail[gap - 1] and f"{sample.name}:{line}" in detail[gap - 1]
    assert f"{sample.name}:{line}" in detail[gap]


def test_clean_amp_accumulation_has_no_mark(traces):
    code, out, err = show(traces(SAMPLES / "clean_amp_accumulation.py", "--steps", "8", "--epochs", "1"))
    assert code == 0, err
    assert "✗" not in out and "∅" not in out and "Cycles with findings" not in out
    starts, rows = summary(out)
    # two cycles of 4 micro-batches; the first also holds the zero_grad before the epoch loop; the
    # third is epoch 2's first, observed to see across the boundary
    assert set(rows) == {"1", "2", "3"}
    assert "scaled ×4" in rows["1"] and "b0-3" in rows["1"] and "✓ ×2" in rows["1"]
    assert "scaled ×4" in rows["2"] and "b4-7" in rows["2"]
    assert rows["2"].index("scaler.step") == starts["step"]


def test_one_cycle_in_detail_lists_every_event_with_its_place(traces):
    sample = SAMPLES / "fx104_clip_scaled_gradients.py"
    path = traces(sample, "--steps", "4", "--epochs", "1")
    code, out, err = show(path, "--cycle", "3")
    assert code == 0, err
    assert "cycle 3 of optimizer#1 AdamW" in out and "Cycles with findings" not in out
    listed = [line for line in out.splitlines() if re.match(r"\s+\d+\s", line)]
    trace = json.loads(path.read_text())
    batches = [e["seq"] for e in trace["events"] if e["kind"] == "loader.batch" and e["obj"] == "loader#1"]
    expected = [e for e in trace["events"] if batches[2] <= e["seq"] < batches[3] and e["kind"] in SLOT_KINDS
                and e["data"].get("phase", "train") == "train"]
    shown = {int(line.split()[0]): line for line in listed}
    for e in expected:
        assert f"{e['file']}:{e['line']}" in shown[e["seq"]]
    assert "✗ FX104" in shown[next(e["seq"] for e in expected if e["kind"] == "clip")]
    assert "FX104 clip-scaled-gradients (error)" in out


def test_cycle_out_of_range_names_the_valid_range(traces):
    path = traces(SAMPLES / "fx104_clip_scaled_gradients.py", "--steps", "4", "--epochs", "1")
    for k in ("0", "6"):  # 4 cycles of epoch 1, and epoch 2's first
        code, out, err = show(path, "--cycle", k)
        assert code == 2 and "cycles 1-5" in err and "Traceback" not in err


def test_bad_input_is_one_line_and_exit_2(tmp_path, traces):
    real = json.loads(traces(SAMPLES / "fx104_clip_scaled_gradients.py", "--steps", "4", "--epochs", "1").read_text())
    future = tmp_path / "future.json"
    future.write_text(json.dumps(dict(real, version=99)))
    other = tmp_path / "other.json"
    other.write_text('{"hello": 1}')
    notes = tmp_path / "notes.txt"
    notes.write_text("not json at all")
    for path, says in ((future, "format version 99"), (other, "not an fxcheck trace"), (notes, "not an fxcheck trace"),
                       (tmp_path / "missing.json", "cannot read")):
        code, out, err = show(path)
        assert code == 2 and says in err and "Traceback" not in err, err
        assert len(err.strip().splitlines()) <= 2  # one message (rich may fold it)


def test_skipped_steps_and_the_backoff_that_followed(traces):
    path = traces(SCRIPTS / "amp_overflow.py", "--steps", "6", "--epochs", "1")
    # the scaler really skipped: a scaler.step with no optimizer.step since the previous one, then a backoff
    events = json.loads(path.read_text())["events"]
    stepped, skipped_at = False, []
    for i, e in enumerate(events):
        if e["kind"] == "optimizer.step":
            stepped = True
        elif e["kind"] == "scaler.step":
            if not stepped:
                skipped_at.append(i)
            stepped = False
    assert skipped_at, "the overflow script did not make the scaler skip a step"
    update = next(e for e in events[skipped_at[0]:] if e["kind"] == "scaler.update")["data"]
    assert update["scale_before"] == 2.0 ** 127 and update["scale_after"] == 2.0 ** 126
    code, out, err = show(path)
    assert code == 0, err
    starts, rows = summary(out)
    assert rows["1"].index("skipped (inf/NaN)") == starts["step"]
    assert rows["1"].index("2^127 → 2^126 (backoff ×0.5)") == starts["update"]
    assert "2^126 → 2^127 (growth ×2)" in out
    assert f"{len(skipped_at)} step(s) skipped for inf/NaN gradients: cycle 1" in out
    assert "✗" not in out  # nothing wrong with the loop itself
    code, out, err = show(path, "--cycle", "1")
    assert "scaler.step(optimizer#1) skipped the step (inf/NaN gradients)" in out


def test_model_forwards_are_placed_when_present_and_optional(tmp_path, traces):
    real = json.loads(traces(SAMPLES / "fx104_clip_scaled_gradients.py", "--steps", "4", "--epochs", "1").read_text())
    plain = [e for e in real["events"] if e["kind"] != "model.forward"]
    older = tmp_path / "older.json"
    older.write_text(json.dumps(dict(real, events=[dict(e, seq=i) for i, e in enumerate(plain)])))
    code, out, err = show(older)
    assert code == 0, err
    assert "no model.forward events" in out and "✗ FX104" in out
    # a forward under autocast before each scaled loss, as the capture records it
    forward = {"kind": "model.forward", "obj": "model#1", "file": real["events"][0]["file"], "line": 64,
               "function": "main", "data": {"training": True, "grad_enabled": True, "autocast": "bfloat16"}}
    newer_events = []
    for e in plain:
        if e["kind"] == "scaler.scale":
            newer_events.append(forward)
        newer_events.append(e)
    newer = tmp_path / "newer.json"
    newer.write_text(json.dumps(dict(real, events=[dict(e, seq=i) for i, e in enumerate(newer_events)])))
    code, out, err = show(newer, "--cycle", "1")
    assert code == 0, err
    assert "model#1 forward (autocast bfloat16)" in out and "no model.forward events" not in out
    code, out, err = show(newer)
    starts, rows = summary(out)
    assert rows["1"].index("bfloat16") == starts["forward"]


class _Page(HTMLParser):
    """The HTML timeline's structure: cycles, their lanes, event columns, gaps and marks; every URL."""

    def __init__(self) -> None:
        super().__init__()
        self.cycles: list[dict] = []
        self.tags: set[str] = set()
        self.urls: list[str] = []
        self.css = ""
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.add(tag)
        self._in_style = tag == "style"
        for name, value in attrs:
            if name in ("src", "href", "xlink:href", "action", "srcset") or (value or "").startswith(("http:", "https:", "//")):
                if not (name == "xmlns" and value == "http://www.w3.org/2000/svg"):
                    self.urls.append(f"{name}={value}")
        cls = a.get("class", "")
        if tag == "section" and "cycle" in cls:
            self.cycles.append({"cycle": int(a["data-cycle"]), "lanes": [], "events": [], "gaps": [], "marks": []})
        elif self.cycles and tag == "g":
            c = self.cycles[-1]
            if cls == "lane":
                c["lanes"].append(a["data-object"])
            elif cls == "event":
                c["events"].append(a)
            elif cls == "missing":
                c["gaps"].append(a)
            elif cls == "mark":
                c["marks"].append(a["data-rule"])

    def handle_endtag(self, tag):
        if tag == "style":
            self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.css += data


def _page(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def test_html_timeline_has_a_lane_per_object_a_column_per_event_and_marks(tmp_path, traces):
    sample = SAMPLES / "fx104_clip_scaled_gradients.py"
    path = traces(sample, "--steps", "4", "--epochs", "1")
    out_html = tmp_path / "timeline.html"
    code, out, err = show(path, "--html", out_html)
    assert code == 0, err
    page = _page(out_html)
    assert not page.urls and "script" not in page.tags and "link" not in page.tags and "img" not in page.tags
    assert "url(" not in page.css and "@import" not in page.css
    assert [c["cycle"] for c in page.cycles] == [1, 5]  # cycles 2-4 are the same as cycle 1; 5 opens epoch 2
    c = page.cycles[0]
    trace = json.loads(path.read_text())
    batches = [e["seq"] for e in trace["events"] if e["kind"] == "loader.batch" and e["obj"] == "loader#1"]
    expected = [e for e in trace["events"] if batches[0] <= e["seq"] < batches[1] and e["kind"] in SLOT_KINDS
                and e["data"].get("phase", "train") == "train"]
    assert [int(e["data-seq"]) for e in c["events"]] == [e["seq"] for e in expected]  # one column per event
    assert len(c["lanes"]) == len(set(c["lanes"]))
    assert set(c["lanes"]) == {e["data-lane"] for e in c["events"]}  # one lane per object, none empty
    assert {"scaler#1", "optimizer#1", "model#1"} <= set(c["lanes"])
    clip = next(e for e in c["events"] if e["data-kind"] == "clip")
    assert clip["data-place"] == f"samples/{sample.name}:{expected_line(sample, 'FX104')}"
    assert c["marks"] == ["FX104"]
    assert [(g["data-column"], g["data-rule"]) for g in c["gaps"]] == [("unscale_", "FX104")]
    html_text = out_html.read_text(encoding="utf-8")
    assert f"samples/{sample.name}:{expected_line(sample, 'FX104')}" in html_text


def test_html_shows_skipped_steps_and_scale_per_update(tmp_path, traces):
    path = traces(SCRIPTS / "amp_overflow.py", "--steps", "6", "--epochs", "1")
    out_html = tmp_path / "overflow.html"
    code, out, err = show(path, "--html", out_html)
    assert code == 0, err
    text = out_html.read_text(encoding="utf-8")
    page = _page(out_html)
    assert not page.urls and not any(c["marks"] for c in page.cycles)
    # skipped in cycles 1 and 4 of epoch 1, and in cycle 7, epoch 2's first (observed across the boundary)
    assert text.count('class="skipped-step"') == 3 and text.count('class="dot skipped"') == 3
    assert "2^127 → 2^126" in text
    one = _page_cycle(page, 1)
    assert any(e["data-kind"] == "scaler.update" for e in one["events"])
    code, out, err = show(path, "--cycle", "2", "--html", out_html)
    assert [c["cycle"] for c in _page(out_html).cycles] == [2]


def _page_cycle(page: _Page, k: int) -> dict:
    return next(c for c in page.cycles if c["cycle"] == k)
