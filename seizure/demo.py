"""The end-to-end demo: synthesise -> preprocess -> train -> evaluate -> score, in one call.

:func:`run_demo` runs the whole pipeline on the embedded default, a synthetic corpus in the
TUSZ layout (:mod:`seizure.synth`), under one output folder::

    OUT/demo.json            the demo's settings (hours, seed, config): a re-run must match them
    OUT/corpus/              seizure synth (60/20/20 train/dev/eval by patient)
    OUT/store/               seizure preprocess (the config's recipe)
    OUT/model/               seizure train: best.pt (+ last.pt, metrics.csv, training_curve.png)
    OUT/evaluation/          report.md, report.json, det.png (OVLP) and det_szcore.png
    OUT/scored/              one eval recording scored: NAME.csv_bi, NAME_events.tsv, NAME_probs.csv, NAME.png

Each stage reuses what an earlier run finished (the synthetic corpus, the store's finished
recordings, training through ``last.pt``, evaluation and scoring outputs newer than the
checkpoint), so an interrupted demo resumes where it stopped.

Evaluation on the eval split: the model at the operating point chosen on dev during
training, and the line-length baseline (:func:`seizure.scoring.baseline.line_length_probs`
over the montaged signal of :func:`seizure.preprocess.pipeline.iter_montaged_chunks`, whole-recording
background) with its threshold chosen on dev in exactly the same way (the config's
post-processing grid and false-alarm target). Both are scored with NEDC OVLP/TAES/epoch and
SzCORE; the DET sweep compares them at equal false-alarm rates (1, 2, 6, 10 FA/24h); the
channel-robustness table shows the model's OVLP sensitivity when channels are removed
(masked), as for recordings from labs without A1/A2 or with a broken electrode chain.

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


def baseline_probs(edf_path: str | Path, recipe, mask: np.ndarray | None, n_seconds: int) -> np.ndarray:
    """Line-length baseline probabilities of one recording (montaged as the recipe says)."""
    from seizure.preprocess.pipeline import iter_montaged_chunks
    from seizure.scoring.baseline import line_length_probs

    chunks = list(iter_montaged_chunks(edf_path, recipe))
    data = np.concatenate([c.data for c in chunks], axis=1)
    probs = line_length_probs(data, chunks[0].fs_hz, mask)
    return probs[:n_seconds]


def _op_dict(op) -> dict[str, float]:
    return {"threshold": op.threshold, "smooth_s": op.smooth_s, "min_duration_s": op.min_duration_s,
            "merge_gap_s": op.merge_gap_s}


def _pct(x: float | None) -> str:
    return "n/r" if x is None or not np.isfinite(x) else f"{100 * x:.1f}%"


def _rate(x: float | None) -> str:
    return "n/r" if x is None or not np.isfinite(x) else f"{x:.2f}"


def demo_report(ckpt, store, out_dir: str | Path, *, progress: bool = False) -> dict[str, Any]:
    """Model and baseline on the store's eval split: writes ``report.md``, ``report.json``,
    ``det.png`` and ``det_szcore.png`` into ``out_dir`` and returns the JSON content."""
    from seizure.evaluation import channel_robustness, choose_operating_point, score_split, split_probabilities
    from seizure.scoring import det

    out = Path(out_dir)
    eval_recs, dev_recs = store.records("eval"), store.records("dev")
    if not eval_recs or not dev_recs:
        raise SeizureError("the store needs 'dev' and 'eval' recordings to evaluate", store.root)
    cfg = ckpt.config
    probs_model = split_probabilities(ckpt.model, store, eval_recs, cfg.train)
    n_ch = len(store.channels)
    recs = dev_recs + eval_recs
    if progress:
        from tqdm import tqdm

        recs = tqdm(recs, desc="baseline", unit="file")
    base = {r.rec_id: baseline_probs(r.edf_path, ckpt.recipe, r.mask(n_ch), r.n_seconds) for r in recs}
    base_op, base_sens, base_fa, base_reached = choose_operating_point([base[r.rec_id] for r in dev_recs], dev_recs,
                                                                       cfg.postprocess)
    base_probs = [base[r.rec_id] for r in eval_recs]
    systems = {"model": (probs_model, ckpt.operating_point), "baseline": (base_probs, base_op)}

    refs = [r.events for r in eval_recs]
    durations = [r.duration_s for r in eval_recs]
    subjects = [r.patient for r in eval_recs]
    reports, curves = {}, {}
    for name, (probs, op) in systems.items():
        reports[name], curves[name] = score_split(eval_recs, probs, op)
    labels = {"model": f"model ({cfg.model.frontend} + {cfg.model.cell})", "baseline": "line-length baseline"}
    det.plot_det({labels[k]: c for k, c in curves.items()}, out / "det.png", "ovlp",
                 title="Eval split (synthetic): OVLP sensitivity against false alarms, threshold swept")
    det.plot_det({labels[k]: c for k, c in curves.items()}, out / "det_szcore.png", "szcore",
                 title="Eval split (synthetic): SzCORE event sensitivity against false alarms, threshold swept")
    equal_fa = {name: {m: {str(t): v for t, v in det.operating_points(curves[name], FA_TARGETS, m).items()}
                       for m in ("ovlp", "szcore")} for name in systems}
    robustness = channel_robustness(ckpt, store, eval_recs, removals(ckpt.recipe.montage), full_probs=probs_model)
    result = {
        "eval": {"n_recordings": len(eval_recs), "hours": sum(durations) / 3600,
                 "n_seizures": sum(len(e) for e in refs), "n_patients": len(set(subjects))},
        "model": {"checkpoint": str(ckpt.path), "operating_point": _op_dict(ckpt.operating_point),
                  "dev": {"sensitivity": ckpt.summary.get("dev_sensitivity"),
                          "fa_per_24h": ckpt.summary.get("dev_fa_per_24h"),
                          "target_reached": ckpt.summary.get("dev_target_reached")},
                  "report": reports["model"].to_dict(), "det": curves["model"].to_dict()},
        "baseline": {"operating_point": _op_dict(base_op),
                     "dev": {"sensitivity": base_sens, "fa_per_24h": base_fa, "target_reached": base_reached},
                     "report": reports["baseline"].to_dict(), "det": curves["baseline"].to_dict()},
        "equal_fa": equal_fa,
        "channel_robustness": robustness,
        "target_fa_per_24h": cfg.postprocess.target_fa_per_24h,
        "method": cfg.postprocess.method,
    }
    with atomic_write(out / "report.json") as fh:
        fh.write(json.dumps(result, indent=1, allow_nan=False, default=_json_default) + "\n")
    with atomic_write(out / "report.md") as fh:
        fh.write(_markdown(result, reports, labels))
    return result


def _json_default(x: Any) -> Any:
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def _markdown(result: dict[str, Any], reports: dict, labels: dict[str, str]) -> str:
    ev, model, base = result["eval"], result["model"], result["baseline"]
    mop, bop = model["operating_point"], base["operating_point"]

    def dev_note(dev: dict) -> str:
        text = f"dev: {_pct(dev['sensitivity'])} at {_rate(dev['fa_per_24h'])} FA/24h"
        if dev["target_reached"] is False:
            text += "; no threshold reached the target on dev, so the one with the fewest false alarms is used"
        return text

    lines = [
        "# Demo evaluation: eval split of the synthetic corpus",
        "",
        f"{ev['n_recordings']} recordings, {ev['hours']:.2f} h, {ev['n_seizures']} reference seizures, "
        f"{ev['n_patients']} patients. Synthetic EEG (`seizure synth`): these numbers show the pipeline works; "
        "they are not clinical results and not comparable with TUSZ figures.",
        "",
        f"- Model: `{model['checkpoint']}`; operating point chosen on dev for at most "
        f"{result['target_fa_per_24h']:g} FA/24h ({result['method']}): threshold {mop['threshold']:.3f}, smoothing "
        f"{mop['smooth_s']:g} s, min duration {mop['min_duration_s']:g} s, merge gap {mop['merge_gap_s']:g} s "
        f"({dev_note(model['dev'])}).",
        f"- Baseline: line-length/energy detector, threshold chosen on dev the same way: threshold "
        f"{bop['threshold']:.3f}, smoothing {bop['smooth_s']:g} s, min duration {bop['min_duration_s']:g} s, merge "
        f"gap {bop['merge_gap_s']:g} s ({dev_note(base['dev'])}).",
        "",
        "## Model and baseline at their dev-chosen operating points",
        "",
        "| method | model sensitivity | model FA/24h | model F1 | baseline sensitivity | baseline FA/24h "
        "| baseline F1 |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    rows_m = {label: m for label, _, m in reports["model"].rows()}
    rows_b = {label: m for label, _, m in reports["baseline"].rows()}
    for label in rows_m:
        m, b = rows_m[label], rows_b[label]
        lines.append(f"| {label} | {_pct(m['sensitivity'])} | {_rate(m['fa_per_24h'])} | {_pct(m['f1'])} | "
                     f"{_pct(b['sensitivity'])} | {_rate(b['fa_per_24h'])} | {_pct(b['f1'])} |")
    lines += [
        "",
        "EPOCH FA/24h is false-alarm time (seconds per day), as NEDC reports it. NEDC rows pool counts over "
        "recordings; SzCORE subject-mean rows average per patient.",
        "",
        "## At equal false-alarm rates (DET)",
        "",
        "Best sensitivity among thresholds whose FA/24h on the eval split is at or below each target (the threshold "
        "is swept on eval itself, for both systems alike); n/r: no threshold gets that low. "
        "Plots: `det.png` (OVLP), `det_szcore.png` (SzCORE).",
        "",
        "| FA/24h at most | model OVLP | baseline OVLP | model SzCORE | baseline SzCORE |",
        "|---:|---:|---:|---:|---:|",
    ]
    eq = result["equal_fa"]
    for t in FA_TARGETS:
        cells = [_pct(eq[s][m][str(t)]["sensitivity"]) for m in ("ovlp", "szcore") for s in ("model", "baseline")]
        lines.append(f"| {t:g} | {cells[0]} | {cells[1]} | {cells[2]} | {cells[3]} |")
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
    for name in ("model", "baseline"):
        body = reports[name].markdown().split("\n", 2)[2]  # drop the report's own title
        body = body.replace("## Per recording", "### Per recording")
        lines += ["", f"## {labels[name].capitalize()}: all scores", "", body]
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

    # 4. evaluation on eval, model against baseline
    t0 = time.perf_counter()
    ckpt = checkpoint.load(trained.best_path, device=pick_device(cfg.train.device))
    store = FeatureStore(store_dir)
    eval_dir = out / "evaluation"
    report_files = [eval_dir / n for n in ("report.md", "report.json", "det.png", "det_szcore.png")]
    if _newer(report_files, trained.best_path):
        rep = json.loads(report_files[1].read_text())
        how = "reused"
    else:
        rep = demo_report(ckpt, store, eval_dir, progress=progress)
        how = "written"
    mo = rep["model"]["report"]["methods"]["ovlp"]
    bo = rep["baseline"]["report"]["methods"]["ovlp"]
    stage(4, f"evaluate: eval {rep['eval']['hours']:.1f} h, {rep['eval']['n_seizures']} seizures; OVLP model "
             f"{_pct(mo['sensitivity'])} at {_rate(mo['fa_per_24h'])} FA/24h, baseline {_pct(bo['sensitivity'])} "
             f"at {_rate(bo['fa_per_24h'])} FA/24h ({how}: {report_files[0]})", t0)
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
