"""`lociflow <command> --help` is written for a person: placeholders such as FILE and N
instead of Python types, the config's defaults shown, and a --set example that applies."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from lociflow.cli import app
from lociflow.config import (
    EvaluateConfig,
    InterpretConfig,
    PredictConfig,
    SearchConfig,
    TrainConfig,
)

runner = CliRunner()
COMMANDS = ("preprocess", "train", "search", "evaluate", "predict", "interpret", "gui")


def help_text(command: str) -> str:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    return result.output


def option_line(text: str, flag: str) -> str:
    """One option's entry of the help, its wrapped lines joined."""
    entries, current = [], []
    for line in text.split("Options:", 1)[1].splitlines():
        if re.match(r"^  -", line) and current:
            entries.append(" ".join(current))
            current = []
        current.append(line.strip())
    entries.append(" ".join(current))
    return next(e for e in entries if re.match(rf"^(-\w, )?{re.escape(flag)}\b", e))


@pytest.mark.parametrize("command", COMMANDS)
def test_help_shows_placeholders_not_python_types(command):
    text = help_text(command)
    assert not re.search(r"<(list\[str\]|path|str|int|float)>", text), text


def test_input_is_a_file_placeholder_and_says_how_to_give_several():
    for command in ("predict", "interpret"):
        line = option_line(help_text(command), "--input")
        assert "-i, --input FILE..." in line and "-i a.fa b." in line and "-i a.fa -i b" in line


@pytest.mark.parametrize("command, example", [
    ("preprocess", "--set window=200"), ("train", "--set learning_rate=0.0005"), ("search", "--set pruner=hyperband"),
    ("evaluate", "--set positive=unbound"), ("predict", "--set chunk_size=2000"),
    ("interpret", "--set options.ig.steps=100"),
])
def test_each_command_has_a_set_example_that_applies_to_it(command, example):
    text = help_text(command)
    assert example in option_line(text, "--set")
    if command != "preprocess":
        assert "window=200" not in text


@pytest.mark.parametrize("command, flag, config, field", [
    ("train", "--epochs", TrainConfig, "epochs"), ("train", "--ensemble", TrainConfig, "ensemble"),
    ("search", "--trials", SearchConfig, "trials"), ("evaluate", "--batch-size", EvaluateConfig, "batch_size"),
    ("evaluate", "--split", EvaluateConfig, "split"), ("predict", "--chunk-size", PredictConfig, "chunk_size"),
    ("predict", "--device", PredictConfig, "device"), ("interpret", "--batch-size", InterpretConfig, "batch_size"),
    ("interpret", "--max-loci", InterpretConfig, "max_loci"), ("interpret", "--seed", InterpretConfig, "seed"),
])
def test_defaults_shown_are_the_config_defaults(command, flag, config, field):
    line = option_line(help_text(command), flag)
    assert f"[default: ({config.model_fields[field].default})]" in line, line
