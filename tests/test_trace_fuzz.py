"""Damaged traces: `check`, `show` and `diff` of a real trace mutated at random (hypothesis) exit 2 with one
line or give a clean result; never a traceback."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from typer.testing import CliRunner

from conftest import SAMPLES, fxcheck
from fxcheck import cli, graph

pytestmark = pytest.mark.xdist_group("fuzz")  # one worker traces the sample once


@pytest.fixture(scope="module")
def real(tmp_path_factory, forked_cli):
    """The trace of an AMP sample with a finding: every kind of event the capture writes most often."""
    path = tmp_path_factory.mktemp("fuzz") / "trace.json"
    proc = forked_cli("trace", str(SAMPLES / "fx104_clip_scaled_gradients.py"), "--steps", "4", "--save", str(path), "-q")
    assert path.exists(), proc.stderr
    return json.loads(path.read_text())


def _paths(value, prefix=(), depth=0):
    """Every place in the document a mutation can land on (down to four levels)."""
    yield prefix
    if depth < 4:
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        for k, v in list(items)[:40]:
            yield from _paths(v, (*prefix, k), depth + 1)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(min_value=10**20, max_value=10**40) | st.floats()
    | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=6,
)


def _mutated(doc, where, value, delete):
    doc = json.loads(json.dumps(doc))
    if not where:
        return value
    parent = doc
    for k in where[:-1]:
        parent = parent[k]
    if delete:
        del parent[where[-1]]
    else:
        parent[where[-1]] = value
    return doc


def _judge(tmp_path, text, *commands):
    path = tmp_path / "damaged.json"
    path.write_text(text)
    runner = CliRunner()
    for args in commands:
        result = runner.invoke(cli.app, [a if a != "T" else str(path) for a in args])
        assert result.exception is None or isinstance(result.exception, SystemExit), (args, result.exception)
        assert result.exit_code in (0, 1, 2, 3, 4), (args, result.exit_code, result.output)
        assert "Traceback" not in result.output, result.output
        if result.exit_code == 2:
            assert "fxcheck: error:" in result.output and len(result.output.strip().splitlines()) == 1, result.output


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)  # the same 120 cases every run: CI never turns red by chance
@given(data=st.data(), value=JSON, delete=st.booleans())
def test_mutated_traces_give_exit_2_or_a_result_never_a_traceback(real, tmp_path_factory, data, value, delete):
    places = list(_paths(real))
    where = data.draw(st.sampled_from(places))
    doc = _mutated(real, where, value, delete and bool(where))
    _judge(tmp_path_factory.mktemp("m"), json.dumps(doc), ("check", "T", "-q"), ("show", "T"), ("diff", "T", "T"))


def test_the_damages_seen_in_the_field_are_one_line_errors(real, tmp_path):
    """Each damage a user met, through the real command line in a process of its own: check, show and diff
    exit 2 with one line naming what is wrong, never a traceback."""
    events_dict = dict(real, events={"0": real["events"][0]})
    long_seq = json.dumps(real).replace('"seq": 0,', '"seq": ' + "7" * 5001 + ",", 1)
    deep = json.dumps(dict(real, meta={"x": 0})).replace('{"x": 0}', "[" * 100000 + "]" * 100000)
    wrong_type = json.loads(json.dumps(real))
    for e in wrong_type["events"]:
        e["data"] = {k: "many" for k in e["data"]}
    good = tmp_path / "good.json"
    good.write_text(json.dumps(real))
    damages = {"events a dict": (json.dumps(events_dict), "events is a dict"),
               "a 5001-digit seq": (long_seq, "not an fxcheck trace"),
               "deep nesting": (deep, "not an fxcheck trace"),
               "version true": (json.dumps(dict(real, version=True)), "format version True"),
               "data of the wrong type": (json.dumps(wrong_type), "damaged fxcheck trace")}
    for name, (text, says) in damages.items():
        path = tmp_path / "t.json"
        path.write_text(text)
        for args in (["check", str(path), "-q"], ["show", str(path)], ["diff", str(good), str(path)]):
            proc = fxcheck(*args)
            assert proc.returncode == 2, (name, args, proc.returncode, proc.stdout, proc.stderr)
            assert says in proc.stderr and "Traceback" not in proc.stderr + proc.stdout, (name, args, proc.stderr)
            assert len(proc.stderr.strip().splitlines()) == 1 and not proc.stdout.strip(), (name, args, proc.stderr)


def _damaged(doc, change):
    doc = json.loads(json.dumps(doc))
    change(doc)
    with pytest.raises(graph.TraceFormatError) as caught:
        graph.loads(json.dumps(doc), "t.json")
    return str(caught.value)


def test_every_field_a_rule_reads_is_of_the_type_the_capture_writes(real):
    """A value of another type in any field of any kind of event (a count written as text, a list for a
    number) is a damaged trace naming the field, not a verdict on something that never ran."""
    seen = set()
    for i, e in enumerate(real["events"]):
        for name, value in e["data"].items():
            if (e["kind"], name) in seen:
                continue
            seen.add((e["kind"], name))
            wrong = [1.5] if isinstance(value, str) or value is None else "many"

            def change(doc, i=i, name=name, wrong=wrong):
                doc["events"][i]["data"][name] = wrong
            assert f"events[{i}].data.{name} is " in _damaged(real, change), (e["kind"], name)
    assert len(seen) >= 30, sorted(seen)  # the AMP sample writes most kinds and fields


def test_a_trace_out_of_order_or_of_unknown_kinds_is_damaged(real):
    def swap(doc):
        doc["events"][3], doc["events"][4] = doc["events"][4], doc["events"][3]
    assert "events[4].seq 3 is not after the seq before it (4)" in _damaged(real, swap)
    assert 'kind "optimizer.stepp" is not a kind of event' in _damaged(
        real, lambda doc: doc["events"][2].update(kind="optimizer.stepp"))
    assert 'type "thing" is not a type of object' in _damaged(real, lambda doc: doc["objects"][0].update(type="thing"))
    step = next(i for i, e in enumerate(real["events"]) if e["kind"] == "optimizer.step")
    assert f"events[{step}].data.touched.optimizer#1 is \"3\", not a whole number" in _damaged(
        real, lambda doc: doc["events"][step]["data"].update(touched={"optimizer#1": "3"}))
    opt = next(i for i, o in enumerate(real["objects"]) if o["type"] == "optimizer")
    assert f"objects[{opt}].attrs.params is 2.5, not a whole number" in _damaged(
        real, lambda doc: doc["objects"][opt]["attrs"].update(params=2.5))
    assert "meta.limits is a list, not an object" in _damaged(real, lambda doc: doc["meta"].update(limits=[1]))
    assert "meta.rank is true, not a whole number" in _damaged(real, lambda doc: doc["meta"].update(rank=True))


def test_damage_in_an_event_shaped_like_the_ones_before_it_is_found(real):
    """A long trace's events are checked whole once per shape (keys and value types); the damages that keep
    the shape (an item of a count, nesting inside a list, a number out of range) are found in the last one."""
    last = max(i for i, e in enumerate(real["events"]) if e["kind"] == "backward")
    assert sum(e["kind"] == "backward" for e in real["events"]) >= 3
    assert f"events[{last}].data.touched.optimizer#1 is \"3\", not a whole number" in _damaged(
        real, lambda doc: doc["events"][last]["data"]["touched"].update({"optimizer#1": "3"}))

    def nest(doc):
        doc["events"][last]["data"]["touched"] = {}
        for e in doc["events"]:  # an unread field, a list in every backward: only the last one nests too deep
            if e["kind"] == "backward":
                e["data"]["notes"] = [1]
        doc["events"][last]["data"]["notes"] = [[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]
    assert f"events[{last}].data.notes" in _damaged(real, nest) and "nested more than 24 levels" in _damaged(real, nest)
    assert f"events[{last}].data.touched.optimizer#1 is a number of 20 digits" in _damaged(
        real, lambda doc: doc["events"][last]["data"]["touched"].update({"optimizer#1": 10**19}))
