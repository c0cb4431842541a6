"""The PyTorch boundary, as users run the commands: loading a model, predicting, evaluating and
serving need numpy, Pillow and safetensors only (import-linter holds the modules to it; this
checks the processes themselves)."""

import io
import subprocess
import sys

import pytest
from PIL import Image

from helpers import Server, make_images, multipart, require_serve_extra


@pytest.fixture
def run(tiny_run):
    return tiny_run.path, tiny_run.data


def without_torch(code: str) -> None:
    """Run `code` in a fresh interpreter, then check that torch was never imported."""
    check = "\nimport sys\nassert 'torch' not in sys.modules, 'torch was imported'\n"
    proc = subprocess.run([sys.executable, "-c", code + check], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_load_and_predict_in_python(run):
    folder, data = run
    without_torch(
        "import softmaxreg\n"
        "from softmaxreg.data import load_dataset\n"
        f"clf = softmaxreg.load({str(folder)!r})\n"
        f"d = load_dataset('idx', {str(data)!r})\n"
        "assert clf.score(d.test_images, d.test_labels) > 0.5\n"
    )


@pytest.mark.parametrize("command", ["predict", "evaluate", "report", "export"])
def test_commands_that_use_a_model(run, command):
    folder, data = run
    argv = {
        "predict": ["predict", "--model", str(folder), str(data / "t10k-images-idx3-ubyte.gz")],
        "evaluate": ["evaluate", str(folder)],
        "report": ["report", str(folder)],
        "export": ["export", str(folder), "--onnx", str(folder.parent / "model.onnx")],
    }[command]
    without_torch(f"from softmaxreg.cli import main\nassert main({argv!r}) == 0\n")


def test_a_running_server_never_imports_torch(run):
    """The server's own process, after it has answered a page, a prediction and an error."""
    require_serve_extra()
    folder, _ = run
    picture = io.BytesIO()
    Image.fromarray(make_images(1, 3)[0][0]).save(picture, "PNG")
    with Server(folder) as server:
        assert server.request("GET", "/")[0] == 200
        body, content_type = multipart({"image": ("picture.png", picture.getvalue())})
        status, answer = server.request("POST", "/predict", body, {"Content-Type": content_type})
        assert status == 200 and answer["top"][0]["class"] in ("a", "b", "c")
        assert server.request("POST", "/predict", b"x", {"Content-Type": "image/png"})[0] == 400
        assert server.get_json("/health")["torch_loaded"] is False
