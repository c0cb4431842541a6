"""A trained model as an ONNX file, for runtimes outside Python and softmaxreg (onnxruntime,
onnxruntime-web, OpenVINO, TensorRT, ...).

The graph is the book's model on the book's tensors, built from the numpy weights:

    images (N, 1, H, W) float32 in [0, 1] -> Flatten -> Gemm(W, b) -> logits (N, classes)
                                                          -> Softmax -> probabilities

The weight keeps softmaxreg's (classes, inputs) layout (Gemm with transB=1). The standard
Softmax operator is used rather than the stable form written out in nodes: runtimes recognise
and fuse it, and those the suite runs (onnxruntime and onnx's reference evaluator) subtract
the row maximum first, as section 7.2 does. The class names, the image shape and where the
model came from travel in `metadata_props`, so a file alone is enough to label a prediction.

Needs the `onnx` package (the optional extra `softmaxreg[onnx]`), imported only when a model is
exported; never torch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import CheckpointError, ConfigError, SoftmaxRegError
from ..fileio import atomic_write_bytes
from ..version import __version__
from .classifier import Classifier

if TYPE_CHECKING:
    import onnx

INPUT, LOGITS, PROBABILITIES = "images", "logits", "probabilities"
BATCH = "batch"  # the symbolic name of the dynamic first dimension
# Opset 13 is where every operator used here took its current definition (Softmax along one
# axis, Flatten, Gemm); IR version 7 is the oldest that carries it. Any onnxruntime since 1.7
# (2021) loads the file; a newer opset would shut out older runtimes and gain nothing here.
OPSET = 13
IR_VERSION = 7
SUFFIX = ".onnx"


def check_onnx_path(path: str | Path) -> Path:
    """The --onnx argument: a file name ending in .onnx whose folder exists. The suffix keeps a
    slip such as `--onnx RUN/model.safetensors` from replacing another file."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{{name}} {path}: is a folder; pass a file name ending in .onnx", "onnx")
    if path.suffix.lower() != SUFFIX:
        raise ConfigError(
            f"{{name}}: expected a file name ending in .onnx, got {str(path)!r}", "onnx"
        )
    if not path.parent.is_dir():
        raise ConfigError(
            f"{{name}} {path}: folder {path.parent} does not exist; create it first or choose "
            "another {name}",
            "onnx",
        )
    return path


def export_onnx(run_or_model: str | Path | Classifier, onnx: str | Path) -> Path:
    """Write the model of a run folder, model file or Classifier to the file `onnx`
    (atomically) as an ONNX model checked by `onnx.checker`; returns its path."""
    path = check_onnx_path(onnx)
    clf = run_or_model if isinstance(run_or_model, Classifier) else Classifier.load(run_or_model)
    return atomic_write_bytes(path, onnx_model(clf).SerializeToString())


def onnx_model(clf: Classifier) -> onnx.ModelProto:
    """The classifier as a checked ONNX model (in memory)."""
    onnx = _import_onnx()
    from onnx import TensorProto, helper, numpy_helper

    if len(clf.image_shape) != 2:
        raise CheckpointError(
            f"{clf.path}: image shape {clf.image_shape}; ONNX export takes gray images (H, W)"
        )
    height, width = clf.image_shape
    classes = len(clf.classes)
    graph = helper.make_graph(
        nodes=[
            helper.make_node("Flatten", [INPUT], ["pixels"], axis=1),
            helper.make_node("Gemm", ["pixels", "weight", "bias"], [LOGITS], transB=1),
            helper.make_node("Softmax", [LOGITS], [PROBABILITIES], axis=1),
        ],
        name="softmax_regression",
        inputs=[
            helper.make_tensor_value_info(
                INPUT,
                TensorProto.FLOAT,
                [BATCH, 1, height, width],
                doc_string=f"{_INPUT_DOC}; shape (N, 1, {height}, {width})",
            )
        ],
        outputs=[
            helper.make_tensor_value_info(
                LOGITS, TensorProto.FLOAT, [BATCH, classes], doc_string="x W^T + b"
            ),
            helper.make_tensor_value_info(
                PROBABILITIES,
                TensorProto.FLOAT,
                [BATCH, classes],
                doc_string="softmax of the logits; rows sum to 1, in the order of the "
                "metadata's classes",
            ),
        ],
        initializer=[
            numpy_helper.from_array(clf.weight, "weight"),
            numpy_helper.from_array(clf.bias, "bias"),
        ],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        ir_version=IR_VERSION,
        producer_name="softmaxreg",
        producer_version=__version__,
        doc_string=f"Softmax regression over {classes} classes. Input '{INPUT}': "
        f"{_INPUT_DOC}. Outputs '{LOGITS}' and '{PROBABILITIES}', (N, {classes}). Class names "
        "(JSON) in the metadata under 'classes'.",
    )
    helper.set_model_props(model, metadata(clf))
    onnx.checker.check_model(model, full_check=True)  # full_check: shapes inferred and checked
    return model


_INPUT_DOC = (
    "float32 pixels / 255 in [0, 1], a bright object on a dark background "
    "(as Fashion-MNIST, and the book's ToTensor)"
)


def metadata(clf: Classifier) -> dict[str, str]:
    """What a user of the file needs to read its outputs and know where it came from: the
    class names and image shape (JSON), the version that exported it, and the data set,
    settings and metrics of its training, where the model file recorded them. The metrics
    (final_epoch) are those of the epoch whose weights the file holds: with early stopping the
    kept epoch (kept_epoch), not the last one trained."""
    meta = clf.meta
    history = meta.get("history") or []
    final = meta.get("kept") or meta.get("final") or (history[-1] if history else None)
    props: dict[str, Any] = {
        "classes": list(clf.classes),
        "image_shape": list(clf.image_shape),
        "input": _INPUT_DOC,
        "softmaxreg_version": __version__,
        "trained_with": meta.get("softmaxreg"),
        "dataset": meta.get("dataset"),
        "settings": meta.get("config"),
        "final_epoch": final,
        "kept_epoch": meta.get("kept_epoch"),
        # A run exported before it finished carries its last checkpoint's weights.
        "finished": meta.get("kind") != "checkpoint",
    }
    if clf.run is not None:  # when the run started, from its record
        props["created"] = clf.run.record().get("created")
    return {
        key: value if isinstance(value, str) else json.dumps(value)
        for key, value in props.items()
        if value is not None
    }


def _import_onnx():
    try:
        import onnx
    except ImportError:
        raise SoftmaxRegError(
            "ONNX export needs the onnx package: pip install 'softmaxreg[onnx]'"
        ) from None
    return onnx
