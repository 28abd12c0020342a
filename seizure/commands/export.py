"""``seizure export CHECKPOINT --format onnx|torchscript OUT``: a portable model."""

from __future__ import annotations

import argparse

from seizure.export import FORMATS


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export",
        help="export a trained model to ONNX or TorchScript, with its recipe and operating point (JSON)",
        description="Write the checkpoint's network as ONNX (needs the onnx extra) or TorchScript to OUT and, "
        "beside it, OUT's name with .json: the preprocessing recipe, operating point, channel order, feature "
        "geometry and the scoring windows. The exported model maps features (batch, frames, channels, "
        "features) and a channel mask (batch, channels) to per-second probabilities; it is checked against "
        "the checkpoint before it is written.",
    )
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="checkpoint written by `seizure train` (best.pt)")
    p.add_argument("out", metavar="OUT", help="the model file to write (e.g. model.onnx or model.ts)")
    p.add_argument("--format", required=True, choices=FORMATS, help="onnx or torchscript")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from seizure.export import export

    result = export(args.checkpoint, args.format, args.out)
    print(f"wrote {result.model_path} ({result.format}) and {result.meta_path}; largest difference from the "
          f"checkpoint in the check: {result.max_abs_diff:.2g}")
    return 0
