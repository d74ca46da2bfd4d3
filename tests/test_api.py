"""The Python API: every stage is a plain function, lociflow.<stage>(...), whatever was imported."""

import importlib
import inspect
import pkgutil

import pytest

import lociflow
from lociflow.layout import STAGES


def _every_module():
    for info in pkgutil.walk_packages(lociflow.__path__, "lociflow."):
        if info.name.startswith("lociflow.gui.screens") or info.name == "lociflow.gui.app":
            continue  # Streamlit pages: they draw when imported
        yield info.name


def test_every_stage_is_a_plain_function_exported_from_the_package():
    assert set(lociflow.STAGE_FUNCTIONS) == set(STAGES)
    for stage in STAGES:
        function = getattr(lociflow, stage)
        assert inspect.isfunction(function), stage
        assert function.__name__ == stage
        module, attr = lociflow.STAGE_FUNCTIONS[stage]
        assert function is getattr(importlib.import_module(module), attr)


def test_no_module_shadows_a_stage_function():
    # importing a module binds it as an attribute of its package: a module named like a
    # stage would replace the function lociflow.<stage>
    for name in _every_module():
        importlib.import_module(name)
    for stage in STAGES:
        assert inspect.isfunction(getattr(lociflow, stage)), stage
    assert lociflow.load_model.__name__ == "load_model"
    assert lociflow.open_dataset.__name__ == "open_dataset"


def test_stage_functions_take_config_output_name_and_force():
    for stage in STAGES:
        parameters = list(inspect.signature(getattr(lociflow, stage)).parameters)
        assert parameters[:4] == ["config", "output", "name", "force"], stage


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'trian'"):
        lociflow.trian  # noqa: B018


def test_seed_is_taken_exactly_where_a_stage_draws_random_numbers(tmp_path):
    # evaluate and predict place new input with the model's own preprocess seed, variants and scan
    # place windows by rule: no --seed
    from typer.testing import CliRunner

    from lociflow.cli import app

    runner = CliRunner()
    for stage in STAGES:
        result = runner.invoke(app, [stage, "--seed", "3", "--config", str(tmp_path / "absent.yaml")])
        assert result.exit_code == 2, (stage, result.output)
        if stage in ("evaluate", "predict", "variants", "scan"):
            assert "No such option: --seed" in result.output, stage
        else:  # the flag is read; the run stops at the missing config file instead
            assert "absent.yaml does not exist" in result.output, (stage, result.output)
