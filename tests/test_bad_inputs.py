"""Every bad input of tests/bad_inputs.py through the real command line: exit status 2, exactly
one line on stderr naming the file or argument, no traceback, and no run folder left behind."""

import pytest
from bad_inputs import CASES

from helpers import assert_clean_error, run_cli


@pytest.fixture
def model(tiny_run):
    return tiny_run.path


@pytest.mark.parametrize("bad", CASES, ids=[c.case for c in CASES])
def test_bad_input_gets_one_line_and_exit_2(bad, tmp_path, model):
    before = sorted(p.name for p in model.iterdir())
    rc, out, err = run_cli(*bad.make(tmp_path, model))
    assert_clean_error(rc, out, err, *bad.expect)
    if bad.started:
        assert not (tmp_path / "out" / "model.safetensors").exists()
    else:
        assert not (tmp_path / "out").exists()
    assert sorted(p.name for p in model.iterdir()) == before  # nothing touched
