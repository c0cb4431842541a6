"""Settings are declared once: their constraints are checked the same way from Python and from
the command line, and errors name the parameter the way the caller wrote it."""

import pytest

from helpers import run_cli
from softmaxreg.config import PARAMS, RECIPES, TrainConfig, cosine_lr, format_setting
from softmaxreg.errors import ConfigError


def test_a_recipe_given_to_the_constructor_is_the_recipe():
    tuned = TrainConfig(recipe="tuned")
    assert {k: getattr(tuned, k) for k in RECIPES["tuned"]} == RECIPES["tuned"]
    assert tuned == TrainConfig.from_recipe("tuned")
    shorter = TrainConfig(recipe="tuned", epochs=3)
    assert shorter.epochs == 3 and shorter.batch_size == 512 and shorter.recipe == "tuned"
    assert TrainConfig().epochs == 10 and TrainConfig().recipe == "book"
    assert TrainConfig(recipe="seed").recipe == "book"  # run folders from before the rename


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"epochs": 0}, "epochs must be a positive integer, got 0"),
        ({"lr": float("nan")}, "lr must be a positive finite number, got nan"),
        ({"momentum": 1.0}, "momentum must be a number in [0, 1), got 1.0"),
        ({"seed": True}, "seed must be a non-negative integer, got True"),
        ({"nesterov": 1}, "nesterov must be true or false, got 1"),
        ({"engine": "gpu"}, "engine: unknown engine 'gpu'; choose one of: auto, fused, autograd"),
        ({"nesterov": True}, "nesterov needs a positive momentum"),
        ({"recipe": "fast"}, "recipe: unknown recipe 'fast'; choose one of: book, tuned"),
        ({"epoch": 3}, "unknown setting(s) epoch"),
    ],
)
def test_python_errors_name_the_parameter(settings, message):
    with pytest.raises(ConfigError) as err:
        TrainConfig(**settings)
    assert str(err.value).startswith(message)


def test_every_setting_is_a_flag_of_train():
    rc, out, err = run_cli("train", "--help")
    assert rc == 0, err
    for name in PARAMS:
        assert "--" + name.replace("_", "-") in out, name


def test_settings_are_written_one_way_exact_where_names_need_every_digit():
    cases = [(None, "none", "none"), (True, "true", "true"), (3, "3", "3"), ("idx", "idx", "idx")]
    cases += [(1.0, "1", "1"), (1e-05, "1e-05", "1e-05"), (0.1 + 0.2, "0.3", "0.30000000000000004")]
    for value, short, exact in cases:
        assert (format_setting(value), format_setting(value, exact=True)) == (short, exact)


def test_the_cosine_schedule_runs_from_lr_down_to_a_hundredth():
    tuned = TrainConfig(recipe="tuned")
    assert [tuned.lr_at(e) for e in range(16)] == [cosine_lr(0.2, e, 16) for e in range(16)]
    assert cosine_lr(0.2, 0, 16) == 0.2 and cosine_lr(0.2, 16, 16) == pytest.approx(0.002)
    assert TrainConfig(lr=0.3).lr_at(5) == 0.3


@pytest.mark.parametrize("state", ["finished", "unfinished"])
def test_a_run_folder_refused_from_python_names_the_parameters(tmp_path, state):
    """The same refusal the CLI words with --out/--overwrite/--resume, from Python."""
    from softmaxreg.records import RunDir

    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    run.file(RunDir.CONFIG).write_text("{}")
    if state == "finished":
        run.file(RunDir.MODEL).write_bytes(b"")
    with pytest.raises(ConfigError) as err:
        RunDir.create(run.path)
    article = "a" if state == "finished" else "an"
    expected = f"out {run.path}: already holds {article} {state} run; pass overwrite to replace it"
    assert expected in str(err.value)
    assert ("resume to continue it" in str(err.value)) == (state == "unfinished")
    assert "--" not in str(err.value)
