"""Overhead of `fxcheck trace` against plain `python`, measured side by side in one run.

For each workload, plain and traced runs alternate (ROUNDS each). Both run exactly E x N steps,
so fxcheck truncates nothing. Reported per workload:
  step ratio  = median traced step time / median plain step time (steps after warm-up, all rounds)
  mean        = the same with means (includes the line-traced windows at each epoch's start and end)
  wall diff   = median traced wall time - median plain wall time (whole process)
  fixed       = wall diff - (median step difference x steps): imports, analysis, report
  rounds      = the lowest and highest ratio of medians of a single round (the spread)
The workload steps its optimizer every batch, so a step is a whole optimizer cycle (no bimodal mix of
accumulating and stepping batches in the medians).
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKLOAD = HERE / "workload.py"
WARMUP = 3  # steps per run left out of the medians

WORKLOADS = {
    "transformer d=256 x4, AMP": {"args": ["--d", "256", "--layers", "4", "--batch", "8", "--amp"], "target": 1.03},
    "transformer d=32 x2": {"args": ["--d", "32", "--layers", "2", "--seq", "32"], "target": 1.10},
}
FIXED_TARGET = 1.0


def run_once(cmd: list[str], timings: Path) -> tuple[float, list[float]]:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    return wall, json.loads(timings.read_text())[WARMUP:]


def measure(name: str, spec: dict, rounds: int, batches: int, epochs: int) -> dict:
    common = [*spec["args"], "--batches", str(batches), "--epochs", str(epochs)]
    walls: dict[str, list[float]] = {"plain": [], "traced": []}
    steps: dict[str, list[float]] = {"plain": [], "traced": []}
    per_round: list[float] = []  # each round's ratio of medians: the spread
    with tempfile.TemporaryDirectory() as tmp:
        timings = Path(tmp) / "t.json"
        plain = [sys.executable, str(WORKLOAD), *common, "--timings", str(timings)]
        traced = [sys.executable, "-m", "fxcheck", "trace", str(WORKLOAD), "--steps", str(batches),
                  "--epochs", str(epochs), "-q", "--", *common, "--timings", str(timings)]
        for _ in range(rounds):
            this: dict[str, float] = {}
            for label, cmd in (("plain", plain), ("traced", traced)):
                wall, st = run_once(cmd, timings)
                walls[label].append(wall)
                steps[label].extend(st)
                this[label] = statistics.median(st)
            per_round.append(this["traced"] / this["plain"])
    med = {k: statistics.median(v) for k, v in steps.items()}
    mean = {k: statistics.fmean(v) for k, v in steps.items()}
    wall = {k: statistics.median(v) for k, v in walls.items()}
    total_steps = batches * epochs
    ratio = med["traced"] / med["plain"]
    fixed = (wall["traced"] - wall["plain"]) - (med["traced"] - med["plain"]) * total_steps
    return {"workload": name, "plain_step_ms": med["plain"] * 1e3, "traced_step_ms": med["traced"] * 1e3,
            "ratio": ratio, "mean_ratio": mean["traced"] / mean["plain"], "target": spec["target"], "wall_plain_s": wall["plain"],
            "wall_traced_s": wall["traced"], "wall_diff_s": wall["traced"] - wall["plain"], "fixed_s": fixed,
            "round_ratios": per_round}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--batches", type=int, default=10)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args()
    results = [measure(n, s, args.rounds, args.batches, args.epochs) for n, s in WORKLOADS.items()]
    ok = True
    print(f"{'workload':28} {'plain ms':>9} {'traced ms':>9} {'ratio':>6} {'mean':>6} {'target':>6} "
          f"{'wall plain':>10} {'wall traced':>11} {'fixed s':>8} {'rounds':>11}")
    for r in results:
        good = r["ratio"] <= r["target"] and r["fixed_s"] <= FIXED_TARGET
        ok &= good
        print(f"{r['workload']:28} {r['plain_step_ms']:9.2f} {r['traced_step_ms']:9.2f} {r['ratio']:6.3f} {r['mean_ratio']:6.3f} "
              f"{r['target']:6.2f} {r['wall_plain_s']:10.2f} {r['wall_traced_s']:11.2f} {r['fixed_s']:8.2f}"
              f" {min(r['round_ratios']):5.3f}-{max(r['round_ratios']):5.3f}"
              f"  {'ok' if good else 'OVER TARGET'}")
    print(f"(medians over {args.rounds} alternating rounds of {args.epochs} x {args.batches} steps, 'rounds' the "
          f"spread of each round's ratio; "
          f"first {WARMUP} steps of each run left out; fixed-overhead target {FIXED_TARGET} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
