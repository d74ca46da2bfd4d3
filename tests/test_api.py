"""The Python API: every stage is callable as lociflow.<stage>(...), before and after import."""

import importlib

import lociflow


def test_stage_names_stay_callable_after_their_modules_are_imported():
    for stage in ("preprocess", "train", "evaluate", "predict", "interpret", "search"):
        importlib.import_module(f"lociflow.{stage}")
        assert callable(getattr(lociflow, stage)), stage


def test_preprocess_submodule_import_keeps_the_function():
    importlib.import_module("lociflow.preprocess.split")
    assert callable(lociflow.preprocess)
    assert lociflow.load_model.__name__ == "load_model"


def test_every_stage_command_takes_seed_config_name_force_and_set():
    from typer.testing import CliRunner

    from lociflow.cli import app

    for stage in ("preprocess", "train", "evaluate", "predict", "interpret", "search"):
        result = CliRunner().invoke(app, [stage, "--help"])
        assert result.exit_code == 0, stage
        for option in ("--seed", "--config", "--name", "--force", "--set", "--output"):
            assert option in result.output, (stage, option)
