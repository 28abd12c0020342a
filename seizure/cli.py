"""The ``seizure`` console command: parses arguments and calls one pure function per command.

Each sub-command lives in ``seizure/commands/<name>.py`` and defines
``add_parser(subparsers)`` and ``run(args) -> int``. Command modules import heavy
libraries (torch, mne, matplotlib) inside ``run`` so ``seizure --help`` stays fast.

Exit codes: 0 success, 1 a :class:`~seizure.errors.SeizureError` (or some inputs
failed), 2 usage errors. ``--debug`` shows tracebacks.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from seizure import __version__
from seizure.errors import SeizureError

COMMANDS = ("inspect", "synth", "preprocess", "merge", "train", "evaluate", "score", "demo", "study", "export")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seizure",
        description="EEG seizure detection on TUSZ-layout corpora (CNN + LSTM/GRU, NEDC and SzCORE scoring).",
    )
    parser.add_argument("--version", action="version", version=f"seizure {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(f"seizure.commands.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    logging.captureWarnings(True)
    try:
        return int(args.func(args) or 0)
    except SeizureError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
