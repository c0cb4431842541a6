"""Settings are declared once: their constraints are checked the same way from Python and from
the command line, and errors name the parameter the way the caller wrote it."""

import pytest

from helpers import run_cli
from softmaxreg.config import PARAMS, RECIPES, TrainConfig
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
