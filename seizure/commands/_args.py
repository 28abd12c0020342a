"""Argument types and options shared by the sub-commands (argparse reports bad values, exit 2)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def bounded(cast: Callable[[str], float], what: str, *, low: float | None = None,
            high: float | None = None, low_open: bool = False) -> Callable[[str], float]:
    """An argparse type: ``cast(text)`` within ``[low, high]`` (``(low, high]`` if ``low_open``)."""

    def parse(text: str) -> float:
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        too_low = low is not None and (value <= low if low_open else value < low)
        if too_low or (high is not None and value > high) or (isinstance(value, float) and not math.isfinite(value)):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse


positive_int = bounded(int, "a positive integer", low=1)
count = bounded(int, "an integer >= 0", low=0)
seed = bounded(int, "an integer seed >= 0", low=0)
seconds = bounded(float, "a number of seconds >= 0", low=0.0)
hours = bounded(float, "a number of hours in (0, 200]", low=0.0, high=200.0, low_open=True)


def add_jobs(parser: argparse.ArgumentParser, help_text: str = "worker processes (default 1)") -> None:
    parser.add_argument("-j", "--jobs", type=positive_int, default=1, metavar="N", help=help_text)


def add_set(parser: argparse.ArgumentParser, example: str, metavar: str = "KEY=VALUE") -> None:
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar=metavar,
                        help=f"override one config value (repeatable), e.g. --set {example}")


def add_executor(parser: argparse.ArgumentParser) -> None:
    """``--executor local|dask`` and ``--scheduler ADDRESS`` (see :mod:`seizure.parallel`)."""
    parser.add_argument("--executor", choices=("local", "dask"), default=None,
                        help="where the work runs: local processes (default) or a Dask cluster (needs "
                        "pip install 'seizure[dask]'; without --scheduler a LocalCluster of --jobs workers)")
    parser.add_argument("--scheduler", metavar="ADDRESS", default=None,
                        help="Dask scheduler of an existing cluster, e.g. tcp://host:8786 (implies --executor dask)")


def executor(args: argparse.Namespace):
    """The :class:`seizure.parallel.Executor` named by ``--executor``/``--scheduler``."""
    from seizure.parallel import executor_for

    return executor_for(args.executor, args.scheduler)
