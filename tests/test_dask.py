"""Preprocessing on a Dask cluster (the ``dask`` extra): the store equals the local one byte for
byte, a killed worker's recording is retried, a recording that keeps failing is recorded."""

import os
import signal
import sys
from pathlib import Path

import numpy as np
import pytest

distributed = pytest.importorskip("distributed", reason="the dask extra is not installed: pip install 'seizure[dask]'")
import cloudpickle  # noqa: E402
import dask  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bad_inputs import CASES, write_case  # noqa: E402
from test_corpus import v2_tree  # noqa: E402

from seizure.corpus import preprocess  # noqa: E402
from seizure.parallel import Executor  # noqa: E402
from seizure.preprocess.recipe import Recipe  # noqa: E402
from seizure.store import FeatureStore  # noqa: E402

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the plugin below travels to the workers
RECIPE = Recipe(feature="raw")
BROKEN = "aaaaaaae_s001_t000"


class KillOn(distributed.WorkerPlugin):
    """SIGKILL the worker process when it starts a task whose key names ``rec_id`` (the first
    ``times`` times, counted in a file: a fresh worker does not remember)."""

    def __init__(self, rec_id: str, tally: str, times: int):
        self.rec_id, self.tally, self.times = rec_id, tally, times

    def transition(self, key, start, finish, **kwargs):
        if finish == "executing" and f"-{self.rec_id}-" in str(key):
            with open(self.tally, "a") as fh:
                fh.write("x")
            if len(Path(self.tally).read_text()) <= self.times:
                os.kill(os.getpid(), signal.SIGKILL)


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != ".preprocess.lock"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dask")
    root = v2_tree(tmp / "tusz")
    folder = root / "edf" / "eval" / "aaaaaaae" / "s001_2010" / "01_tcp_ar"
    folder.mkdir(parents=True)
    write_case(CASES["edf/truncated_mid_record"], folder, BROKEN)  # fails on every executor
    local = preprocess(root, tmp / "local", RECIPE)
    assert (local.done, local.failed) == (5, 1)
    return root, tmp / "local"


@pytest.fixture(scope="module")
def cluster():
    with dask.config.set({"distributed.scheduler.allowed-failures": 1, "distributed.scheduler.worker-saturation": 1.0}):
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                      silence_logs=50) as c, distributed.Client(c) as client:
            yield c, client


def test_local_cluster_of_two_workers_makes_the_local_store_byte_for_byte(corpus, tmp_path, caplog):
    root, local = corpus
    caplog.set_level("INFO", logger="seizure.parallel")
    summary = preprocess(root, tmp_path / "store", RECIPE, jobs=2, executor=Executor("dask"))
    assert (summary.done, summary.failed) == (5, 1)
    assert summary.failures[0][0] == BROKEN and summary.failures[0][1].startswith("EDFError")
    assert tree_bytes(tmp_path / "store") == tree_bytes(local)
    assert "Dask LocalCluster of 2 worker process(es); dashboard http" in caplog.text


def _preprocess_killing(root, c, client, tmp_path, rec_id: str, times: int):
    """Preprocess on the cluster while a worker plugin kills the worker holding ``rec_id``
    (up to ``times`` times; each kill adds an "x" to ``tmp_path/tally``)."""
    client.register_plugin(KillOn(rec_id, str(tmp_path / "tally"), times), name="kill")
    try:
        return preprocess(root, tmp_path / "store", RECIPE, executor=Executor("dask", c.scheduler_address))
    finally:
        client.unregister_worker_plugin("kill")


def test_a_worker_killed_once_is_retried_and_the_store_is_still_identical(corpus, cluster, tmp_path):
    root, local = corpus
    c, client = cluster
    summary = _preprocess_killing(root, c, client, tmp_path, "aaaaaaab_s001_t000", times=1)
    assert (tmp_path / "tally").read_text() == "xx"  # killed once, run again
    assert (summary.done, summary.failed) == (5, 1)
    assert tree_bytes(tmp_path / "store") == tree_bytes(local)
    assert not [p for p in (tmp_path / "store" / "records").iterdir() if p.name.startswith(".")]


def test_a_recording_that_keeps_killing_its_worker_is_recorded_as_failed_and_the_rest_complete(
        corpus, cluster, tmp_path):
    root, local = corpus
    c, client = cluster
    summary = _preprocess_killing(root, c, client, tmp_path, "aaaaaaac_s001_t000", times=99)
    assert (tmp_path / "tally").read_text() == "xx"  # 1 + allowed-failures attempts
    assert (summary.done, summary.failed) == (4, 2)
    reasons = dict(summary.failures)
    assert reasons["aaaaaaac_s001_t000"].startswith("worker process died (killed or out of memory?)")
    store = FeatureStore(tmp_path / "store")
    [meta] = [m for m in store.records(status="error") if m.rec_id == "aaaaaaac_s001_t000"]
    assert meta.error == reasons["aaaaaaac_s001_t000"]
    ok = tree_bytes(tmp_path / "store")
    for name, data in tree_bytes(local).items():  # every other recording as the local run made it
        if "aaaaaaac" not in name and name != "manifest.csv":
            assert ok[name] == data, name
    # a later run retries it (here without the fault) and the store becomes the local one
    again = preprocess(root, tmp_path / "store", RECIPE, executor=Executor("dask", c.scheduler_address))
    assert (again.skipped, again.done, again.failed) == (4, 1, 1)
    assert tree_bytes(tmp_path / "store") == tree_bytes(local)


def test_folder_scoring_on_the_cluster_writes_what_local_scoring_writes_and_shards_split_the_inputs(
        corpus, cluster, tmp_path):
    from bad_inputs import tiny_checkpoint

    from seizure.detect import detect_files as score_files

    root, _ = corpus
    c, _ = cluster
    model = tiny_checkpoint(tmp_path / "model.pt")
    local = score_files(model, [root], tmp_path / "local", probabilities=True)
    on_dask = score_files(model, [root], tmp_path / "dask", probabilities=True,
                          executor=Executor("dask", c.scheduler_address))
    assert [r.name for r in on_dask.results] == [r.name for r in local.results] and len(local.results) == 5
    assert [f[0].name for f in on_dask.failures] == [f[0].name for f in local.failures] == [f"{BROKEN}.edf"]
    for a, b in zip(local.results, on_dask.results):  # one torch thread there: last-digit differences only
        np.testing.assert_allclose(b.probs, a.probs, atol=1e-5)
        assert [(e.start_s, e.stop_s) for e in b.events] == [(e.start_s, e.stop_s) for e in a.events]
        assert sorted(p.name for p in b.outputs.values()) == sorted(p.name for p in a.outputs.values())
        assert all(p.parent == tmp_path / "dask" and p.is_file() for p in b.outputs.values())
    halves = [score_files(model, [root], tmp_path / "shards", shard=f"{i}/2") for i in (1, 2)]
    assert sorted(r.name for h in halves for r in h.results) == sorted(r.name for r in local.results)
    assert {len(h.results) + len(h.failures) for h in halves} == {3}
