"""The shipped example configs parse as every stage reads them, so `make demo`,
`make demo-full` and the README's commands never fail on a config error."""

from __future__ import annotations

from pathlib import Path

import pytest

from lociflow.config import (
    InterpretConfig,
    PredictConfig,
    PreprocessConfig,
    TrainConfig,
    load_stage,
)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize("name", ["demo.yaml", "pum2.yaml"])
def test_demo_configs_parse_for_every_stage_the_demo_runs(name):
    path = EXAMPLES / name
    pre = load_stage(PreprocessConfig, "preprocess", path)
    assert all(f.exists() for files in pre.classes.values() for f in files)
    train = load_stage(TrainConfig, "train", path)
    predict = load_stage(PredictConfig, "predict", path)
    interpret = load_stage(InterpretConfig, "interpret", path)
    assert predict.attribute == "ig" and interpret.motifs == ["UGUAAAUA"]
    if name == "demo.yaml":  # the quick one stays quick: no folding, few loci and epochs
        assert pre.branches == ["seq"] and sum(pre.reduce.values()) <= 6000 and train.epochs <= 6
        assert interpret.max_loci <= 200 and "modisco" not in interpret.methods


def test_make_demo_runs_the_quick_config_and_demo_full_the_full_one():
    makefile = (EXAMPLES.parent / "Makefile").read_text()
    script = (EXAMPLES / "demo.sh").read_text()
    assert "bash examples/demo.sh\n" in makefile and "bash examples/demo.sh full" in makefile
    assert "CONFIG=examples/pum2.yaml" in script and "CONFIG=examples/demo.yaml" in script
