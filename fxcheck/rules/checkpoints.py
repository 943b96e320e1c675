"""FX6xx: checkpoints written during training hold everything a resume needs."""

from __future__ import annotations

import os

import networkx as nx

from fxcheck import events as ev
from fxcheck.graph import enabled_scalers, events, where
from fxcheck.rules import Check, Occurrences, Rule, rule


@rule(
    id="FX601", name="checkpoint-missing-state", severity="warning",
    summary="a checkpoint saved during training holds model weights but not the optimizer (or scaler / scheduler) state",
    what="""
Inspects the structure of every `torch.save` payload written after training began (never its
values, and never changing what is written): model weights with no optimizer state, or without the
GradScaler / LR scheduler state while those are in use, are flagged when an optimizer that had
stepped before the save steps again afterwards (a resume point) — unless the run also wrote a
complete checkpoint, in which case weights-only files are exports (a file holding optimizer state
is still judged). A save after the optimizers' last
step (the final weights, or a pretrained backbone handed to a fine-tuning phase) is an export; a
save right before fxcheck's cut is judged as the resume point it would have been. A pickled module
(`torch.save(model, f)`) and a weights-only file whose name says "best" are best-model exports, not resume points
— unless the script loads an optimizer's state back from that file (`optimizer.load_state_dict(
torch.load(path)[...])`), which makes any file a resume point.""",
    why="""
Resuming from such a checkpoint silently restarts Adam's moments, the loss scale and the LR
schedule: the resumed run behaves differently from an uninterrupted one, with no error.""",
    example="""
torch.save({"epoch": epoch, "model": model.state_dict()}, "ckpt.pt")""",
    instead="""
torch.save({"epoch": epoch, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict()}, "ckpt.pt")""",
    limits="""
Only torch.save and Accelerate's save_state (what it holds: the prepared models, optimizers,
schedulers, scaler and registered objects) are watched (Lightning's checkpoints go through torch.save), not
safetensors files; a payload is judged by
the shape of its state dicts, and saves are not linked to the optimizer of the weights they hold
(a weights-only EMA snapshot written during training is judged as a resume point). A resume
checkpoint saved as a pickled module, or without optimizer state under a name with "best" in it, is
taken for an export and not judged unless the run loads it back into an optimizer; a file is known to be loaded back when
the state given to `load_state_dict` is one this run saved into that file (also as a copy).""",
    hint="save optimizer.state_dict() (and scheduler / scaler state dicts) next to the model weights",
)
def checkpoint_missing_state(g: nx.DiGraph, r: Rule) -> Check:
    hits = Occurrences(r)
    first_step = next((e["seq"] for e in events(g, ev.OPTIMIZER_STEP, ev.SCALER_STEP)), None)
    steps = events(g, ev.OPTIMIZER_STEP)

    stopped = g.graph["meta"].get("status") == "stopped"  # fxcheck cut the run: its loop would have gone on

    def training_goes_on(e: dict) -> bool:
        """An optimizer that stepped before the save steps again after it, or would have beyond fxcheck's
        cut: the file is a resume point. A save after an optimizer's last step (a final or hand-off
        export) needs no optimizer state."""
        before = {s["obj"] for s in steps if s["seq"] < e["seq"]}
        after = [s["obj"] for s in steps if s["seq"] > e["seq"]]
        return bool(before) and (any(o in before for o in after) or (stopped and not after))

    def export(e: dict) -> bool:
        """A pickled module (`torch.save(model, f)`) or a best-model file of weights only is an export, not
        a resume point (a best file holding optimizer state is meant for resuming)."""
        name = os.path.basename(str(e["data"].get("target") or "")).lower()
        return bool(e["data"].get("whole_module")) or ("best" in name and not e["data"].get("optimizer_state"))

    # files the script read an optimizer's state back from: resume points whatever their name or place
    resumed = {e["data"]["source"] for e in events(g, ev.OPTIMIZER_LOAD) if e["data"].get("source")}

    def resume_point(e: dict) -> bool:
        return e["data"].get("path") in resumed or (training_goes_on(e) and not export(e))

    saves = [e for e in events(g, ev.CHECKPOINT) if first_step is not None and e["seq"] > first_step
             and e["data"].get("model_tensors") and resume_point(e)]
    scaler_used = {e["seq"] for e in events(g, ev.SCALER_STEP) if e["obj"] in enabled_scalers(g)}
    sched_used = {e["seq"] for e in events(g, ev.SCHEDULER_STEP)}

    def missing(e: dict) -> list[str]:
        d, lack = e["data"], []
        if not d.get("optimizer_state"):
            lack.append("optimizer")
        if any(s < e["seq"] for s in scaler_used) and not d.get("scaler_state"):
            lack.append("GradScaler")
        if any(s < e["seq"] for s in sched_used) and not d.get("scheduler_state"):
            lack.append("LR scheduler")
        return lack

    complete = [e for e in saves if not missing(e)]
    # beside a complete checkpoint, a weights-only file is an export; one holding optimizer state, or read
    # back into an optimizer, is still meant for resuming
    incomplete = [e for e in saves if missing(e) and (not complete or e["data"].get("optimizer_state")
                                                      or e["data"].get("path") in resumed)]
    if incomplete:
        for e in incomplete:
            lack = missing(e)
            named = " and ".join([", ".join(lack[:-1]), lack[-1]] if len(lack) > 1 else lack)
            hits.add(f"{e['data'].get('via', 'torch.save')} at {where(e)} wrote model weights without the {named} state: a resume "
                     f"from {e['data'].get('target')} restarts them", e)
    found = hits.findings()
    if found:
        evidence = f"{len(found)} save site(s) miss state"
    elif saves:
        exports = len(saves) - len(complete) - len(incomplete)
        evidence = f"{len(complete)} complete checkpoint(s) written during training" + \
            (f" ({exports} weights-only export(s) beside them)" if exports else "")
    else:
        exported = sum(1 for e in events(g, ev.CHECKPOINT) if e["data"].get("model_tensors") and export(e))
        evidence = "no checkpoint written during training" + (
            f" ({exported} best-model export(s): a pickled module or a file named best)" if exported else "")
    return r.result(found, evidence, applicable=bool(saves))
