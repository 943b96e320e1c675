"""Events -> networkx event graph; saving and loading traces (versioned JSON); shared queries.

The graph has one node per tracked object ("optimizer#1", ...); the events are its
g.graph["events"], one attribute dict each in happens-before order (a long run has hundreds of
thousands, and no query walks them as nodes). Every event carries its coordinates: epoch, batch
(within the epoch) and step (the optimizer cycle it belongs to). A saved trace holds the events and objects; the graph is
rebuilt from them, so a re-check of a saved trace sees exactly what the live run saw.
"""

from __future__ import annotations

import gc
import json
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Hashable, Iterator

import networkx as nx

from fxcheck import events as ev
from fxcheck import loop
from fxcheck.events import Event, Site, TrackedObject
from fxcheck.loop import is_step

FORMAT = "fxcheck-trace"
FORMAT_VERSION = 2  # 2: as 1, or a distributed run's ranks in one file ("ranks": one event stream each)
READS = (1, 2)


class TraceFormatError(ValueError):
    """A file that is not an fxcheck trace, or of a format version this fxcheck cannot read."""


@contextmanager
def gc_paused() -> Iterator[None]:
    """Python's cyclic collector off for a while (as it was, after). A long trace loads as hundreds of
    thousands of small acyclic dicts, and each collection while they are made or read walks them all
    again: it would take more time than the reading itself."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@dataclass
class Trace:
    """What one run (or one rank of a distributed run) observed."""

    meta: dict[str, Any]
    objects: list[TrackedObject] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    def body(self) -> dict[str, Any]:
        return {"meta": self.meta, "objects": [o.to_json() for o in self.objects],
                "events": [e.to_json() for e in self.events]}

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": FORMAT_VERSION, **self.body()}


MISSING = "no trace reached rank 0 (the rank was killed, hung, or never ran fxcheck)"


@dataclass
class Ranked:
    """What the ranks of a distributed run observed: each rank's trace, None for a rank whose never came."""

    ranks: dict[int, Trace | None]

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": FORMAT_VERSION, "meta": {"ranks": len(self.ranks)},
                "ranks": [{"rank": n, **(t.body() if t is not None else {"missing": MISSING})}
                          for n, t in sorted(self.ranks.items())]}


def dumps(trace: Trace | Ranked) -> str:
    return json.dumps(trace.to_json(), indent=1, default=_json_default)


def save(trace: Trace | Ranked, path: str | Path) -> None:
    Path(path).write_text(dumps(trace), encoding="utf-8")


def _json_default(value: Any) -> Any:
    if isinstance(value, (set, tuple)):
        return list(value)
    return repr(value)


def load(path: str | Path) -> Trace | Ranked:
    """Read a saved trace. Plain JSON only: loading never runs code."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TraceFormatError(f"cannot read {path}: {exc}") from None
    return loads(text, str(path))


def loads(text: str, path: str = "the trace") -> Trace | Ranked:
    """A trace from its JSON text (`path` names it in errors)."""
    with gc_paused():
        return _loads(text, path)


def _loads(text: str, path: str) -> Trace | Ranked:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TraceFormatError(f"{path} is not an fxcheck trace (not JSON: {exc.msg})") from None
    except (ValueError, RecursionError) as exc:  # a number too long to read, nesting too deep for the parser
        raise TraceFormatError(f"{path} is not an fxcheck trace ({type(exc).__name__}: {str(exc)[:80]})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise TraceFormatError(f"{path} is not an fxcheck trace (no \"format\": \"{FORMAT}\")")
    small_numbers = _LONG_NUMBER not in text.translate(_DIGITS)  # a C scan: a regex takes six times as long
    version = doc.get("version")
    if type(version) is not int or version not in READS:
        raise TraceFormatError(
            f"{path} is an fxcheck trace of format version {version!r}; "
            f"this fxcheck reads versions {', '.join(map(str, READS))}"
        )
    try:
        if version >= 2 and "ranks" in doc:
            ranks = doc["ranks"]
            if not isinstance(ranks, list) or not ranks:
                raise ValueError("\"ranks\" is not a list of ranks")
            for i, r in enumerate(ranks):
                _check(r, _RANK, f"ranks[{i}]")
                if "missing" not in r:
                    _check_body(r, f"ranks[{i}]", small_numbers)
            return Ranked({int(r["rank"]): None if "missing" in r else _trace(r) for r in ranks})
        _check_body(doc, "", small_numbers)
        return _trace(doc)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise TraceFormatError(f"{path} is a damaged fxcheck trace ({exc})") from None


# What a trace holds, field by field: anything else is a damaged trace, told in one line.
_DEPTH, _NUMBER = 24, 10**15  # nesting and magnitude no trace fxcheck writes comes near
_DIGITS = str.maketrans(dict.fromkeys("0123456789", "0"))
_LONG_NUMBER = "0" * len(str(_NUMBER))  # digits in a row: where the text has none, every whole number is in range


def _compiled(fields: dict[str, Any]) -> dict[str, tuple[frozenset[type], ev.Of | None]]:
    """A field's types as the exact types a JSON value may have (so a bool is never a number), and the
    list or object of items it may be: one set lookup a value, as a long trace has millions."""
    out = {}
    for name, types in fields.items():
        parts = types if isinstance(types, tuple) else (types,)
        out[name] = (frozenset(t for t in parts if isinstance(t, type)), next((t for t in parts if isinstance(t, ev.Of)), None))
    return out


_EVENT = _compiled({"seq": int, "kind": str, "obj": ev.NAME, "file": ev.NAME, "line": (int, type(None)),
                    "function": ev.NAME, "data": (dict, type(None))})
_OBJECT = _compiled({"key": str, "type": str, "cls": str, "file": ev.NAME, "line": (int, type(None)),
                     "function": ev.NAME, "attrs": (dict, type(None))})
_RANK = _compiled({"rank": int})
_REQUIRED = {"seq", "kind", "key", "type", "cls", "rank"}
_DATA = {kind: _compiled(fields) for kind, fields in ev.DATA.items()}
_ATTRS = {type_: _compiled(fields) for type_, fields in ev.ATTRS.items()}
_META = _compiled(ev.META)


def _check(value: Any, fields: dict[str, tuple[frozenset[type], ev.Of | None]], where_: str) -> None:
    if type(value) is not dict:
        raise TypeError(f"{where_} is {_shown(value)}, not an object")
    for name, (types, _) in fields.items():
        v = value.get(name)
        if (name in value or name in _REQUIRED) and (type(v) not in types or (type(v) is int and not -_NUMBER <= v <= _NUMBER)):
            raise TypeError(f"{where_}.{name} is {_shown(v)}")


def _shown(v: Any) -> str:
    text = json.dumps(v)[:40] if isinstance(v, (str, int, float, bool, type(None))) else _NAMES.get(type(v), ("a " + type(v).__name__,))[0]
    return "missing" if v is None else text


def _check_body(doc: dict[str, Any], prefix: str, small_numbers: bool = False) -> None:
    """A trace's meta, objects and events are what fxcheck writes. `small_numbers`: the text has no run of
    digits long enough to be a number out of range, so an event shaped like one checked before needs only
    its lists and objects checked."""
    if not isinstance(doc.get("meta"), dict):  # every trace fxcheck writes says what ran and how it ended
        raise TypeError(f"{prefix}{'.' if prefix else ''}meta is {_shown(doc.get('meta'))}, not an object")
    for name, kind in (("objects", list), ("events", list)):
        if doc.get(name) is not None and not isinstance(doc[name], kind):
            raise TypeError(f"{prefix}{'.' if prefix else ''}{name} is a {type(doc[name]).__name__}, not a "
                            f"{kind.__name__}")
    for i, o in enumerate(doc.get("objects") or []):
        _check(o, _OBJECT, f"{prefix}objects[{i}]")
        if o["type"] not in _ATTRS:
            raise ValueError(f"{prefix}objects[{i}].type {_shown(o['type'])} is not a type of object fxcheck tracks")
        _check_fields(o.get("attrs"), _ATTRS[o["type"]], f"{prefix}objects[{i}].attrs")
    last = -1
    shapes: dict[tuple[Any, ...], tuple[tuple[str, ev.Of | None], ...]] = {}  # -> the lists and objects in its data
    for i, e in enumerate(doc.get("events") or []):
        where_ = f"{prefix}events[{i}]"
        shape = _shape(e) if small_numbers else None
        nested = shapes.get(shape) if shape is not None else None
        if nested is None:
            _check_event(e, where_)
            if shape is not None:
                shapes[shape] = _containers(e["data"], _DATA[e["kind"]])
        else:  # shaped as an event checked before: only its lists and objects can hold anything new
            data = e["data"]
            for name, flat in nested:
                v = data[name]
                if v and (flat is None or not flat.holds(v)):  # named precisely, or walked for its depth
                    _check_fields({name: v}, _DATA[e["kind"]], f"{where_}.data")
                    _check_values({name: v}, f"{where_}.data", 0)
        if e["seq"] <= last:  # the loop model is replayed in this order: it is the order things happened in
            raise ValueError(f"{where_}.seq {e['seq']} is not after the seq before it ({last})")
        last = e["seq"]
    _check_fields(doc.get("meta"), _META, f"{prefix}meta")
    _check_values(doc.get("meta"), f"{prefix}meta", 0)


def _shape(e: Any) -> tuple[Any, ...] | None:
    """An event's keys and the types of its values and its data's: a long trace has a few shapes of event,
    and each is checked whole once (None: not an event with data, checked whole)."""
    if type(e) is not dict or type(e.get("kind")) is not str or type(data := e.get("data")) is not dict:
        return None
    return tuple(e), tuple(map(type, e.values())), e["kind"], tuple(data), tuple(map(type, data.values()))


def _containers(data: dict[str, Any], fields: dict[str, tuple[frozenset[type], ev.Of | None]]
                ) -> tuple[tuple[str, ev.Of | None], ...]:
    """The lists and objects in a data dict, each with the schema that holds for it when its items are all
    of plain types (nothing nested to walk), else None."""
    out = []
    for name, v in data.items():
        if type(v) is dict or type(v) is list:
            types, of = fields.get(name, (frozenset(), None))
            flat = of is not None and type(v) not in types and not of.items & {dict, list}
            out.append((name, of if flat else None))
    return tuple(out)


def _check_event(e: Any, where_: str) -> None:
    _check(e, _EVENT, where_)
    fields = _DATA.get(e["kind"])
    if fields is None:
        raise ValueError(f"{where_}.kind {_shown(e['kind'])} is not a kind of event fxcheck writes")
    if e.get("data"):
        _check_fields(e["data"], fields, f"{where_}.data")
        _check_values(e["data"], f"{where_}.data", 0)


def _check_fields(values: dict[str, Any] | None, fields: dict[str, tuple[frozenset[type], ev.Of | None]],
                  where_: str) -> None:
    """The fields fxcheck reads are of the types it writes (events.DATA): a count written as text would
    otherwise give a verdict on something that never ran."""
    for name, value in (values or {}).items():
        spec = fields.get(name)
        if spec is None or type(value) in spec[0]:
            continue
        types, of = spec
        if of is not None and of.holds(value):
            continue
        expected = " or ".join(dict.fromkeys([*([_type_name(of)] if of else []), *([_type_name(tuple(types))] if types else [])]))
        if of is not None and type(value) is of.container:  # name the item that is not what it should be
            items = value.items() if of.container is dict else enumerate(value)
            at, item = next((k, v) for k, v in items if type(v) not in of.items)
            raise TypeError(f"{where_}.{name}{f'.{at}' if of.container is dict else f'[{at}]'} is "
                            f"{_shown(item)}, not {_type_name(tuple(of.items))}")
        raise TypeError(f"{where_}.{name} is {_shown(value)}, not {expected}")


def _type_name(types: Any, plural: bool = False) -> str:
    if isinstance(types, ev.Of):
        return f"{'a list' if types.container is list else 'an object'} of {_type_name(tuple(types.items), plural=True)}"
    parts = tuple(sorted(types, key=list(_NAMES).index))
    if float in parts:
        parts = tuple(t for t in parts if t is not int)
    return " or ".join(_NAMES[t][plural] for t in parts)


_NAMES = {bool: ("true or false", "true/false values"), int: ("a whole number", "whole numbers"),
          float: ("a number", "numbers"), str: ("text", "texts"), dict: ("an object", "objects"),
          list: ("a list", "lists"), type(None): ("null", "nulls")}


def _check_values(value: Any, where_: str, depth: int) -> None:
    """Nesting and number sizes of a value: checked fast, and walked again naming the place only when
    something is wrong."""
    if not _fine(value, depth):
        _name_the_damage(value, where_, depth)


def _fine(value: Any, depth: int) -> bool:
    stack = [(value, depth)]
    while stack:
        v, d = stack.pop()
        kind = type(v)
        if kind is dict or kind is list:
            if v and d >= _DEPTH:  # its items would lie deeper than any trace fxcheck writes
                return False
            stack.extend((x, d + 1) for x in (v.values() if kind is dict else v) if type(x) in _WALKED)
        elif kind is int and (v > _NUMBER or v < -_NUMBER):
            return False
    return True


_WALKED = (dict, list, int)


def _name_the_damage(value: Any, where_: str, depth: int) -> None:
    if depth > _DEPTH:
        raise ValueError(f"{where_} is nested more than {_DEPTH} levels deep")
    if isinstance(value, dict):
        for k, v in value.items():
            _name_the_damage(v, f"{where_}.{k}", depth + 1)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _name_the_damage(v, f"{where_}[{i}]", depth + 1)
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > _NUMBER:
        raise ValueError(f"{where_} is a number of {len(str(abs(value)))} digits")


def _trace(doc: dict[str, Any]) -> Trace:
    sites: dict[tuple[Any, Any, Any], Site] = {}  # a long run's events happen at a few dozen places
    events = []
    for e in doc.get("events") or []:
        where_ = (e.get("file"), e.get("line"), e.get("function"))
        site = sites.get(where_)
        if site is None:
            site = sites[where_] = Site(*where_)
        events.append(Event(e["seq"], e["kind"], site, e.get("obj"), e.get("data") or {}))  # the parsed data, not a copy
    return Trace(
        meta=dict(doc.get("meta") or {}),
        objects=[TrackedObject.from_json(o) for o in doc.get("objects") or []],
        events=events,
    )


# -- building ---------------------------------------------------------------------------------

def _referenced(events: list[Event]) -> list[str]:
    """Keys of the objects the events involve, in the order of their first use."""
    keys: dict[Any, None] = {}
    for e in events:
        keys[e.obj] = None
        data = e.data
        if data:  # most events name only their own object
            keys[data.get("optimizer")] = None
            keys.update(dict.fromkeys(data.get("optimizers") or ()))
            for name in ("touched", "cleared"):
                if type(data.get(name)) is dict:
                    keys.update(dict.fromkeys(data[name]))
    return [k for k in keys if isinstance(k, str) and "#" in k]


def step_boundary(e: dict[str, Any]) -> str | None:
    """The optimizer whose cycle this event ends, if any (see fxcheck.loop.is_step)."""
    return is_step(e["kind"], e["obj"], e["data"])


HAND = "hand-update"  # the step counter of a model updated by hand (no optimizer)


def build(trace: Trace) -> nx.DiGraph:
    """The graph of a trace, with every event's coordinates and the loop model replayed from it."""
    with gc_paused():
        return _build(trace)


def _build(trace: Trace) -> nx.DiGraph:
    g = nx.DiGraph(meta=trace.meta)
    for o in trace.objects:
        g.add_node(o.key, node="object", type=o.type, cls=o.cls, file=o.site.file, line=o.site.line,
                   function=o.site.function, attrs=o.attrs)
    for key in _referenced(trace.events):
        if key not in g:  # used but never seen created: known by its key alone
            g.add_node(key, node="object", type=key.split("#")[0], cls="?", file=None, line=None, function=None,
                       attrs={})
    model = loop.replay(trace.events)  # the loop model the cut acted on, rebuilt from the same events
    g.graph["loop"] = model
    starts = {epoch.seq: epoch.index for epoch in model.epochs}
    ordered: list[dict[str, Any]] = []
    primary_opt = next((e.obj for e in trace.events if e.kind == ev.OPTIMIZER_STEP), None)
    if primary_opt is None and any(e.kind == ev.HAND_UPDATE for e in trace.events):
        primary_opt = HAND  # a model updated by hand: its updates number the steps
    # events before the first epoch are epoch 0; a loop without epochs numbers none
    epoch = None if not model.epochs else 0 if model.epochs[0].seq > 0 else 1
    batch: int | None = None
    steps_done: dict[str, int] = {}
    boundaries: list[str | None] = []  # the optimizer each event ends the cycle of (step_boundary)
    for e in trace.events:
        seq, kind, obj, data, site = e.seq, e.kind, e.obj, e.data, e.site
        if seq in starts:
            epoch, batch = starts[seq], None
        if kind == ev.LOADER_BATCH:
            p = model.latest_pass_of(obj, seq)
            if p is not None and p.role == loop.TRAIN:
                batch = data.get("index")
        about = data.get("optimizer") or (obj if obj and obj.startswith(ev.OPTIMIZER) else None) or primary_opt
        attrs = {
            "node": "event", "seq": seq, "kind": kind, "obj": obj, "data": data,
            "file": site.file, "line": site.line, "function": site.function,
            "epoch": epoch, "batch": batch, "step": steps_done.get(about, 0) + 1 if about else None,
        }
        if kind == ev.LOADER_PASS:
            p = model.pass_at(seq)
            attrs["role"] = p.role if p is not None else None
        ordered.append(attrs)
        boundary = is_step(kind, obj, data)
        boundaries.append(boundary)
        ended = boundary or (HAND if kind == ev.HAND_UPDATE else None)
        if ended:
            steps_done[ended] = steps_done.get(ended, 0) + 1
    g.graph["events"] = ordered
    g.graph["_memo"] = {"boundaries": boundaries}
    g.graph["phases"] = model.phases(ordered)
    for phase in g.graph["phases"]:
        if phase.loader_pass is not None:
            phase.loader_pass_event = ordered[phase.loader_pass.seq]
        for f in phase.forwards:
            f["phase"] = phase.kind
    for e in ordered:
        if e["kind"] == ev.MODEL_FORWARD and "phase" not in e:
            e["phase"] = loop.TRAIN
    return g


# -- shared queries ---------------------------------------------------------------------------

def events(g: nx.DiGraph, *kinds: str) -> list[dict[str, Any]]:
    """Event attribute dicts in happens-before order, optionally of the given kinds."""
    ordered = g.graph["events"]
    if not kinds:
        return ordered
    by_kind = memo(g, "by_kind", lambda: _by_kind(ordered))
    if len(kinds) == 1:
        return list(by_kind.get(kinds[0], ()))
    return [e for e in ordered if e["kind"] in kinds]


def _by_kind(ordered: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    index: dict[str, list[dict[str, Any]]] = {}
    for e in ordered:
        index.setdefault(e["kind"], []).append(e)
    return index


def memo(g: nx.DiGraph, name: Hashable, compute: Callable[[], Any]) -> Any:
    """A query's answer computed once per built graph (a graph is not changed once built): the rules ask
    for the same cycles many times, and a long run has hundreds of thousands of events. The answer is
    shared: read it, never change it."""
    answers = g.graph.setdefault("_memo", {})
    if name not in answers:
        answers[name] = compute()
    return answers[name]


def _boundaries(g: nx.DiGraph) -> list[str | None]:
    """The optimizer each event ends the cycle of (step_boundary), event by event."""
    return memo(g, "boundaries", lambda: [step_boundary(e) for e in g.graph["events"]])


def objects(g: nx.DiGraph, type_: str) -> list[dict[str, Any]]:
    return [dict(attrs, key=n) for n, attrs in g.nodes(data=True) if attrs.get("node") == "object"
            and attrs.get("type") == type_]


def enabled_scalers(g: nx.DiGraph) -> list[str]:
    return [o["key"] for o in objects(g, ev.SCALER) if o["attrs"].get("enabled")]


@dataclass
class Cycle:
    """The work of one optimizer between two of its steps."""

    optimizer: str
    index: int  # 1-based step number this cycle ends with
    events: list[dict[str, Any]]  # from after the previous step to the step (inclusive)
    end: dict[str, Any] | None  # the event that ended the cycle; None for the trailing, unfinished one
    _touching: dict[str, list[dict[str, Any]]] | None = field(default=None, repr=False, compare=False)

    @property
    def step_event(self) -> dict[str, Any] | None:
        """The real optimizer.step of this cycle (None if the scaler skipped it)."""
        return next((e for e in self.events if e["kind"] == ev.OPTIMIZER_STEP and e["obj"] == self.optimizer), None)

    def touching(self, kind: str) -> list[dict[str, Any]]:
        """Events of a kind that touched this optimizer's gradients (backward, clip, clear)."""
        if self._touching is None:  # asked for several kinds by several rules: sorted out once
            self._touching = {}
            for e in self.events:
                if involves(e, self.optimizer):
                    self._touching.setdefault(e["kind"], []).append(e)
        return list(self._touching.get(kind, ()))


def involves(e: dict[str, Any], opt: str) -> bool:
    data = e["data"]
    if e["obj"] == opt or data.get("optimizer") == opt:
        return True
    if opt in (data.get("optimizers") or ()):
        return True
    return bool((data.get("touched") or {}).get(opt)) or bool((data.get("cleared") or {}).get(opt))


def cycles(g: nx.DiGraph, opt: str) -> list[Cycle]:
    """The optimizer's cycles in order; the last one is unfinished if the run went on after its last step."""
    return list(memo(g, ("cycles", opt), lambda: _cycles(g, opt)))


def _cycles(g: nx.DiGraph, opt: str) -> list[Cycle]:
    found: list[Cycle] = []
    current: list[dict[str, Any]] = []
    for e, ended in zip(events(g), _boundaries(g)):
        current.append(e)
        if ended == opt:
            found.append(Cycle(opt, len(found) + 1, current, e))
            current = []
    if current:
        found.append(Cycle(opt, len(found) + 1, current, None))
    return found


def stepped_optimizers(g: nx.DiGraph) -> list[str]:
    """Optimizers that stepped (or had a step skipped by the scaler), in order of their first step."""
    return list(memo(g, "stepped", lambda: list(dict.fromkeys(k for k in _boundaries(g) if k))))


def unfed_optimizers(g: nx.DiGraph) -> dict[str, list[dict[str, Any]]]:
    """Optimizers that stepped at least twice without a gradient ever reaching their parameters, where that is
    the whole story (FX208's case): all of them frozen, or backward passes ran and reached none of them. An
    optimizer stepped in a run with no backward at all is missing its backward (FX102's case)."""
    steps: dict[str, list[dict[str, Any]]] = {}
    for e in events(g, ev.OPTIMIZER_STEP):
        steps.setdefault(e["obj"], []).append(e)
    backward = any(True for _ in events(g, ev.BACKWARD))
    return {key: ss for key, ss in steps.items()
            if len(ss) >= 2 and not any(s["data"].get("fresh") or s["data"].get("cleared_before_step") for s in ss)
            and (backward or not ss[-1]["data"].get("trainable"))}


def loop_model(g: nx.DiGraph) -> loop.LoopModel:
    return g.graph["loop"]


def training_passes(g: nx.DiGraph) -> list[dict[str, Any]]:
    """Loader passes that trained, in order."""
    return [e for e in events(g, ev.LOADER_PASS) if e.get("role") == loop.TRAIN]


def evaluation_phases(g: nx.DiGraph) -> list[loop.Phase]:
    return [p for p in g.graph["phases"] if p.kind == loop.EVAL]


def accumulation(g: nx.DiGraph, loader_pass: dict[str, Any]) -> int | None:
    """Backwards per optimizer step of the pass's loader, as the loop model learnt it."""
    return loop_model(g).accumulation_of(loader_pass["obj"])


def observed(g: nx.DiGraph) -> dict[str, Any]:
    """The run's size as the report states it."""
    model = loop_model(g)
    passes = training_passes(g)
    steps = len(events(g, ev.OPTIMIZER_STEP))
    cycles = model.steps
    batches = [int(e["data"].get("batches") or 0) for e in passes]
    limit = (g.graph["meta"].get("limits") or {}).get("epochs")
    begun = model.epochs_begun() if model.epochs else (1 if cycles else 0)
    return {
        # whole epochs: past the limit, the last one ran only to its first step (to see the boundary)
        "epochs": min(begun, limit) if isinstance(limit, int) else begun,
        "epochs_begun": begun,
        "epochs_by": model.epoch_by,
        "train_batches": sum(batches),
        "optimizer_steps": steps,
        "hand_updates": len(events(g, ev.HAND_UPDATE)),
        "optimizer_cycles": cycles,
        "evaluation_phases": len(evaluation_phases(g)),
        "backwards": len(events(g, ev.BACKWARD)),
        "clip_calls": len(events(g, ev.CLIP)),
        "events": len(events(g)),
        "structure": _structure(g, passes, batches, steps),
    }


def _structure(g: nx.DiGraph, passes: list[dict[str, Any]], batches: list[int], steps: int) -> str:
    """E.g. "2 epochs x 12 batches, 8 optimizer steps, accumulation 3 (last cycle of each epoch partial: 2)"."""
    hand = len(events(g, ev.HAND_UPDATE))
    if hand:
        steps_text = f"{hand} updates by hand" + (f" and {steps} optimizer steps" if steps else " (no optimizer)")
    else:
        steps_text = f"{steps} optimizer steps"
    if not passes:
        return f"{steps_text} (a loop without a training DataLoader)"
    sizes = sorted(set(batches))
    per_epoch = f"{sizes[0]}" if len(sizes) == 1 else "/".join(str(b) for b in batches)
    text = f"{len(passes)} epoch(s) x {per_epoch} batches, {steps_text}"
    k = next((accumulation(g, p) for p in passes if accumulation(g, p)), None)
    if k and k > 1:
        partial = sorted({b % k for b in batches} - {0})
        text += f", accumulation {k}"
        text += f" (last cycle of each epoch partial: {'/'.join(map(str, partial))})" if partial else " (no partial cycle)"
    return text


def where(e: dict[str, Any] | None) -> str:
    if not e or not e.get("file"):
        return "<unknown>"
    return f"{e['file']}:{e['line']}"

