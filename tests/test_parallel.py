"""The parallel seam (seizure.parallel) with the local backend, sharding and merging of stores."""

import os
import signal
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_corpus import v2_tree  # noqa: E402

from seizure import parallel  # noqa: E402
from seizure.cli import main  # noqa: E402
from seizure.corpus import merge_stores, preprocess, shard_of, discover  # noqa: E402
from seizure.errors import ConfigError  # noqa: E402
from seizure.preprocess.recipe import Recipe  # noqa: E402


def square(x: int) -> int:
    if x == 3:
        raise ValueError("three is not allowed")
    return x * x


def die(task: tuple[str, int, int]) -> int:
    """SIGKILL this worker process the first ``times`` times task ``x`` runs (counted in a file)."""
    folder, x, times = task
    tally = Path(folder) / f"{x}.runs"
    with open(tally, "a") as fh:
        fh.write("x")
    if len(tally.read_text()) <= times:
        os.kill(os.getpid(), signal.SIGKILL)
    return x


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != ".preprocess.lock"}


@pytest.mark.parametrize("jobs", [1, 2])
def test_results_in_task_order_failures_listed_and_callback_in_the_driver(jobs):
    seen = []
    res = parallel.run(range(6), square, jobs, on_result=lambda i, r: seen.append((i, r, os.getpid())) or r != 16)
    assert res.results == [0, 1, 4, None, 16, 25]
    assert [(f.index, f.task, f.lost) for f in res.failures] == [(3, 3, False)]
    assert res.failures[0].reason == "ValueError: three is not allowed"
    assert sorted(seen) == [(i, i * i, os.getpid()) for i in (0, 1, 2, 4, 5)]


def test_a_worker_killed_once_is_replaced_and_its_task_run_again(tmp_path):
    tasks = [(str(tmp_path), x, 1 if x == 2 else 0) for x in range(5)]
    res = parallel.run(tasks, die, 2)
    assert res.results == [0, 1, 2, 3, 4] and res.failures == []
    assert (tmp_path / "2.runs").read_text() == "xx"


def test_a_task_that_always_kills_its_worker_fails_after_bounded_retries_and_the_rest_complete(tmp_path):
    tasks = [(str(tmp_path), x, 99 if x == 1 else 0) for x in range(4)]
    res = parallel.run(tasks, die, 2, executor=parallel.Executor(retries=1))
    assert res.results == [0, None, 2, 3]
    [failure] = res.failures
    assert failure.index == 1 and failure.lost and "worker process died" in failure.reason
    assert (tmp_path / "1.runs").read_text() == "xx"  # 1 + retries attempts
    assert all((tmp_path / f"{x}.runs").read_text() in ("x", "xx") for x in (0, 2, 3))


def test_bad_executor_settings_are_refused():
    with pytest.raises(ConfigError, match="unknown executor 'spark'; valid executors: local, dask"):
        parallel.Executor("spark")
    with pytest.raises(ConfigError, match="needs the dask executor"):
        parallel.executor_for("local", "tcp://h:8786")
    assert parallel.executor_for(None, "tcp://h:8786") == parallel.Executor("dask", "tcp://h:8786")
    with pytest.raises(ConfigError, match="jobs must be a positive integer"):
        parallel.run([1], square, 0)
    for text in ("0/4", "5/4", "2", "a/b"):
        with pytest.raises(ConfigError, match="shard must be i/N"):
            parallel.parse_shard(text)
    assert parallel.parse_shard(" 2/8 ") == (2, 8)


def test_dask_executor_without_dask_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    root = v2_tree(tmp_path / "tusz")
    assert main(["preprocess", str(root), str(tmp_path / "store"), "--executor", "dask"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "error: --executor dask needs Dask distributed: pip install 'seizure[dask]'"


def test_shards_partition_the_corpus_and_merge_into_the_store_of_one_run(tmp_path, capsys):
    root = v2_tree(tmp_path / "tusz")
    entries = discover(root)
    shards = [shard_of(entries, i, 2) for i in (1, 2)]
    assert sorted(e.rec_id for s in shards for e in s) == sorted(e.rec_id for e in entries)
    assert {len(s) for s in shards} == {2, 3} and shard_of(entries, 1, 2) == shards[0]  # deterministic
    (root / "edf/train/aaaaaaaa/s001_2013/01_tcp_ar/aaaaaaaa_s001_t000.edf").write_bytes(b"0" * 300)  # fails
    whole = preprocess(root, tmp_path / "whole", Recipe(feature="raw"))
    for i in (1, 2):
        assert main(["-q", "preprocess", str(root), str(tmp_path / f"shard{i}"), "--set", "recipe.feature=raw",
                     "--shard", f"{i}/2"]) in (0, 1)
    assert main(["merge", str(tmp_path / "merged"), str(tmp_path / "shard1"), str(tmp_path / "shard2")]) == 0
    assert "5 recording(s) found: 4 processed" in capsys.readouterr().out
    assert whole.failed == 1
    assert tree_bytes(tmp_path / "merged") == tree_bytes(tmp_path / "whole")
    with pytest.raises(Exception, match="is in two shards"):
        merge_stores(tmp_path / "again", [tmp_path / "shard1", tmp_path / "whole"])
