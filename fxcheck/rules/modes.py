"""FX3xx: model modes in training and evaluation, and BatchNorm statistics (judged from module state)."""

from __future__ import annotations

from typing import Any

import networkx as nx

from fxcheck import events as ev
from fxcheck.graph import evaluation_phases, events, where
from fxcheck.loop import Phase
from fxcheck.rules import Check, Occurrences, Rule, rule

RUNNING_STATS = ("BatchNorm", "InstanceNorm", "SyncBatchNorm", "LazyBatchNorm")


def phase_site(phase: Phase) -> dict[str, Any]:
    """Where a finding about an evaluation phase points: its loop over a loader, else (no loader, or a
    framework's loop) its first forward, in the user's evaluation code or hook (validation_step)."""
    loop = phase.loader_pass_event
    return loop if loop is not None and not loop["data"].get("framework") else phase.first


def _by_model(phase: Phase) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for f in phase.forwards:
        out.setdefault(f["obj"], []).append(f)
    return out


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
Judged from the root module's mode: a submodule put in eval mode on purpose inside a model in
training mode (frozen BatchNorm, a frozen backbone while fine-tuning) is allowed. Models are known
once they switch mode or appear in a loop's frame; steps of models without mode-dependent layers
cannot show the problem and make the rule n/a.""",
    hint="call model.train() at the start of every training epoch",
)
def train_step_in_eval_mode(g: nx.DiGraph, r: Rule) -> Check:
    hits = Occurrences(r)
    # steps that updated a known model with mode-dependent layers (older traces: every step)
    steps = [s for s in events(g, ev.OPTIMIZER_STEP) if s["data"].get("modal_models", 1)]
    for s in steps:
        for model in s["data"].get("eval_mode_models") or ():
            switch = next((e for e in reversed(events(g, ev.MODULE_MODE)) if e["obj"] == model and e["seq"] < s["seq"]
                           and not e["data"].get("training")), None)
            since = f" (switched by eval() at {where(switch)} and not switched back)" if switch else ""
            hits.add(f"{s['obj']}.step() at {where(s)} updated {model} while it was in eval mode{since}", s)
    found = hits.findings()
    evidence = (f"{len(steps)}/{len(steps)} optimizer steps updated models in training mode" if not found
                else f"{len(found)} step site(s) train a model in eval mode")
    none = ("no optimizer step observed" if not events(g, ev.OPTIMIZER_STEP) else
            "no optimizer step updated a model with mode-dependent layers (dropout, batch norm with running statistics)")
    return r.result(found, evidence if steps else none, applicable=bool(steps))


def train_mode_in_evaluation(phase: Phase) -> list[tuple[str, dict[str, Any], str]]:
    """Models an evaluation phase ran in training mode: (model, the forward's facts, when it was seen).

    Every forward of the phase is read (a helper called inside the loop, such as MC dropout calling
    model.train() per batch, shows from its first such forward). Dropout alone in training mode inside
    an eval-mode model is Monte-Carlo dropout and is allowed."""
    found = []
    for model, forwards in _by_model(phase).items():
        for i, f in enumerate(forwards):
            d = f["data"]
            if not d.get("mode_layers"):
                continue
            layers = d.get("train_layers") or {}
            stats_layers = [t for t in layers if t.startswith(RUNNING_STATS)]
            if d.get("training") or stats_layers:
                found.append((model, f, "" if i == 0 else " (switched inside the loop)"))
                break
    return found


def _layers_text(f: dict[str, Any]) -> str:
    d = f["data"]
    if d.get("training"):
        return f"the model in training mode, {d.get('mode_layers')} mode-dependent layer(s)"
    return ", ".join(f"{t} x{n}" for t, n in (d.get("train_layers") or {}).items())


@rule(
    id="FX302", name="eval-in-train-mode", severity="error",
    summary="an evaluation phase ran with mode-dependent layers in training mode",
    what="""
For each evaluation phase (forwards of a trained model that no backward went through, over a
DataLoader, a tensor, a generator or nothing), reads the mode of the model at every forward: a model
left in training mode, or BatchNorm layers switched back to training mode (a Monte-Carlo-dropout
helper that calls `model.train()`), is flagged. Dropout alone in training mode inside an eval-mode
model is Monte-Carlo dropout and is allowed.""",
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
Forwards of the models an optimizer holds or the script updates by hand, and of their copies (an
EMA or SWA model), are seen. Normalization without running statistics (InstanceNorm by default,
BatchNorm with track_running_stats=False) and Dropout with p=0 behave the same in both modes and
are not mode-dependent. A BatchNorm recalibration
(statistics reset, then forwards in training mode, as `swa_utils.update_bn` does) is not evaluation.
A no_grad forward inside a training iteration of a loop without a DataLoader is taken as evaluation.""",
    hint="call model.eval() before evaluating (and enable only Dropout layers for MC dropout)",
)
def eval_in_train_mode(g: nx.DiGraph, r: Rule) -> Check:
    hits = Occurrences(r)
    phases = [p for p in evaluation_phases(g) if any(f["data"].get("mode_layers") for f in p.forwards)]
    for p in phases:
        for model, f, when in train_mode_in_evaluation(p):
            hits.add(f"the evaluation at {where(phase_site(p))} ran {model} with layers in training mode "
                     f"({_layers_text(f)}){when}", phase_site(p))
    found = hits.findings()
    forwards = sum(len(p.forwards) for p in phases)
    evidence = (f"{len(phases)}/{len(phases)} evaluation phases ({forwards} forwards) ran their models in eval mode"
                if not found else f"{len(found)} evaluation loop(s) run in training mode")
    return r.result(found, evidence if phases else "no evaluation phase over a model with mode-dependent layers",
                    applicable=bool(phases))


@rule(
    id="FX303", name="bn-stats-updated-in-eval", severity="error",
    summary="BatchNorm running statistics changed during an evaluation phase",
    what="""
Compares each BatchNorm layer's statistics counter (`num_batches_tracked`, written with every
running-statistics update) before the first and after the last forward of every evaluation phase.""",
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
BatchNorm layers created with track_running_stats=False keep no statistics and are not checked; a
model without such layers makes the rule n/a. A BatchNorm recalibration (statistics reset, then
forwards in training mode, as `swa_utils.update_bn` does) is not evaluation and is not checked.""",
    hint="evaluate with model.eval() (BatchNorm then uses, and keeps, its running statistics)",
)
def bn_stats_updated_in_eval(g: nx.DiGraph, r: Rule) -> Check:
    hits = Occurrences(r)
    checked = 0
    for p in evaluation_phases(g):
        for model, forwards in _by_model(p).items():
            before, after = forwards[0]["data"].get("stats_before"), forwards[-1]["data"].get("stats_after")
            if before is None or after is None:
                continue
            checked += 1
            if after != before:
                hits.add(f"{model}'s BatchNorm running statistics were updated during the evaluation at "
                         f"{where(phase_site(p))} ({len(forwards)} forwards)", phase_site(p))
    found = hits.findings()
    evidence = (f"BatchNorm statistics unchanged in {checked}/{checked} evaluation phases of models with BatchNorm"
                if not found else f"{len(found)} evaluation loop(s) update BatchNorm statistics")
    return r.result(found, evidence if checked else "no evaluation phase over a model whose BatchNorm keeps running "
                    "statistics", applicable=checked > 0)


@rule(
    id="FX304", name="eval-with-autograd", severity="warning",
    summary="evaluation forwards were recorded by autograd (no no_grad / inference_mode)",
    what="""
For every forward of an evaluation phase, records whether autograd recorded it (its output has a
`grad_fn`): evaluation forwards recorded by autograd are flagged.""",
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
A model whose parameters are all frozen records nothing and passes. Input-gradient methods
(saliency) that call backward count as training. In a loop without a DataLoader, a forward that no
backward went through inside a training iteration (a teacher run without no_grad) can be taken for
an evaluation.""",
    hint="wrap evaluation in torch.no_grad() or torch.inference_mode()",
)
def eval_with_autograd(g: nx.DiGraph, r: Rule) -> Check:
    hits = Occurrences(r)
    phases = evaluation_phases(g)
    for p in phases:
        recorded = [f for f in p.forwards if f["data"].get("recorded")]
        if recorded:
            hits.add(f"the evaluation at {where(phase_site(p))} ran {len(recorded)}/{len(p.forwards)} forwards with "
                     f"autograd recording them (first at {where(recorded[0])}): graphs built for a backward that "
                     f"never runs", phase_site(p))
    found = hits.findings()
    forwards = sum(len(p.forwards) for p in phases)
    evidence = (f"{len(phases)}/{len(phases)} evaluation phases ({forwards} forwards) ran without autograd"
                if not found else f"{len(found)} evaluation loop(s) record autograd graphs")
    return r.result(found, evidence if phases else "no evaluation phase observed", applicable=bool(phases))


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
Needs the graph capture (not with --no-graph). A forward Dynamo cannot trace has no inventory (the
entry says the capture failed; when every capture failed the rule is n/a); a partial capture (graph
breaks) names what it missed. Graphs the script compiles itself with torch.compile are listed too.""",
    hint="read the inventory: it names the normalization layers that ran in each phase",
)
def normalization_inventory(g: nx.DiGraph, r: Rule) -> Check:
    parts = []
    captured = 0
    for e in events(g, ev.MODEL_GRAPH):
        d = e["data"]
        who = e["obj"] if d.get("source") == "fxcheck" else f"graph compiled by the script ({d.get('backend')})"
        if not d.get("graphs"):
            parts.append(f"{d.get('phase')} ({who}): capture failed, no inventory ({d.get('note')})")
            continue
        captured += 1
        layers = d.get("layers") or []
        shown = layer_inventory(layers) or "no normalization or dropout layer"
        if not any(x["running_stats"] for x in layers if x["kind"] == "norm"):
            shown += "; BatchNorm/InstanceNorm with running stats ×0"
        if d.get("breaks"):
            shown += (f" — partial: {d['graphs']} graphs split at graph breaks ({'; '.join(map(str, d['breaks'][:2]))}); "
                      f"layers in code Dynamo ran eagerly between them are missing")
        parts.append(f"{d.get('phase')} ({who} at {where(e)}): {shown}")
    if not parts:
        return r.result([], "no model graph captured (--no-graph, or no forward of a trained model seen)", applicable=False)
    return r.result([], "; ".join(parts), applicable=captured > 0)


@rule(
    id="FX306", name="dropout-active-in-eval", severity="error",
    summary="an evaluation forward of a model in eval mode still runs dropout",
    what="""
Reads the TorchDynamo graph of the first evaluation forward of each trained model in eval mode and
flags a dropout the graph runs although the model was put in eval mode: a functional dropout called
with training=True inside a module (instead of `training=self.training`), or an attention kernel
(`scaled_dot_product_attention`) given dropout_p > 0. Dropout layers (nn.Dropout and its kin) switch
themselves off in eval mode; one switched back to training mode on purpose (MC dropout) is not
flagged. Reported at the evaluation forward's line; without a graph of such a forward the rule says
so.""",
    why="""
Evaluation then drops activations at random: validation loss and accuracy are noisy and lower than
the model's, checkpoints are picked by noise, and predictions differ from run to run. `model.eval()`
looks right and nothing fails. A transformers attention module that passed its dropout probability
to the kernel regardless of `self.training` did exactly this.""",
    example="""
class Attention(nn.Module):
    def forward(self, q, k, v):
        return F.scaled_dot_product_attention(q, k, v, dropout_p=self.p)   # also in eval()""",
    instead="""
class Attention(nn.Module):
    def forward(self, q, k, v):
        return F.scaled_dot_product_attention(q, k, v, dropout_p=self.p if self.training else 0.0)""",
    limits="""
Read from the graph Dynamo captured of the first evaluation forward of each model: code Dynamo ran
eagerly between graph breaks, later forwards that take another path, and a dropout probability that
is a tensor are not seen. MC dropout written as `F.dropout(x, p, training=True)` on purpose is
flagged; switch the Dropout modules to training mode instead.""",
    hint="pass training=self.training to F.dropout, and dropout_p only when self.training",
)
def dropout_active_in_eval(g: nx.DiGraph, r: Rule) -> Check:
    hits = Occurrences(r)
    read, untraced = [], []
    for e in events(g, ev.MODEL_GRAPH):
        d = e["data"]
        if d.get("source") != "fxcheck" or d.get("phase") != "eval" or d.get("training") is not False:
            continue
        if not d.get("graphs"):
            untraced.append(f"{e['obj']} at {where(e)}")
            continue
        read.append(e)
        active = d.get("active_dropout") or []
        if active:
            shown = "; ".join(f"{a['op']}(p={a['p']:g}) " + (f"in {a['type']} `{a['path']}`" if a.get("path") else
                                                             "in the model's own forward") for a in active[:3])
            hits.add(f"the evaluation forward of {e['obj']} ran in eval mode and its graph still runs dropout: {shown}"
                     f"{f' (+{len(active) - 3} more)' if len(active) > 3 else ''}", e)
    found = hits.findings()
    if not read:
        why = (f"Dynamo could not trace the evaluation forward of {', '.join(untraced)}: dropout unknown" if untraced
               else "no graph of an evaluation forward in eval mode (--no-graph, or no evaluation ran)")
        return r.result([], why, applicable=False)
    evidence = ("; ".join(f"{e['obj']} at {where(e)}: no dropout runs in its eval-mode graph" for e in read)
                if not found else f"{len(found)} evaluation forward(s) run dropout in eval mode")
    return r.result(found, evidence)


@rule(
    id="FX307", name="stateful-layer-evaluated-before-training", severity="warning",
    summary="a layer whose state its first training-mode forward builds ran in an evaluation forward first",
    what="""
Finds the layers of each trained model whose state a training-mode forward builds: spectral norm's
power-iteration vector u (the hook-based `torch.nn.utils.spectral_norm`). An evaluation forward in
eval mode, before any training-mode forward of the model, that runs such a layer whose u was never
written (neither iterated nor loaded from a checkpoint) is flagged at that forward's line.""",
    why="""
`spectral_norm` starts u and v at random and refines them only in training mode; in eval mode it
divides the weight by a sigma estimated from random vectors. A baseline or sanity-check evaluation
before training then reports a loss that can be orders of magnitude off (830654 instead of 3.18 in
one report), and early stopping or checkpoint selection that starts from it is misled.""",
    example="""
model = Net()                                     # uses nn.utils.spectral_norm(nn.Linear(...))
print("baseline", evaluate(model, val_loader))    # u never iterated
train(model, train_loader)""",
    instead="""
model = Net()                                     # nn.utils.parametrizations.spectral_norm
print("baseline", evaluate(model, val_loader))    # iterated at construction""",
    limits="""
Only spectral norm is known to build its state this way; the parametrization API
(`torch.nn.utils.parametrizations.spectral_norm`) iterates at construction and passes. A model
evaluated before its optimizer exists is not followed.""",
    hint="use torch.nn.utils.parametrizations.spectral_norm, or evaluate after a training-mode forward",
)
def stateful_layer_evaluated_before_training(g: nx.DiGraph, r: Rule) -> Check:
    hits = Occurrences(r)
    models, evaluated = set(), 0
    for e in events(g, ev.MODEL_FORWARD):
        d = e["data"]
        if not d.get("iterated_layers"):
            continue
        models.add(e["obj"])
        if d.get("training"):
            continue
        evaluated += 1
        if d.get("unbuilt"):
            layers = ", ".join(f"`{n}`" for n in d["unbuilt"][:3])
            hits.add(f"{e['obj']} ran an eval-mode forward before any training-mode forward, with spectral norm "
                     f"vectors never iterated in {layers}: its weights are divided by a sigma from random vectors", e)
    found = hits.findings()
    if not evaluated:
        return r.result([], "no eval-mode forward of a model with spectral norm" if models else
                        "no model with spectral norm (power-iterated layers) ran", applicable=False)
    evidence = (f"{evaluated} eval-mode forward(s) of {', '.join(sorted(models))}: spectral norm vectors already "
                "iterated or loaded" if not found else f"{len(found)} evaluation(s) before training")
    return r.result(found, evidence)
