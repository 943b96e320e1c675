"""Reporters: one module per format. Only reporters write output."""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from fxcheck import events as ev
from fxcheck import loop
from fxcheck.graph import evaluation_phases, events, loop_model, observed, where
from fxcheck.rules import FAIL, Check, Finding


# The report's sections: what an audit of a training loop asks, in its order.
SECTIONS: list[tuple[str, tuple[str, ...]]] = [
    ("Order of operations within a cycle", ("FX102", "FX103", "FX104", "FX105", "FX106", "FX107", "FX108", "FX109")),
    ("Resets each batch/cycle", ("FX101",)),
    ("Persists across batches", ("FX202", "FX205")),
    ("Persists across epochs", ("FX201", "FX203", "FX204")),
    ("Resets each epoch", ("FX206", "FX207")),
    ("Model modes and normalization", ("FX301", "FX302", "FX303", "FX304", "FX305")),
    ("Gradient accumulation", ("FX401", "FX402", "FX403")),
    ("Checkpoints", ("FX601",)),
]


def sections(checks: list[Check]) -> list[tuple[str, list[Check]]]:
    """Checks grouped by report section; a rule in no section goes under its catalog category."""
    placed = {rule_id: title for title, ids in SECTIONS for rule_id in ids}
    grouped: dict[str, list[Check]] = {title: [] for title, _ in SECTIONS}
    for c in checks:
        grouped.setdefault(placed.get(c.rule.id, c.rule.category), []).append(c)
    return [(title, cs) for title, cs in grouped.items() if cs]


@dataclass
class Report:
    """Everything a reporter needs: the run's facts and the rules' verdicts."""

    graph: nx.DiGraph
    checks: list[Check]

    @property
    def meta(self) -> dict:
        return self.graph.graph["meta"]

    @property
    def findings(self) -> list[Finding]:
        return [f for c in self.checks for f in c.findings]

    @property
    def observed(self) -> dict[str, int]:
        return observed(self.graph)

    @property
    def nothing_observed(self) -> bool:
        """No optimizer step ran: no rule had anything to judge, and the run is not clean (exit code 4)."""
        return not loop_model(self.graph).steps

    def count(self, severity: str) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.status == FAIL]


def _counted(counts: dict[str, int], limit: int = 8) -> str:
    items = sorted(counts.items(), key=lambda kv: -kv[1])
    shown = ", ".join(f"{name} ×{n}" for name, n in items[:limit])
    return shown + (f", … ({len(items) - limit} more)" if len(items) > limit else "")


def model_modes(g: nx.DiGraph) -> list[str]:
    """The "model mode" section: the mode at every optimizer step, in every evaluation phase, per forward."""
    from fxcheck.rules.modes import train_mode_in_evaluation

    lines = []
    steps = events(g, ev.OPTIMIZER_STEP)
    if steps:
        in_eval = sum(1 for s in steps if s["data"].get("eval_mode_models"))
        lines.append(f"optimizer steps: {len(steps) - in_eval}/{len(steps)} updated models in training mode"
                     + (f", {in_eval} updated a model left in eval mode" if in_eval else ""))
    phases = [p for p in evaluation_phases(g) if any(f["data"].get("mode_layers") for f in p.forwards)]
    if phases:
        wrong = sum(1 for p in phases if train_mode_in_evaluation(p))
        lines.append(f"evaluation phases: {len(phases) - wrong}/{len(phases)} ran their models in eval mode"
                     + (f", {wrong} with mode-dependent layers in training mode (FX302)" if wrong else ""))
    forwards: dict[str, dict[str, int]] = {}
    for e in events(g, ev.MODEL_FORWARD):
        d = e["data"]
        mode = "train mode" if d.get("training") else "eval mode"
        grad = "autograd on" if d.get("grad_enabled") else "no_grad"
        amp = f", autocast {d['autocast']}" if d.get("autocast") else ""
        label = f"{PHASE_NAMES.get(e.get('phase'), 'training')} ({mode}, {grad}{amp})"
        per = forwards.setdefault(e["obj"], {})
        per[label] = per.get(label, 0) + 1
    for model, counts in forwards.items():
        lines.append(f"forwards of {model}: " + "; ".join(f"{n} in {label}" for label, n in counts.items()))
    return lines


PHASE_NAMES = {loop.TRAIN: "training", loop.EVAL: "evaluation", loop.RECALIBRATION: "BatchNorm recalibration"}


def loop_lines(g: nx.DiGraph) -> list[str]:
    """The "loop" section: how fxcheck recognised the loop's passes, epochs and phases."""
    model = loop_model(g)
    lines = []
    roles: dict[str, int] = {}
    for p in model.passes:
        name = {loop.TRAIN: "training", loop.EVAL: "evaluation"}.get(p.role or "", "data (no forward of a trained model)")
        roles[name] = roles.get(name, 0) + 1
    if roles:
        lines.append("loader passes: " + ", ".join(f"{n} {name}" for name, n in roles.items()))
    for e in events(g, ev.FRAMEWORK):
        d = e["data"]
        set_ = ", ".join(f"{k}={v}" for k, v in (d.get("applied") or {}).items())
        kept = ", ".join(f"{k}={v}" for k, v in (d.get("kept") or {}).items())
        if d.get("leaves_loaders"):
            lines.append(f"framework: {d.get('framework')} {d.get('object', 'Trainer')} built at {where(e)}; the cut "
                         f"set as its own limits" + (f" ({set_})" if set_ else "")
                         + (f", the script's own kept ({kept})" if kept else "") + "; its loader passes are left to it")
        else:
            lines.append(f"framework: {d.get('framework')} {d.get('object', 'Trainer')} built at {where(e)}"
                         f" (gradient accumulation {d.get('accumulation')}" + (f"; set {set_}" if set_ else "")
                         + (f"; kept {kept}" if kept else "") + "); fxcheck cuts the loaders it prepares or builds"
                         " as the script's own")
    uncut = [e for e in events(g, ev.LOADER_PASS) if e["data"].get("uncut")]
    if uncut:
        lines.append(f"passes not cut: {len(uncut)}, first at {where(uncut[0])} ({uncut[0]['data']['uncut']})")
    lines.append(f"epochs: {len(model.epochs)} begun; boundary: {model.epoch_by}")
    by_kind: dict[str, list[loop.Phase]] = {}
    for phase in g.graph["phases"]:
        by_kind.setdefault(phase.kind, []).append(phase)
    for kind, phases in by_kind.items():
        over = sorted({f"a pass over {p.loader_pass.loader}" if p.loader_pass else "no DataLoader" for p in phases})
        lines.append(f"{PHASE_NAMES[kind]} phases: {len(phases)} ({sum(len(p.forwards) for p in phases)} forwards; "
                     f"{', '.join(over)}), first at {where(phases[0].first)}")
    return lines


def model_graphs(g: nx.DiGraph) -> list[str]:
    """The "model graph" section: what each captured graph ran, dtypes under autocast, capture notes."""
    from fxcheck.rules.modes import layer_inventory

    lines = []
    for e in events(g, ev.MODEL_GRAPH):
        d = e["data"]
        who = f"{e['obj']}'s forward" if d.get("source") == "fxcheck" else f"a graph compiled by the script ({d.get('backend')})"
        head = f"{d.get('phase')}: {who} at {where(e)}"
        if d.get("seconds") is not None:
            head += f", captured in {d['seconds']:.2f} s"
        if not d.get("graphs"):
            lines.append(f"{head}: {d.get('note')}")
            continue
        modules = _counted(d.get("modules") or {}) or "none below the model itself"
        lines.append(f"{head}: {d['graphs']} graph(s); modules {modules}")
        lines.append(f"  normalization/dropout: {layer_inventory(d.get('layers') or []) or 'none ran'}")
        dtypes = d.get("dtypes") or {}
        if d.get("autocast") or len(dtypes) > 1:
            label = f"under autocast {d['autocast']}" if d.get("autocast") else "dtypes"
            lines.append(f"  {label}: " + "; ".join(f"{dt}: {_counted(ops, 6)}" for dt, ops in dtypes.items()))
        if d.get("note"):
            lines.append(f"  note: {d['note']}" + (f" — {'; '.join(d['breaks'][:3])}" if d.get("breaks") else ""))
    meta_limits = g.graph["meta"].get("limits") or {}
    if meta_limits.get("graph") is False:
        lines.append("graph capture skipped (--no-graph): model facts come from module state only")
    elif not lines and events(g, ev.OPTIMIZER_STEP):
        lines.append("no graph captured: no forward of a model whose parameters an optimizer holds was seen")
    return lines
