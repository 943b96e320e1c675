"""FX3xx: model modes in training and evaluation, and BatchNorm statistics (judged from module state)."""

from __future__ import annotations

from typing import Any

import networkx as nx

from fxcheck import events as ev
from fxcheck.graph import events, where
from fxcheck.rules import Check, Occurrences, Rule, rule

RUNNING_STATS = ("BatchNorm", "InstanceNorm", "SyncBatchNorm", "LazyBatchNorm")


def eval_passes(g: nx.DiGraph) -> list[dict[str, Any]]:
    """Loader passes with no backward during them (validation, test), that yielded batches."""
    return [e for e in events(g, ev.LOADER_PASS)
            if not e["data"].get("training") and e["data"].get("batches") and "models_end" in e["data"]]


def _mode_models(e: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in (e["data"].get("models_start") or {}).items() if v.get("mode_layers")}


@rule(
    id="FX301", name="train-step-in-eval-mode", severity="error",
    summary="an optimizer step updated a model left in eval mode",
    what="""
At every optimizer step, checks the mode of the models whose parameters it updates: a model with
mode-dependent layers (dropout, batch norm) in eval mode means `model.eval()` from a validation pass
was not reverted with `model.train()`.""",
    why="""
The model then trains without dropout and with frozen BatchNorm statistics: it overfits sooner and
its normalization never adapts, while everything runs without an error.""",
    example="""
for epoch in range(epochs):
    train_one_epoch(model, loader)       # no model.train() inside
    model.eval()
    validate(model, val_loader)""",
    instead="""
for epoch in range(epochs):
    model.train()
    train_one_epoch(model, loader)
    model.eval()
    validate(model, val_loader)""",
    limits="""
Judged from the root module's mode: a submodule put in eval mode on purpose (frozen BatchNorm while
fine-tuning) is allowed. Models are known once they switch mode or appear in a loop's frame.""",
    hint="call model.train() at the start of every training epoch",
)
def train_step_in_eval_mode(g: nx.DiGraph, r: Rule) -> Check:
    hits = Occurrences(r)
    steps = events(g, ev.OPTIMIZER_STEP)
    for s in steps:
        for model in s["data"].get("eval_mode_models") or ():
            switch = next((e for e in reversed(events(g, ev.MODULE_MODE)) if e["obj"] == model and e["seq"] < s["seq"]
                           and not e["data"].get("training")), None)
            since = f" (switched by eval() at {where(switch)} and not switched back)" if switch else ""
            hits.add(f"{s['obj']}.step() at {where(s)} updated {model} while it was in eval mode{since}", s)
    found = hits.findings()
    evidence = (f"{len(steps)}/{len(steps)} optimizer steps updated models in training mode" if not found
                else f"{len(found)} step site(s) train a model in eval mode")
    return r.result(found, evidence if steps else "no optimizer step observed", applicable=bool(steps))


def train_mode_in_evaluation(p: dict[str, Any]) -> list[tuple[str, dict[str, Any], str]]:
    """Models an evaluation pass ran in training mode: (model, its mode facts, when it was seen).

    Read at the pass's start and at its end (a helper called inside the loop, such as MC dropout
    calling model.train() per batch, shows at the end). Dropout alone in training mode inside an
    eval-mode model is Monte-Carlo dropout and is allowed."""
    end = p["data"].get("models_end") or {}
    found = []
    for model, facts in _mode_models(p).items():
        for when, seen in (("", facts), (" (switched inside the loop)", end.get(model))):
            if not seen or not seen.get("mode_layers"):
                continue
            stats_layers = [t for t in seen["train_mode"] if t.startswith(RUNNING_STATS)]
            if seen["training"] or stats_layers:
                found.append((model, seen, when))
                break
    return found


@rule(
    id="FX302", name="eval-in-train-mode", severity="error",
    summary="an evaluation phase ran with mode-dependent layers in training mode",
    what="""
For each evaluation pass (a loader pass with no backward), reads the mode of the models its loop
holds at the pass's start and end: a model left in training mode, or BatchNorm layers switched back to training mode (a
Monte-Carlo-dropout helper that calls `model.train()`), is flagged. Dropout alone in training mode
inside an eval-mode model is Monte-Carlo dropout and is allowed.""",
    why="""
Validation in training mode applies dropout (noisy, pessimistic metrics) and normalizes with batch
statistics instead of running ones, so the numbers used for model selection are wrong.""",
    example="""
def validate(model, loader):
    with torch.no_grad():                # model.eval() missing
        for x, y in loader:
            ...""",
    instead="""
def validate(model, loader):
    model.eval()
    with torch.no_grad():
        for x, y in loader:
            ...""",
    limits="""
Only loops over a DataLoader are seen as evaluation phases; the model must be held by the loop's
frame (a local, or an attribute of `self`).""",
    hint="call model.eval() before evaluating (and enable only Dropout layers for MC dropout)",
)
def eval_in_train_mode(g: nx.DiGraph, r: Rule) -> Check:
    hits = Occurrences(r)
    passes = eval_passes(g)
    for p in passes:
        for model, seen, when in train_mode_in_evaluation(p):
            layers = ", ".join(f"{t} x{n}" for t, n in seen["train_mode"].items())
            hits.add(f"the evaluation loop at {where(p)} ran {model} with layers in training mode ({layers}){when}", p)
    found = hits.findings()
    evidence = (f"{len(passes)}/{len(passes)} evaluation passes ran their models in eval mode" if not found
                else f"{len(found)} evaluation loop(s) run in training mode")
    applicable = any(_mode_models(p) for p in passes)
    return r.result(found, evidence if applicable else "no evaluation pass over a model with mode-dependent layers",
                    applicable=applicable)


@rule(
    id="FX303", name="bn-stats-updated-in-eval", severity="error",
    summary="BatchNorm running statistics changed during an evaluation phase",
    what="""
Compares each BatchNorm layer's statistics counter (`num_batches_tracked`, written with every
running-statistics update) at the start and end of every evaluation pass.""",
    why="""
Validation batches then leak into the running mean and variance the model uses at inference:
the model silently changes by being evaluated, and validation results depend on how often it ran.""",
    example="""
model.train()                            # or a helper that re-enables BatchNorm
with torch.no_grad():
    for x, y in val_loader:
        model(x)""",
    instead="""
model.eval()
with torch.no_grad():
    for x, y in val_loader:
        model(x)""",
    limits="""
BatchNorm layers created with track_running_stats=False keep no statistics and are not checked.""",
    hint="evaluate with model.eval() (BatchNorm then uses, and keeps, its running statistics)",
)
def bn_stats_updated_in_eval(g: nx.DiGraph, r: Rule) -> Check:
    hits = Occurrences(r)
    checked = 0
    for p in eval_passes(g):
        start, end = p["data"].get("models_start") or {}, p["data"].get("models_end") or {}
        for model, facts in start.items():
            if model not in end or not facts.get("mode_layers"):
                continue
            checked += 1
            if end[model]["stats_version"] != facts["stats_version"]:
                hits.add(f"{model}'s BatchNorm running statistics were updated during the evaluation loop at {where(p)}", p)
    found = hits.findings()
    evidence = (f"BatchNorm statistics unchanged in {checked}/{checked} model evaluation passes" if not found
                else f"{len(found)} evaluation loop(s) update BatchNorm statistics")
    return r.result(found, evidence if checked else "no evaluation pass over a model with normalization layers",
                    applicable=checked > 0)


@rule(
    id="FX304", name="eval-with-autograd", severity="warning",
    summary="evaluation forwards were recorded by autograd (no no_grad / inference_mode)",
    what="""
At the end of every evaluation pass, looks at the tensors its loop holds: outputs or losses with a
`grad_fn` mean the evaluation forwards were recorded by autograd.""",
    why="""
Recording evaluation forwards keeps every activation alive for a backward that never comes: memory
use and time grow for nothing, and large validation batches run out of memory.""",
    example="""
model.eval()
for x, y in val_loader:
    loss = criterion(model(x), y)        # recorded by autograd""",
    instead="""
model.eval()
with torch.inference_mode():
    for x, y in val_loader:
        loss = criterion(model(x), y)""",
    limits="""
Only tensors left in the loop's frame at its end are read.""",
    hint="wrap evaluation in torch.no_grad() or torch.inference_mode()",
)
def eval_with_autograd(g: nx.DiGraph, r: Rule) -> Check:
    hits = Occurrences(r)
    passes = eval_passes(g)
    for p in passes:
        recorded = p["data"].get("recorded") or []
        if recorded and _mode_models(p) is not None and p["data"].get("models_start"):
            hits.add(f"the evaluation loop at {where(p)} left autograd-recorded tensors ({', '.join(recorded[:4])}): "
                     f"its forwards built graphs for a backward that never runs", p)
    found = hits.findings()
    evidence = (f"{len(passes)}/{len(passes)} evaluation passes ran without autograd" if not found
                else f"{len(found)} evaluation loop(s) record autograd graphs")
    return r.result(found, evidence if passes else "no evaluation pass observed", applicable=bool(passes))


def layer_inventory(layers: list[dict[str, Any]]) -> str:
    """"LayerNorm ×24 (no running stats, training)" for each normalization/dropout layer type a graph ran."""
    parts = []
    for layer in layers:
        if layer["kind"] == "norm":
            stats = "keeps running stats" if layer["running_stats"] else "no running stats"
            if layer["training"] is None:  # LayerNorm, GroupNorm, RMSNorm: the same in both modes
                mode = "same in both modes"
            else:
                mode = "train mode" if layer["training"] else "eval mode"
            if layer["training"] and layer["running_stats"]:
                mode += ", updates them"
            parts.append(f"{layer['type']} ×{layer['count']} ({stats}; {mode})")
        else:
            parts.append(f"{layer['type']} ×{layer['count']} ({'active' if layer['training'] else 'off'})")
    return ", ".join(parts)


@rule(
    id="FX305", name="normalization-inventory", severity="info",
    summary="which normalization layers actually ran, which keep running statistics and in which mode",
    what="""
Reads the TorchDynamo graph of the trained model's first forward in training and in evaluation and
lists each normalization layer type that ran (and dropout): how many, whether it keeps running
statistics, and whether it ran in training or eval mode. Informational: it never fails.""",
    why="""
"No BatchNorm in the model (checked with grep)" is a claim; the layers that actually executed, in the
mode they executed, are evidence. A BatchNorm hidden in a library block, or a LayerNorm-only model
that makes the mode rules moot, shows up here.""",
    example="""
with torch.no_grad():
    for x, y in val_loader:                  # what normalization ran here, and how?
        model(x)""",
    instead="""
model.eval()
with torch.no_grad():
    for x, y in val_loader:                  # inventory: BatchNorm2d ×2 (running stats, eval)
        model(x)""",
    limits="""
Needs the graph capture (not with --no-graph). A forward Dynamo cannot trace falls back to module
state, which knows the layers a model holds but not which of them ran.""",
    hint="read the inventory: it names the normalization layers that ran in each phase",
)
def normalization_inventory(g: nx.DiGraph, r: Rule) -> Check:
    parts = []
    for e in events(g, ev.MODEL_GRAPH):
        d = e["data"]
        who = e["obj"] if d.get("source") == "fxcheck" else f"graph compiled by the script ({d.get('backend')})"
        if not d.get("graphs"):
            parts.append(f"{d.get('phase')} ({who}): no graph ({d.get('note')})")
            continue
        layers = d.get("layers") or []
        shown = layer_inventory(layers) or "no normalization or dropout layer"
        if not any(x["running_stats"] for x in layers if x["kind"] == "norm"):
            shown += "; BatchNorm/InstanceNorm with running stats ×0"
        parts.append(f"{d.get('phase')} ({who} at {where(e)}): {shown}")
    if not parts:
        return r.result([], "no model graph captured (--no-graph, or no forward of a trained model seen)", applicable=False)
    return r.result([], "; ".join(parts))
