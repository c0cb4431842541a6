"""Carrying a model out of softmaxreg: export RUN --onnx FILE. No torch."""

from __future__ import annotations

import argparse


def add_parsers(sub) -> None:
    ex = sub.add_parser("export", help="write a model as ONNX, for onnxruntime and others")
    ex.add_argument("run", metavar="RUN", help="a run folder or a model .safetensors file")
    ex.add_argument(
        "--onnx",
        required=True,
        metavar="FILE.onnx",
        help="write an ONNX model: input 'images' float32 (N, 1, H, W) in [0, 1], outputs "
        "'logits' and 'probabilities', class names in its metadata",
    )
    ex.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    from ..inference import Classifier
    from ..inference.export import INPUT, export_onnx

    clf = Classifier.load(args.run)
    path = export_onnx(clf, args.onnx)
    height, width = clf.image_shape
    unfinished = (
        " (an unfinished run: its last checkpoint)" if clf.meta.get("kind") == "checkpoint" else ""
    )
    print(
        f"wrote {path}{unfinished}: input '{INPUT}' float32 (N, 1, {height}, {width}) in [0, 1]; "
        f"outputs 'logits' and 'probabilities' over {len(clf.classes)} classes"
    )
    return 0
