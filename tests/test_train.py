"""Training: outputs, determinism, resume, early stopping, sampling, errors, the CLI command."""

from __future__ import annotations

import argparse
import csv

import numpy as np
import pytest
import torch

from seizure import checkpoint
from seizure.errors import CheckpointError, RecipeMismatchError, SeizureError
from seizure.store import FeatureStore, RecordMeta
from seizure.training.config import load_config
from seizure.training.loop import TrainingInterrupted, train
from seizure.training import loop
from seizure.training.config import TrainConfig
from seizure.evaluation import DevResult
from seizure.preprocess.montage import MONTAGES
from seizure.training.sampler import CropSampler, feature_statistics

from feature_stores import FPS, NF, RECIPE, TCP, make_store  # noqa: E402  (tests/ helper)

TINY = ["recipe.feature=spectrogram", "model.conv2d_channels=[4]", "model.embed_dim=8", "model.hidden_size=8",
        "model.cell=gru", "train.batch_size=4", "train.crop_s=40", "train.steps_per_epoch=4", "train.epochs=2",
        "train.eval_window_s=100", "train.eval_context_s=30", "train.threads=1",
        "postprocess.smooth_s=[0, 3]", "postprocess.min_duration_s=[0]", "postprocess.merge_gap_s=[0]"]


@pytest.fixture(scope="session")
def store(train_store):
    return train_store


def tiny(*extra):
    return load_config(None, [*TINY, *extra])


def comparable(history):
    return [{k: v for k, v in row.items() if k != "elapsed_s"} for row in history]


def test_train_writes_every_output(store, tmp_path):
    cfg = tiny("model.regularizers=['dropout', 'weight_decay', 'l1_l2']", "train.channel_dropout=0.5")
    result = train(store.root, tmp_path, cfg)
    for name in ("best.pt", "last.pt", "metrics.csv", "training_curve.png", "resolved_config.toml"):
        assert (tmp_path / name).is_file(), name
    assert (tmp_path / "training_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with open(tmp_path / "metrics.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert set(rows[0]) == set(loop.METRIC_FIELDS)
    assert load_config(tmp_path / "resolved_config.toml") == cfg
    raw = torch.load(result.best_path, weights_only=True)  # data only
    assert raw["operating_point"]["threshold"] == result.operating_point.threshold
    assert raw["summary"]["best_epoch"] in (1, 2) and raw["recipe_hash"] == RECIPE.hash()
    ck = checkpoint.load(result.best_path)
    assert not ck.model.training and ck.operating_point == result.operating_point
    assert ck.config == cfg and ck.channels == TCP
    # the normalisation learned from the training data is part of the weights
    assert not torch.allclose(ck.model.feature_mean, torch.zeros(NF))


def test_training_is_deterministic(store, tmp_path):
    cfg = tiny("model.regularizers=['dropout', 'recurrent_dropout']", "train.channel_dropout=0.3")
    a = train(store.root, tmp_path / "a", cfg)
    b = train(store.root, tmp_path / "b", cfg)
    assert comparable(a.metrics) == comparable(b.metrics)
    wa, wb = torch.load(a.best_path, weights_only=True), torch.load(b.best_path, weights_only=True)
    assert all(torch.equal(wa["model_state"][k], wb["model_state"][k]) for k in wa["model_state"])
    c = train(store.root, tmp_path / "c", tiny("model.regularizers=['dropout', 'recurrent_dropout']",
                                               "train.channel_dropout=0.3", "train.seed=1"))
    assert comparable(c.metrics) != comparable(a.metrics)


@pytest.mark.parametrize("mining", [False, True])
def test_resume_after_interruption_gives_the_same_result(store, tmp_path, mining):
    """With hard-negative mining too: epoch 2's plan depends on the weights mined after epoch 1,
    which last.pt keeps."""
    cfg = tiny("model.regularizers=['dropout']", "train.epochs=3", "train.ema_decay=0.9",
               *(["train.hard_negative_fraction=1.0"] if mining else []))
    full = train(store.root, tmp_path / "full", cfg)
    calls = {"n": 0}

    def stop_mid_epoch_2():
        calls["n"] += 1
        return calls["n"] == 7  # epoch 2, step 2 of 4

    with pytest.raises(TrainingInterrupted, match="run the same command again to resume"):
        train(store.root, tmp_path / "cut", cfg, should_stop=stop_mid_epoch_2)
    state = torch.load(tmp_path / "cut" / "last.pt", weights_only=True)["train_state"]
    assert (state["epoch"], state["step"]) == (1, 2) and not state["finished"]
    assert ("hard_weights" in state) == mining
    resumed = train(store.root, tmp_path / "cut", cfg)
    assert comparable(resumed.metrics) == comparable(full.metrics)
    wa = torch.load(full.best_path, weights_only=True)["model_state"]
    wb = torch.load(resumed.best_path, weights_only=True)["model_state"]
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    # a finished run is reported, not retrained
    again = train(store.root, tmp_path / "cut", cfg)
    assert again.operating_point == resumed.operating_point


def test_ema_weights_are_evaluated_and_kept(store, tmp_path):
    from seizure.models import build_model

    cfg = tiny("train.epochs=1", "train.ema_decay=0.999999", "train.lr=0.01")
    init = build_model(cfg.model, len(TCP), NF, FPS, seed=cfg.train.seed).state_dict()["head.weight"]
    averaged = torch.load(train(store.root, tmp_path / "ema", cfg).best_path, weights_only=True)
    plain = torch.load(train(store.root, tmp_path / "plain", tiny("train.epochs=1", "train.lr=0.01")).best_path,
                       weights_only=True)
    # the average barely left the initial weights; the trained weights did
    assert torch.allclose(averaged["model_state"]["head.weight"], init, atol=1e-3)
    assert not torch.allclose(plain["model_state"]["head.weight"], init, atol=1e-2)


def test_resume_refuses_another_config(store, tmp_path):
    train(store.root, tmp_path, tiny("train.epochs=1"))
    with pytest.raises(CheckpointError, match="another config"):
        train(store.root, tmp_path, tiny("train.epochs=1", "train.lr=0.01"))


def test_early_stopping_on_dev(store, tmp_path, monkeypatch):
    from seizure.postprocess import OperatingPoint

    flat = DevResult(loss=0.5, sensitivity=0.5, fa_per_24h=1.0, operating_point=OperatingPoint(0.5), hours=0.1,
                     n_seizures=1, det_area=0.4)
    monkeypatch.setattr(loop, "dev_result", lambda *a, **k: flat)
    cfg = tiny("train.epochs=10", "model.regularizers=['early_stopping']", "model.reg.early_stopping_patience=2")
    result = train(store.root, tmp_path, cfg)
    assert len(result.metrics) == 3  # best at epoch 1, then two epochs without improvement
    assert result.summary["best_epoch"] == 1
    no_es = train(store.root, tmp_path / "no", tiny("train.epochs=4"))
    assert len(no_es.metrics) == 4


def test_input_errors(store, tmp_path):
    with pytest.raises(RecipeMismatchError, match="config was made with preprocessing recipe"):
        train(store.root, tmp_path / "r", load_config(None, TINY[1:]))  # default recipe: lfcc
    no_dev = make_store(tmp_path / "nodev", splits=(("train", 2),))
    with pytest.raises(SeizureError, match="no 'dev' recordings"):
        train(no_dev.root, tmp_path / "n", tiny())
    mixed = make_store(tmp_path / "mixed", splits=(("train", 1), ("dev", 1)), dev_patient_in_train=True)
    with pytest.raises(SeizureError, match="in both train and dev"):
        train(mixed.root, tmp_path / "m", tiny())
    with pytest.raises(SeizureError, match="not a feature store"):
        train(tmp_path / "nothing", tmp_path / "x", tiny())


def test_sampler_balances_and_is_reproducible(store):
    recs = store.records("train")
    cfg = TrainConfig(seed=3, batch_size=8, crop_s=30, steps_per_epoch=25, seizure_crop_fraction=0.5)
    sampler = CropSampler(store, recs, cfg)
    plan = sampler.epoch_plan(0)
    assert plan == sampler.epoch_plan(0) and plan != sampler.epoch_plan(1)
    crops = [c for batch in plan for c in batch]
    with_seizure = [bool(sampler.labels[c.record][c.start_s:c.start_s + 30].any()) for c in crops]
    natural = sampler.positive_s / sampler.total_s
    assert np.mean(with_seizure) > 0.5 > 3 * natural
    uniform = CropSampler(store, recs, TrainConfig(seed=3, batch_size=8, crop_s=30, steps_per_epoch=25,
                                                   balance="none")).epoch_plan(0)
    frac = np.mean([sampler.labels[c.record][c.start_s:c.start_s + 30].any() for b in uniform for c in b])
    assert frac < np.mean(with_seizure)
    assert sampler.pos_weight() == 1.0
    weighted = CropSampler(store, recs, TrainConfig(balance="weighted_loss"))
    assert weighted.pos_weight() == pytest.approx((sampler.total_s - sampler.positive_s) / sampler.positive_s)
    assert CropSampler(store, recs, TrainConfig(balance="weighted_loss", pos_weight=7.0)).pos_weight() == 7.0


def test_sampler_batches_short_recordings_and_masks(store):
    recs = store.records("train")
    sampler = CropSampler(store, recs, TrainConfig(batch_size=4, crop_s=60, steps_per_epoch=3))
    short = next(i for i, n in enumerate(sampler.n_seconds) if n == 40)
    from seizure.training.sampler import Crop

    x, y, w, m = sampler.load([Crop(short, 0, ()), Crop(0, 10, (0, 1))])
    assert x.shape == (2, 60 * FPS, len(TCP), NF) and y.shape == w.shape == (2, 60)
    assert w[0, :40].all() and not w[0, 40:].any() and not x[0, 40 * FPS:].any()
    assert m[1, 0] == 0 and m[1, 1] == 0 and m[1, 2] == 1
    assert m[0].sum() == sum(recs[short].channel_mask)


def test_channel_dropout_drops_chains_or_channels(store):
    recs = store.records("train")
    cfg = TrainConfig(seed=0, batch_size=16, crop_s=30, steps_per_epoch=20, channel_dropout=1.0,
                      channel_dropout_mode="both", channel_dropout_max=3)
    sampler = CropSampler(store, recs, cfg)
    chains = {tuple(sorted(TCP.index(c) for c in chain)) for chain in MONTAGES["tcp"].chains.values()}
    drops = [c.drop for b in sampler.epoch_plan(0) for c in b]
    assert all(d for d in drops)  # probability 1: every crop loses channels
    as_chain = [d for d in drops if d in chains]
    as_channels = [d for d in drops if d not in chains]
    assert as_chain and as_channels and all(1 <= len(d) <= 3 for d in as_channels)
    assert {len(d) for d in as_chain} <= {2, 4, 6}
    off = CropSampler(store, recs, TrainConfig(channel_dropout=0.0, steps_per_epoch=2))
    assert all(c.drop == () for b in off.epoch_plan(0) for c in b)


def test_feature_statistics_over_usable_channels(store):
    recs = store.records("train")
    mean, std = feature_statistics(store, recs, seconds=10_000, seed=0)
    blocks = []
    for r in recs:
        x = store.features(r.rec_id)
        blocks.append(x[:, np.asarray(r.channel_mask)].reshape(-1, NF))
    allx = np.concatenate(blocks).astype(np.float64)
    assert np.allclose(mean, allx.mean(0), atol=1e-4) and np.allclose(std, allx.std(0), atol=1e-4)


def test_train_command(store, tmp_path, capsys):
    from seizure.commands import train as command

    parser = argparse.ArgumentParser()
    command.add_parser(parser.add_subparsers())
    args = parser.parse_args(["train", str(store.root), str(tmp_path / "out"), *sum((["--set", s] for s in TINY), [])])
    args.quiet = True
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert f"best checkpoint: {tmp_path / 'out' / 'best.pt'}" in out
    assert "operating point: threshold" in out
    # the tiny store's dev split is far shorter than the 4 h that resolve 6 FA/24h: the run says so
    res = checkpoint.load(tmp_path / "out" / "best.pt").summary["dev_resolution"]
    assert not res["resolves_target"] and res["hours_needed"] == 4.0
    assert f"note: the dev split holds {res['hours']:.2f} h, so one false alarm there is" in out


def test_tuning_resolution_says_which_targets_a_split_can_measure():
    from seizure.evaluation import resolution_note, tuning_resolution

    one_hour = tuning_resolution(3600.0, 6.0)
    assert one_hour == {"hours": 1.0, "fa_per_24h_per_false_alarm": 24.0, "resolves_target": False,
                        "hours_needed": 4.0}
    assert "one false alarm there is 24.0 FA/24h" in resolution_note(one_hour, 6.0)
    assert "(4.0 h of dev recordings would resolve it)" in resolution_note(one_hour, 6.0)
    eight_hours = tuning_resolution(8 * 3600.0, 6.0)
    assert eight_hours["resolves_target"] and eight_hours["fa_per_24h_per_false_alarm"] == 3.0
    assert resolution_note(eight_hours, 6.0) == ""
    assert tuning_resolution(4 * 3600.0, 6.0)["resolves_target"]  # one false alarm is exactly the target


def test_operating_point_tolerance_keeps_thresholds_off_the_floor():
    """One weak dev seizure is not bought with a near-zero threshold when a tolerance of one
    event is allowed; without tolerance it is."""
    from seizure.postprocess import OperatingPoint
    from seizure.training.config import PostprocessConfig
    from seizure.evaluation import choose_operating_point, det_area

    records, probs = [], []
    for i in range(6):
        p = np.zeros(3600)
        seizures = [[100.0, 160.0]]
        p[100:160] = 0.95 if i else 0.04  # recording 0 holds the weak seizure
        if i == 1:
            p[2000:2030] = 0.045          # background bump just above the weak seizure's level
        records.append(RecordMeta(rec_id=f"r{i}", split="dev", patient=f"p{i}", edf_path="x", seizures=seizures))
        probs.append(p)
    pp = PostprocessConfig(target_fa_per_24h=10.0, smooth_s=(0.0,), min_duration_s=(0.0,), merge_gap_s=(0.0,))
    op, sens, fa, reached = choose_operating_point(probs, records, pp)
    assert reached and sens == pytest.approx(5 / 6) and fa == 0.0 and op.threshold > 0.5
    strict = PostprocessConfig(target_fa_per_24h=10.0, tolerance_events=0.0, smooth_s=(0.0,),
                               min_duration_s=(0.0,), merge_gap_s=(0.0,))
    op0, sens0, fa0, _ = choose_operating_point(probs, records, strict)
    assert sens0 == 1.0 and op0.threshold < 0.04 and fa0 == pytest.approx(4.0)  # 1 FA in 6 h
    # the partial DET area averages the best sensitivity over FA budgets 0, 2.5, 5, 7.5, 10:
    # 5/6 at 0 FA, 1.0 once one false alarm (4 FA/24h) is allowed
    points: list = []
    choose_operating_point(probs, records, pp, points)
    assert det_area(points, 10.0) == pytest.approx((5 / 6 + 5 / 6 + 1 + 1 + 1) / 5)
    never = PostprocessConfig(target_fa_per_24h=0.001, smooth_s=(0.0,), min_duration_s=(0.0,), merge_gap_s=(0.0,))
    noisy = [np.zeros(3600) for _ in records]
    for p in noisy:
        p[2000:2030] = 1.0  # a false alarm at every threshold
    op_n, _, _, reached_n = choose_operating_point(noisy, records, never)
    assert not reached_n and isinstance(op_n, OperatingPoint)


def test_select_last_keeps_the_final_epoch(store, tmp_path, monkeypatch):
    from seizure.postprocess import OperatingPoint

    results = iter([0.9, 0.5, 0.6])  # dev is best at epoch 1

    def fake_dev(*args, **kwargs):
        area = next(results)
        return DevResult(loss=1 - area, sensitivity=area, fa_per_24h=0.0, operating_point=OperatingPoint(area),
                         hours=0.1, n_seizures=1, det_area=area)

    monkeypatch.setattr(loop, "dev_result", fake_dev)
    last = train(store.root, tmp_path / "last", tiny("train.epochs=3", "train.select='last'"))
    assert last.summary["best_epoch"] == 3 and last.operating_point.threshold == 0.6
    results = iter([0.9, 0.5, 0.6])
    best = train(store.root, tmp_path / "dev", tiny("train.epochs=3"))
    assert best.summary["best_epoch"] == 1 and best.operating_point.threshold == 0.9


def test_sparse_vd_training_reports_sparsity(store, tmp_path):
    cfg = tiny("model.regularizers=['sparse_vd']", "model.reg.sparse_vd_kl_warmup_epochs=1")
    result = train(store.root, tmp_path, cfg)
    sp = result.summary["sparsity"]
    assert sp["svd_weights"] > 0 and 0.0 <= sp["sparsity"] <= 1.0 and sp["compressed_bytes"] > 0
    assert torch.load(result.best_path, weights_only=True)["summary"]["sparsity"] == sp
    assert all(row["kl"] > 0 for row in result.metrics)
    assert result.metrics[result.summary["best_epoch"] - 1]["sparsity"] == pytest.approx(sp["sparsity"])


def test_operating_point_plateau_middle_leaves_the_conservative_end():
    """Every threshold between the background's 0.3 and the seizures' 0.95 finds all seizures
    with no false alarm: ``high`` takes the top of that plateau, ``middle`` its middle."""
    from seizure.training.config import PostprocessConfig
    from seizure.evaluation import choose_operating_point

    records, probs = [], []
    for i in range(4):
        p = np.full(3600, 0.02)
        p[100:160] = 0.95
        p[2000:2030] = 0.3  # a background bump: any threshold <= 0.3 makes a false alarm
        records.append(RecordMeta(rec_id=f"r{i}", split="dev", patient=f"p{i}", edf_path="x", seizures=[[100.0, 160.0]]))
        probs.append(p)
    one = {"smooth_s": (0.0,), "min_duration_s": (0.0,), "merge_gap_s": (0.0,)}
    op_hi, sens_hi, fa_hi, _ = choose_operating_point(probs, records, PostprocessConfig(**one))
    op_mid, sens_mid, fa_mid, _ = choose_operating_point(probs, records, PostprocessConfig(plateau="middle", **one))
    assert sens_hi == sens_mid == 1.0 and fa_hi == fa_mid == 0.0
    assert op_hi.threshold == pytest.approx(0.945)
    plateau = [t for t in (np.arange(100) + 0.5) / 100 if 0.3 < t < 0.95]  # 0.305 .. 0.945
    assert op_mid.threshold == pytest.approx(plateau[(len(plateau) - 1) // 2])
    assert 0.55 < op_mid.threshold < 0.7


def test_gain_jitter_moves_only_what_a_gain_moves(store):
    """Amplitude jitter: per-crop and per-channel gains, drawn per (seed, epoch); off draws nothing."""
    from seizure.preprocess import features

    recs = store.records("train")
    base = dict(seed=2, batch_size=4, crop_s=30, steps_per_epoch=3)
    off = CropSampler(store, recs, TrainConfig(**base))
    on = CropSampler(store, recs, TrainConfig(**base, amplitude_jitter_db=6.0, channel_jitter_db=2.0))
    assert all(c.gain_db == () for b in off.epoch_plan(0) for c in b)
    plan = on.epoch_plan(0)
    assert plan == on.epoch_plan(0) and plan != on.epoch_plan(1)
    gains = np.array([c.gain_db for b in plan for c in b])
    assert gains.shape == (12, len(TCP)) and gains.std() > 1.0
    assert gains.std(axis=1).mean() < gains.mean(axis=1).std()  # the common per-crop part dominates
    plain = [_without_gain(c) for c in plan[0]]
    x_on, y_on, w_on, m_on = on.load(plan[0])
    x_off, y_off, _, _ = off.load(plain)
    assert np.array_equal(y_on, y_off)
    expected = x_off.copy()
    for i, c in enumerate(plan[0]):
        n = int(w_on[i].sum()) * FPS
        features.get(RECIPE.feature).apply_gain(expected[i, :n], np.asarray(c.gain_db), RECIPE.feature_params)
    assert np.allclose(x_on, expected) and not np.allclose(x_on, x_off)


def _without_gain(crop):
    import dataclasses

    return dataclasses.replace(crop, gain_db=())


def test_time_warp_resamples_frames_and_labels_together(store):
    """Warping draws one factor per crop in [1/1.25, 1.25]; a factor of 2 reads twice the seconds
    (each output frame the mean of two neighbours, each second the label of the source second
    at its middle); off draws nothing (the plans of configs without it are unchanged)."""
    import dataclasses

    from seizure.training.sampler import _warped

    recs = store.records("train")
    base = dict(seed=2, batch_size=4, crop_s=30, steps_per_epoch=3)
    off = CropSampler(store, recs, TrainConfig(**base))
    on = CropSampler(store, recs, TrainConfig(**base, time_warp=0.25))
    plan_off, plan_on = off.epoch_plan(0), on.epoch_plan(0)
    assert all(c.warp == 1.0 for b in plan_off for c in b)
    assert plan_on == on.epoch_plan(0) and plan_on[0][0].start_s == plan_off[0][0].start_s
    warps = np.array([c.warp for b in plan_on for c in b])
    assert (warps >= 1 / 1.25 - 1e-9).all() and (warps <= 1.25 + 1e-9).all() and warps.std() > 0.05

    crop = dataclasses.replace(plan_off[0][0], start_s=0, warp=2.0)
    x, y, w, _ = on.load([crop])
    feats = store.features(recs[crop.record].rec_id)
    labels = store.labels(recs[crop.record].rec_id)
    n = int(w[0].sum())
    assert n == min(30, len(labels) // 2)
    np.testing.assert_allclose(x[0, :n * FPS], (feats[0:2 * n * FPS:2] + feats[1:2 * n * FPS:2]) / 2, rtol=1e-5,
                               atol=1e-5)
    np.testing.assert_array_equal(y[0, :n], labels[1:2 * n:2])  # second k: source second 2k + 1
    frames = np.arange(40, dtype=np.float32).reshape(40, 1, 1)
    same, lab = _warped(frames, np.arange(4), 4, 10, 1.0)  # a factor of 1 is the identity
    np.testing.assert_array_equal(same, frames) and np.testing.assert_array_equal(lab, np.arange(4))
    with pytest.raises(ValueError, match="time_warp"):
        TrainConfig(time_warp=1.5)


def test_hard_negative_crops_cover_the_mined_seconds(store):
    """Mining weights: background seconds the model scored >= HARD_MIN_PROB, by probability;
    with a fraction of 1 every background crop holds a mined second; off, nothing changes."""
    from seizure.training.sampler import HARD_MIN_PROB

    recs = store.records("train")
    base = dict(seed=3, batch_size=8, crop_s=30, steps_per_epoch=4, seizure_crop_fraction=0.25)
    off = CropSampler(store, recs, TrainConfig(**base))
    on = CropSampler(store, recs, TrainConfig(**base, hard_negative_fraction=1.0))
    assert on.epoch_plan(1) == off.epoch_plan(1)  # no weights yet (the first epoch): the usual draw
    probs = [np.full(len(y), 0.05, dtype=np.float32) for y in on.labels]
    rec = next(k for k, y in enumerate(on.labels) if len(y) > 100 and y.any())
    hot = int(np.flatnonzero(on.labels[rec] == 0)[-1])  # a background second
    probs[rec][hot] = 0.9
    probs[rec][on.labels[rec] == 1] = 0.99  # seizure seconds are never mined
    on.set_hard_negatives(probs)
    assert on.hard_weights.sum() == pytest.approx(0.9) and HARD_MIN_PROB > 0.05
    plan = [c for b in on.epoch_plan(1) for c in b]
    background = [c for c in plan if not c.seizure]
    assert background and all(c.record == rec and c.start_s <= hot < c.start_s + 30 for c in background)
    on.set_hard_negatives([np.zeros(len(y), np.float32) for y in on.labels])  # nothing hard: the usual draw
    assert on.hard_weights is None and on.epoch_plan(1) == off.epoch_plan(1)
    with pytest.raises(ValueError, match="training records have"):
        on.set_hard_weights(np.ones(3))


def test_min_steps_per_epoch_floors_a_small_training_set(store):
    recs = store.records("train")
    one_pass = CropSampler(store, recs, TrainConfig(batch_size=4, crop_s=60)).steps_per_epoch
    assert CropSampler(store, recs, TrainConfig(batch_size=4, crop_s=60, min_steps_per_epoch=one_pass + 7)
                       ).steps_per_epoch == one_pass + 7
    assert CropSampler(store, recs, TrainConfig(batch_size=4, crop_s=60, min_steps_per_epoch=1)).steps_per_epoch == one_pass
    assert CropSampler(store, recs, TrainConfig(batch_size=4, crop_s=60, steps_per_epoch=2,
                                                min_steps_per_epoch=50)).steps_per_epoch == 2

