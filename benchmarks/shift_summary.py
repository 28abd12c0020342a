"""Summarise several `bench_shift.py` runs (one JSON per training seed) into one table.

    .venv/bin/python benchmarks/shift_summary.py /tmp/bench/s0.json /tmp/bench/s1.json ...

For every profile and system: the eval OVLP sensitivity @ FA/24h at the point chosen on dev
for <= 6 FA/24h, seed by seed; how many runs meet the target (>= 90% at <= 6 FA/24h); and the
means over runs of the dev-chosen, half-eval-tuned and eval-swept (oracle) figures. A system
that a run skipped (`--no-baseline`, `--no-default`) counts only the runs that have it. Runs
of another config, corpus seed or size than the first file's are refused.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

TARGET_KEY = "6"


def training_seed(run: dict) -> int:
    """The ``train.seed=N`` override of a run (0, the config's, when there is none)."""
    for item in run.get("overrides", []):
        key, _, value = item.partition("=")
        if key.strip() == "train.seed":
            return int(value)
    return 0


def load_runs(paths: list[str]) -> list[dict]:
    runs = []
    for path in paths:
        try:
            run = json.loads(Path(path).read_text())
            run["results"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SystemExit(f"{path}: not a bench_shift.py JSON ({exc})") from None
        run["_path"], run["_seed"] = path, training_seed(run)
        runs.append(run)
    first = _setting(runs[0])
    for run in runs[1:]:
        if _setting(run) != first:
            raise SystemExit(f"{run['_path']}: another config, corpus or size than {runs[0]['_path']}")
    return runs


def _setting(run: dict) -> tuple:
    """What must be equal between the runs of one table: all but the training seed."""
    overrides = sorted(o for o in run.get("overrides", []) if not o.startswith("train.seed"))
    return (*(json.dumps(run.get(k), sort_keys=True) for k in ("config", "hours", "seed", "split_shares")), overrides)


def collect(runs: list[dict]) -> dict[tuple[str, str], list[dict]]:
    """(profile, system) -> one row per run that has it, in training-seed order."""
    rows: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for run in sorted(runs, key=lambda r: r["_seed"]):
        for result in run["results"]:
            for system in result["systems"]:
                point = system["dev_chosen"][TARGET_KEY]
                half = system.get("half_tuned_at_6") or {}
                rows[(result["profile"], system["system"])].append({
                    "seed": run["_seed"], "sensitivity": point["sensitivity"], "fa_per_24h": point["fa_per_24h"],
                    "meets": point["sensitivity"] >= run["target"]["sensitivity"]
                    and point["fa_per_24h"] <= run["target"]["fa_per_24h"],
                    "half_sensitivity": half.get("sensitivity"), "half_fa_per_24h": half.get("fa_per_24h"),
                    "oracle": system.get("oracle_eval_sensitivity_at_6")})
    return rows


def _mean(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _fa(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}"


def table(rows: dict[tuple[str, str], list[dict]]) -> str:
    lines = ["| profile | system | dev-chosen, by training seed | meets | dev-chosen mean | half-eval-tuned mean "
             "| oracle mean |", "|---|---|---|---:|---:|---:|---:|"]
    for (profile, system), runs in rows.items():
        cells = "; ".join(f"{_pct(r['sensitivity'])} @ {_fa(r['fa_per_24h'])} (seed {r['seed']})" for r in runs)
        lines.append(
            f"| {profile} | {system} | {cells} | {sum(r['meets'] for r in runs)}/{len(runs)} "
            f"| {_pct(_mean([r['sensitivity'] for r in runs]))} @ {_fa(_mean([r['fa_per_24h'] for r in runs]))} "
            f"| {_pct(_mean([r['half_sensitivity'] for r in runs]))} @ "
            f"{_fa(_mean([r['half_fa_per_24h'] for r in runs]))} | {_pct(_mean([r['oracle'] for r in runs]))} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", nargs="+", help="bench_shift.py --json outputs, one per training seed")
    args = parser.parse_args(argv)
    runs = load_runs(args.json)
    first = runs[0]
    print(f"{len(runs)} run(s) of {first['config']} {' '.join(first.get('overrides', []))}; corpora "
          f"{first['hours']:g} h, seed {first['seed']}; eval OVLP sensitivity @ FA/24h at the point chosen "
          f"on dev for <= {first['target']['fa_per_24h']:g} FA/24h; meets: >= "
          f"{100 * first['target']['sensitivity']:.0f}% there\n")
    print(table(collect(runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
