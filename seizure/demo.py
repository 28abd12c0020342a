"""The end-to-end demo: synthesise -> preprocess -> train -> evaluate -> score, in one call.

:func:`run_demo` runs the whole pipeline on the embedded default, a synthetic corpus in the
TUSZ layout (:mod:`seizure.synth`), under one output folder::

    OUT/demo.json            the demo's settings (hours, seed, config): a re-run must match them
    OUT/corpus/              seizure synth (60/20/20 train/dev/eval by patient)
    OUT/store/               seizure preprocess (the config's recipe)
    OUT/model/               seizure train: best.pt (+ last.pt, metrics.csv, training_curve.png)
    OUT/evaluation/          report.md, report.json, det.png (OVLP) and det_szcore.png (three systems)
    OUT/scored/              one eval recording scored: NAME.csv_bi, NAME_events.tsv, NAME_probs.csv, NAME.png

Each stage reuses what an earlier run finished (the synthetic corpus, the store's finished
recordings, training through ``last.pt``, evaluation and scoring outputs newer than the
checkpoint), so an interrupted demo resumes where it stopped.

Evaluation on the eval split (:func:`demo_report`): the model, the fitted band-power baseline
(:mod:`seizure.baselines.bandpower`, fitted on train; its features cached per recording under
``OUT/store/cache/bandpower``) and the untrained line-length reference
(:mod:`seizure.baselines.line_length`), each at its operating point chosen on dev by the same
rule (:func:`seizure.evaluation.choose_operating_point`, the config's post-processing grid and
false-alarm target). Every headline figure carries its 95% patient-level bootstrap interval
(:mod:`seizure.scoring.bootstrap`), with the paired differences model - band-power and model -
line-length. The equal-FA table (1, 2, 6, 10 FA/24h) chooses each target's operating point on
dev and applies it to eval; eval-swept figures appear only in the column labelled as an oracle.
The DET plots show all three systems; the channel-robustness table shows the model's OVLP
sensitivity when channels are removed (masked), as for recordings from labs without A1/A2 or
with a broken electrode chain.

The config: ``configs/demo.toml`` of the source tree this package was imported from
(:func:`demo_config_path`); the demo is a developer's and newcomer's command run from a
clone, and configs are data of the repository, not of the wheel. Pass ``config`` to use
another file (e.g. with an installed wheel).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from seizure.errors import ConfigError, SeizureError
from seizure.fsutil import atomic_write

log = logging.getLogger(__name__)

DEMO_HOURS = 40.0
DEMO_SEED = 0
FA_TARGETS = (1.0, 2.0, 6.0, 10.0)


def removals(montage: str = "tcp") -> dict[str, tuple[str, ...]]:
    """Channel sets removed (masked) for the robustness table, asked of the montage: nothing,
    the ear electrodes' channels (A1/A2), and the left and right temporal chains."""
    from seizure.preprocess.montage import get_montage

    m = get_montage(montage)
    out: dict[str, tuple[str, ...]] = {"none": ()}
    ears = m.channels_with({"A1", "A2"})
    if ears:
        out[f"A1/A2 ({', '.join(ears)})"] = ears
    for side in ("left", "right"):
        chain = m.chains.get(f"{side}_temporal")
        if chain:
            out[f"{side} temporal chain ({', '.join(chain)})"] = chain
    return out


@dataclass
class DemoResult:
    """Where everything went, and each stage's one-line status."""

    out_dir: Path
    outputs: dict[str, Path] = field(default_factory=dict)
    status: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0


def demo_config_path() -> Path:
    """``configs/demo.toml`` of the source tree (beside the ``seizure`` package), else of the
    current folder; ConfigError naming both places when neither exists."""
    here = Path(__file__).resolve().parents[1] / "configs" / "demo.toml"
    cwd = Path.cwd() / "configs" / "demo.toml"
    for candidate in (here, cwd):
        if candidate.is_file():
            return candidate
    raise ConfigError(f"the demo config is not at {here} nor {cwd} (it ships with the source tree, not the wheel); "
                      "pass --config PATH")


# --------------------------------------------------------------------------- evaluation helpers

SYSTEMS = ("model", "bandpower", "line_length")
SHORT = {"model": "model", "bandpower": "band-power", "line_length": "line-length"}


def _op_dict(op) -> dict[str, float]:
    return {"threshold": op.threshold, "smooth_s": op.smooth_s, "min_duration_s": op.min_duration_s,
            "merge_gap_s": op.merge_gap_s}


def _pct(x: float | None) -> str:
    return "n/r" if x is None or not np.isfinite(x) else f"{100 * x:.1f}%"


def _rate(x: float | None) -> str:
    return "n/r" if x is None or not np.isfinite(x) else f"{x:.2f}"


def _system_probs(ckpt, store, dev_recs, eval_recs, seed: int, progress: bool, jobs: int = 1):
    """Per-second probabilities on dev and eval of the three systems, their dev-chosen operating
    points with their dev figures, the band-power baseline's summary and the seconds each took."""
    from seizure.baselines import bandpower, line_length
    from seizure.evaluation import choose_operating_point, split_probabilities

    cfg, pp = ckpt.config, ckpt.config.postprocess
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    probs = {"model": {"dev": split_probabilities(ckpt.model, store, dev_recs, cfg.train),
                       "eval": split_probabilities(ckpt.model, store, eval_recs, cfg.train)}}
    seconds["model_inference"] = time.perf_counter() - t0
    ops = {"model": ckpt.operating_point}
    devs = {"model": {"sensitivity": ckpt.summary.get("dev_sensitivity"),
                      "fa_per_24h": ckpt.summary.get("dev_fa_per_24h"),
                      "target_reached": ckpt.summary.get("dev_target_reached")}}

    t0 = time.perf_counter()
    bandpower.cache_features(store.records("train") + dev_recs + eval_recs, ckpt.recipe,
                             bandpower.default_cache_dir(store), jobs, progress=progress)
    bp = bandpower.fit(store, "train", recipe=ckpt.recipe, seed=seed, progress=progress)
    bp, bp_dev = bandpower.operate(bp, store, "dev", pp, progress=progress)
    probs["bandpower"] = {"dev": bp_dev, "eval": [bandpower.predict_probs(bp, r) for r in eval_recs]}
    ops["bandpower"] = bp.operating_point
    devs["bandpower"] = {k: bp.dev[k] for k in ("sensitivity", "fa_per_24h", "target_reached")}
    seconds["bandpower"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    recs = dev_recs + eval_recs
    if progress:
        from tqdm import tqdm

        recs = tqdm(recs, desc="line-length reference", unit="file")
    ll = {r.rec_id: line_length.predict_probs(r, ckpt.recipe) for r in recs}
    probs["line_length"] = {"dev": [ll[r.rec_id] for r in dev_recs], "eval": [ll[r.rec_id] for r in eval_recs]}
    op, sens, fa, reached = choose_operating_point(probs["line_length"]["dev"], dev_recs, pp)
    ops["line_length"] = op
    devs["line_length"] = {"sensitivity": sens, "fa_per_24h": fa, "target_reached": reached}
    seconds["line_length"] = time.perf_counter() - t0
    return probs, ops, devs, bp.summary(), seconds


def _equal_fa(probs, dev_recs, eval_recs, pp, curves) -> tuple[dict[str, Any], dict[str, Any]]:
    """For each FA/24h target: each system's operating point chosen on dev for that target and
    its eval figures with intervals, the paired model - band-power difference, and the oracle
    (best eval sensitivity with the threshold swept on eval, at the system's post-processing)."""
    from seizure.evaluation import hypotheses, points_per_target
    from seizure.scoring import det
    from seizure.scoring.comparison import difference
    from seizure.scoring.report import report_pairs

    table: dict[str, Any] = {name: {} for name in SYSTEMS}
    margins: dict[str, Any] = {}
    chosen = {name: points_per_target(probs[name]["dev"], dev_recs, pp, FA_TARGETS) for name in SYSTEMS}
    for i, t in enumerate(FA_TARGETS):
        reports = {}
        for name in SYSTEMS:
            _, op, sens, fa, reached = chosen[name][i]
            reports[name] = report_pairs(hypotheses(eval_recs, probs[name]["eval"], op))
            iv = reports[name].bootstrap["methods"]
            table[name][str(t)] = {
                "operating_point": _op_dict(op),
                "dev": {"sensitivity": sens, "fa_per_24h": fa, "target_reached": reached},
                "eval": {m: {k: iv[m][k] for k in ("sensitivity", "fa_per_24h")} for m in ("ovlp", "szcore")},
                "oracle_eval_swept": {m: det.operating_points(curves[name], (t,), m)[t] for m in ("ovlp", "szcore")},
            }
        margins[str(t)] = difference(reports["model"], reports["bandpower"],
                                     measures=(("ovlp", "sensitivity"), ("ovlp", "fa_per_24h")))["differences"]
    return table, margins


def demo_report(ckpt, store, out_dir: str | Path, *, progress: bool = False, seed: int = 0, jobs: int = 1
                ) -> dict[str, Any]:
    """The model, the fitted band-power baseline (fitted on train with ``seed``) and the
    line-length reference on the store's eval split, each at its operating point chosen on dev,
    with patient-level bootstrap intervals and paired differences: writes ``report.md``,
    ``report.json``, ``det.png`` and ``det_szcore.png`` into ``out_dir`` and returns the JSON content.
    ``jobs`` worker processes compute the baseline's features."""
    from seizure.evaluation import channel_robustness, score_split, tuning_resolution
    from seizure.scoring import det
    from seizure.scoring.comparison import difference

    out = Path(out_dir)
    eval_recs, dev_recs = store.records("eval"), store.records("dev")
    if not eval_recs or not dev_recs:
        raise SeizureError("the store needs 'dev' and 'eval' recordings to evaluate", store.root)
    cfg = ckpt.config
    probs, ops, devs, bp_summary, seconds = _system_probs(ckpt, store, dev_recs, eval_recs, seed, progress, jobs)
    reports, curves = {}, {}
    for name in SYSTEMS:
        reports[name], curves[name] = score_split(eval_recs, probs[name]["eval"], ops[name])
    labels = {"model": f"model ({cfg.model.frontend} + {cfg.model.cell})", "bandpower": "band-power baseline (fitted)",
              "line_length": "line-length reference (untrained)"}
    for method, path, what in (("ovlp", "det.png", "OVLP"), ("szcore", "det_szcore.png", "SzCORE event")):
        det.plot_det({labels[k]: c for k, c in curves.items()}, out / path, method,
                     title=f"Eval split (synthetic): {what} sensitivity against false alarms, threshold swept")
    t0 = time.perf_counter()
    equal_fa, margins = _equal_fa(probs, dev_recs, eval_recs, cfg.postprocess, curves)
    seconds["equal_fa"] = time.perf_counter() - t0
    robustness = channel_robustness(ckpt, store, eval_recs, removals(ckpt.recipe.montage),
                                    full_probs=probs["model"]["eval"])
    systems: dict[str, Any] = {}
    for name in SYSTEMS:
        systems[name] = {"label": labels[name], "operating_point": _op_dict(ops[name]), "dev": devs[name],
                         "report": reports[name].to_dict(), "det": curves[name].to_dict()}
    systems["model"]["checkpoint"] = str(ckpt.path)
    systems["bandpower"]["fitted"] = bp_summary
    durations = [r.duration_s for r in eval_recs]
    dev_s = sum(r.duration_s for r in dev_recs)
    result = {
        "eval": {"n_recordings": len(eval_recs), "hours": sum(durations) / 3600,
                 "n_seizures": sum(r.n_seizures for r in eval_recs), "n_patients": len({r.patient for r in eval_recs}),
                 "dev_hours": dev_s / 3600,
                 "dev_fa_per_24h_per_false_alarm": tuning_resolution(
                     dev_s, cfg.postprocess.target_fa_per_24h)["fa_per_24h_per_false_alarm"]},
        **systems,
        "paired": {f"model - {other}": difference(reports["model"], reports[other])["differences"]
                   for other in ("bandpower", "line_length")},
        "bootstrap": {k: reports["model"].bootstrap[k] for k in ("n_resamples", "seed", "level", "n_patients", "unit")},
        "equal_fa": equal_fa,
        "equal_fa_margin": margins,
        "channel_robustness": robustness,
        "target_fa_per_24h": cfg.postprocess.target_fa_per_24h,
        "method": cfg.postprocess.method,
        "seconds": seconds,
    }
    with atomic_write(out / "report.json") as fh:
        fh.write(json.dumps(result, indent=1, allow_nan=False, default=_json_default) + "\n")
    with atomic_write(out / "report.md") as fh:
        fh.write(_markdown(result, reports))
    return result


def _json_default(x: Any) -> Any:
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    if isinstance(x, np.bool_):
        return bool(x)
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def _resolution_sentence(result: dict[str, Any]) -> str:
    """Which targets the dev split is too short to resolve (empty when it resolves them all)."""
    from seizure.evaluation import unresolved_targets

    hours = result["eval"]["dev_hours"]
    below = unresolved_targets(hours * 3600.0, FA_TARGETS)
    if not below:
        return ""
    return (f" On the dev split ({hours:.1f} h) one false alarm is {24.0 / hours:.1f} FA/24h, so the "
            f"{', '.join(f'{t:g}' for t in below)} FA/24h targets are met only by points with no dev false "
            "alarm, whose rate on new recordings dev does not measure.")


def _equal_fa_cell(entry: dict[str, Any], method: str) -> str:
    """An equal-FA table cell: eval sensitivity [interval] (eval FA/24h) at the dev-chosen point,
    or n/r when no threshold met the target on dev (the figures at the fallback point, the
    fewest dev false alarms, stay in report.json)."""
    from seizure.scoring.comparison import span

    if not entry["dev"]["target_reached"]:
        return "n/r on dev"
    ev = entry["eval"][method]
    return f"{span(ev['sensitivity'], 'sensitivity')} ({_rate(ev['fa_per_24h']['estimate'])})"


def _markdown(result: dict[str, Any], reports: dict) -> str:
    from seizure.scoring import comparison

    ev, boot = result["eval"], result["bootstrap"]

    def op_note(name: str) -> str:
        op, dev = result[name]["operating_point"], result[name]["dev"]
        text = (f"threshold {op['threshold']:.4g}, smoothing {op['smooth_s']:g} s, min duration "
                f"{op['min_duration_s']:g} s, merge gap {op['merge_gap_s']:g} s (dev: {_pct(dev['sensitivity'])} at "
                f"{_rate(dev['fa_per_24h'])} FA/24h")
        if dev["target_reached"] is False:
            text += "; no threshold reached the target on dev, so the one with the fewest false alarms is used"
        return text + ")"

    bp = result["bandpower"]["fitted"]
    lines = [
        "# Demo evaluation: eval split of the synthetic corpus",
        "",
        f"{ev['n_recordings']} recordings, {ev['hours']:.2f} h, {ev['n_seizures']} reference seizures, "
        f"{ev['n_patients']} patients. Synthetic EEG (`seizure synth`): these numbers show the pipeline works; "
        "they are not clinical results and not comparable with TUSZ figures.",
        "",
        f"Every system's operating point is chosen on dev ({ev['dev_hours']:.1f} h) for at most "
        f"{result['target_fa_per_24h']:g} FA/24h ({result['method']}) by the same rule, then applied to eval:",
        "",
        f"- Model: `{result['model']['checkpoint']}`; {op_note('model')}.",
        f"- Band-power baseline, fitted: {bp['features']} band-power features per second, gradient-boosted trees "
        f"fitted on the {bp['fitted_on']} split ({bp['n_records']} recordings, {bp['hours']:.1f} h, seed {bp['seed']}, "
        f"{bp['fit_s']:.0f} s); {op_note('bandpower')}.",
        f"- Line-length reference, untrained (hand-fixed constants); {op_note('line_length')}.",
        "",
        f"Intervals: {100 * boot['level']:g}% patient-level bootstrap ({boot['n_resamples']} resamples of the "
        f"{boot['n_patients']} eval patients with replacement, seed {boot['seed']}; percentile intervals). Paired "
        "differences apply the same resamples to both systems; \"not distinguishable\": the interval covers 0.",
        "",
        "## Headline figures at the dev-chosen operating points",
        "",
        *comparison.systems_table({result[n]["label"]: result[n]["report"]["bootstrap"] for n in SYSTEMS}),
        "",
        "## Paired differences",
        "",
        *comparison.DIFFERENCES_HEAD,
    ]
    for other in ("bandpower", "line_length"):
        lines += comparison.difference_rows("model", SHORT[other], result["paired"][f"model - {other}"])
    lines += [
        "",
        "## Every scoring method at the dev-chosen operating points",
        "",
        "| method | " + " | ".join(f"{SHORT[n]} sensitivity | {SHORT[n]} FA/24h" for n in SYSTEMS) + " |",
        "|---|" + "---:|" * (2 * len(SYSTEMS)),
    ]
    rows = {n: {label: m for label, _, m in reports[n].rows()} for n in SYSTEMS}
    for label in rows["model"]:
        cells = [f"{_pct(rows[n][label]['sensitivity'])} | {_rate(rows[n][label]['fa_per_24h'])}" for n in SYSTEMS]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "EPOCH FA/24h is false-alarm time (seconds per day), as NEDC reports it. NEDC rows pool counts over "
        "recordings; SzCORE subject-mean rows average per patient.",
        "",
        "## At equal false-alarm rates",
        "",
        "For each target, every system's threshold and post-processing are chosen on DEV for at most that many "
        "FA/24h (the same rule as above) and applied to eval: eval OVLP sensitivity [95% interval] and the eval "
        "FA/24h it gave. Model - band-power: the paired difference of eval OVLP sensitivity. The oracle columns "
        "sweep the threshold on eval itself (no user can do that): the best eval sensitivity at or below the "
        "target, n/r when none gets that low. n/r on dev: no threshold met the target on dev (report.json keeps "
        "the figures at the fallback point, the fewest dev false alarms). Plots: `det.png` (OVLP), "
        "`det_szcore.png` (SzCORE)." + _resolution_sentence(result),
        "",
        "| FA/24h target (dev) | " + " | ".join(f"{SHORT[n]} OVLP (eval FA/24h)" for n in SYSTEMS)
        + " | model - band-power | verdict | oracle (threshold swept on eval): "
        + " / ".join(SHORT[n] for n in SYSTEMS) + " |",
        "|---:|" + "---:|" * len(SYSTEMS) + "---:|---|---:|",
    ]
    eq, margins = result["equal_fa"], result["equal_fa_margin"]
    for t in FA_TARGETS:
        cells = [_equal_fa_cell(eq[n][str(t)], "ovlp") for n in SYSTEMS]
        d = margins[str(t)]["ovlp/sensitivity"]
        both = all(eq[n][str(t)]["dev"]["target_reached"] for n in ("model", "bandpower"))
        diff = (f"{comparison.span(d, 'sensitivity', signed=True)} | {comparison.verdict(d, 'model', 'band-power')}"
                if both else "n/r | n/r")
        oracle = " / ".join(_pct(eq[n][str(t)]["oracle_eval_swept"]["ovlp"]["sensitivity"]) for n in SYSTEMS)
        lines.append(f"| {t:g} | " + " | ".join(cells) + f" | {diff} | {oracle} |")
    lines += [
        "",
        "SzCORE event sensitivity at the same dev-chosen points (eval FA/24h):",
        "",
        "| FA/24h target (dev) | " + " | ".join(SHORT[n] for n in SYSTEMS) + " | oracle (threshold swept on eval): "
        + " / ".join(SHORT[n] for n in SYSTEMS) + " |",
        "|---:|" + "---:|" * len(SYSTEMS) + "---:|",
    ]
    for t in FA_TARGETS:
        cells = [_equal_fa_cell(eq[n][str(t)], "szcore") for n in SYSTEMS]
        oracle = " / ".join(_pct(eq[n][str(t)]["oracle_eval_swept"]["szcore"]["sensitivity"]) for n in SYSTEMS)
        lines.append(f"| {t:g} | " + " | ".join(cells) + f" | {oracle} |")
    lines += [
        "",
        "## Channel robustness (model, OVLP at its operating point)",
        "",
        "The listed channels are masked (zeroed, as for a recording that lacks them) in every eval recording.",
        "",
        "| channels removed | sensitivity | FA/24h | change (points) |",
        "|---|---:|---:|---:|",
    ]
    for row in result["channel_robustness"]:
        lines.append(f"| {row['removed']} | {_pct(row['sensitivity'])} ({row['hits']:g}/{row['n_ref']:g}) | "
                     f"{_rate(row['fa_per_24h'])} | {row['change_points']:+.1f} |")
    for name in SYSTEMS:
        body = reports[name].markdown().split("\n", 2)[2].replace("\n## ", "\n### ")
        label = result[name]["label"]
        lines += ["", f"## {label[0].upper()}{label[1:]}: all scores", "", body.rstrip()]
    return "\n".join(lines).rstrip() + "\n"


# --------------------------------------------------------------------------- the stages


def _newer(paths: Sequence[Path], than: Path) -> bool:
    """True when every path exists and is at least as new as ``than``."""
    ref = than.stat().st_mtime
    return all(p.is_file() and p.stat().st_mtime >= ref for p in paths)


def _check_settings(out: Path, settings: dict[str, Any]) -> None:
    """Refuse a folder holding a demo with other settings, or anything else; stamp a new one."""
    stamp = out / "demo.json"
    if stamp.is_file():
        old = json.loads(stamp.read_text())
        if old != settings:
            diff = ", ".join(f"{k}={old.get(k)!r}" for k in settings if old.get(k) != settings[k])
            raise SeizureError(f"this folder holds a demo run with other settings ({diff}); use another --out",
                               out)
        return
    if out.is_dir() and any(out.iterdir()):
        raise SeizureError("this folder is not empty and holds no demo run (no demo.json); use another --out", out)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_write(stamp) as fh:
        fh.write(json.dumps(settings, indent=1) + "\n")


def _pick_recording(records: Sequence):
    """The longest eval recording with a reference seizure (the longest of all if none has one;
    ties: the name): a fixed rule on the data, never on the model's output."""
    return max(records, key=lambda r: (r.n_seizures > 0, r.duration_s, r.rec_id))


def run_demo(out_dir: str | Path = "demo_out", *, hours: float = DEMO_HOURS, seed: int = DEMO_SEED,
             config: str | Path | None = None, overrides: Sequence[str] = (), jobs: int | None = None,
             progress: bool = False, status: Callable[[str], None] | None = None) -> DemoResult:
    """Run (or resume) the whole demo under ``out_dir``; ``status`` receives one line per stage."""
    from seizure import checkpoint
    from seizure.corpus import preprocess
    from seizure.detect import detect_recording
    from seizure.store import FeatureStore
    from seizure.synth import synthesize
    from seizure.training.config import load_config, to_toml
    from seizure.training.loop import train
    from seizure.training.loop import pick_device

    t_start = time.perf_counter()
    if not (isinstance(hours, (int, float)) and 0 < hours <= 200):
        raise ConfigError(f"hours must be a number in (0, 200], got {hours!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be an integer >= 0, got {seed!r}")
    jobs = jobs or min(2, os.cpu_count() or 1)
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ConfigError(f"jobs must be a positive integer, got {jobs!r}")
    config_path = Path(config) if config is not None else demo_config_path()
    cfg = load_config(config_path, list(overrides))
    out = Path(out_dir).resolve()
    resolved = hashlib.sha256(to_toml(cfg).encode()).hexdigest()[:12]
    _check_settings(out, {"hours": float(hours), "seed": seed, "config": str(config_path.resolve()),
                          "overrides": list(overrides), "resolved_config_sha256": resolved})
    result = DemoResult(out)
    say = status or (lambda line: None)

    def stage(k: int, line: str, t0: float) -> None:
        text = f"[{k}/5] {line} ({time.perf_counter() - t0:.0f} s)"
        result.status.append(text)
        log.debug("%s", text)
        say(text)

    # 1. synthetic corpus
    t0 = time.perf_counter()
    corpus = out / "corpus"
    if (corpus / "synth.json").is_file():
        info = json.loads((corpus / "synth.json").read_text())
        stage(1, f"synth: reusing {corpus} ({sum(s['hours'] for s in info['splits'].values()):.1f} h)", t0)
    else:
        if corpus.exists():  # an interrupted synth of this demo (its summary is written last)
            shutil.rmtree(corpus)
        summary = synthesize(corpus, hours, seed, jobs=jobs, progress=progress)
        split = ", ".join(f"{k} {s.hours:.1f} h/{s.seizures} seizures" for k, s in summary.splits.items())
        stage(1, f"synth: {len(summary.recordings)} recordings, {summary.hours:.1f} h ({split}) -> {corpus}", t0)

    # 2. features
    t0 = time.perf_counter()
    store_dir = out / "store"
    pre = preprocess(corpus, store_dir, cfg.recipe, jobs=jobs, progress=progress)
    stage(2, f"preprocess: {pre.done} processed, {pre.skipped} already done, {pre.failed} failed; "
             f"{pre.hours_in_store:.1f} h in {store_dir}", t0)
    for line in pre.lines()[2:]:
        say(line)

    # 3. training (resumes from last.pt; a finished run returns at once)
    t0 = time.perf_counter()
    model_dir = out / "model"
    trained = train(store_dir, model_dir, cfg, progress=progress)
    s = trained.summary
    stage(3, f"train: {config_path.name}, {s.get('epochs_run')} epoch(s), best {s.get('best_epoch')}; dev "
             f"{100 * s.get('dev_sensitivity', 0):.1f}% at {s.get('dev_fa_per_24h', 0):.2f} FA/24h "
             f"({s.get('method')}) -> {trained.best_path}", t0)
    result.outputs["checkpoint"] = trained.best_path

    # 4. evaluation on eval: the model, the fitted band-power baseline, the line-length reference
    t0 = time.perf_counter()
    ckpt = checkpoint.load(trained.best_path, device=pick_device(cfg.train.device))
    store = FeatureStore(store_dir)
    eval_dir = out / "evaluation"
    report_files = [eval_dir / n for n in ("report.md", "report.json", "det.png", "det_szcore.png")]
    if _newer(report_files, trained.best_path):
        rep = json.loads(report_files[1].read_text())
        how = "reused"
    else:
        rep = demo_report(ckpt, store, eval_dir, progress=progress, seed=seed, jobs=jobs)
        how = "written"
    figures = []
    for name in SYSTEMS:
        iv = rep[name]["report"]["bootstrap"]["methods"]["ovlp"]
        figures.append(f"{SHORT[name]} {_pct(iv['sensitivity']['estimate'])} [{_pct(iv['sensitivity']['low'])}, "
                       f"{_pct(iv['sensitivity']['high'])}] at {_rate(iv['fa_per_24h']['estimate'])} FA/24h")
    stage(4, f"evaluate: eval {rep['eval']['hours']:.1f} h, {rep['eval']['n_seizures']} seizures; OVLP at dev-chosen "
             f"points (95% patient bootstrap): {', '.join(figures)} ({how}: {report_files[0]})", t0)
    result.outputs.update({"report.md": report_files[0], "report.json": report_files[1],
                           "DET plot (OVLP)": report_files[2], "DET plot (SzCORE)": report_files[3]})

    # 5. score one eval recording, with the plot
    t0 = time.perf_counter()
    rec = _pick_recording(store.records("eval"))
    scored_dir = out / "scored"
    names = {"csv_bi": f"{rec.rec_id}.csv_bi", "tsv": f"{rec.rec_id}_events.tsv",
             "probs": f"{rec.rec_id}_probs.csv", "png": f"{rec.rec_id}.png"}
    files = {k: scored_dir / v for k, v in names.items()}
    if _newer(list(files.values()), trained.best_path):
        stage(5, f"score: reusing {files['png']}", t0)
    else:
        res = detect_recording(ckpt, rec.edf_path, scored_dir, plot=True, probabilities=True)
        files = res.outputs
        stage(5, f"score: {rec.rec_id} ({res.hours:.2f} h, {rec.n_seizures} reference seizure(s)): "
                 f"{len(res.events)} event(s) detected -> {files['png']}", t0)
    result.outputs.update({"scored csv_bi": files["csv_bi"], "scored SzCORE TSV": files["tsv"],
                           "scored probabilities": files["probs"], "scored plot": files["png"]})
    result.elapsed_s = time.perf_counter() - t_start
    return result
