"""Search: the space as written, names checked before any trial, parallel workers on one
study, resuming after an interruption, and a best config that retrains to the same score."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import optuna
import pandas as pd
import pytest
import yaml
from synthetic import write_dataset
from typer.testing import CliRunner

from lociflow.cli import app
from lociflow.config import SearchConfig, load_stage, parse_stage
from lociflow.errors import ConfigError, LociflowError
from lociflow.runs import read_ledger
from lociflow.searching.run import search
from lociflow.training.callbacks import read_history

TINY_BASE = {
    "architecture": {"branches": {"seq": [{"type": "conv", "filters": 8, "kernel": 5, "pool": "max"}]},
                     "common": [{"type": "pool", "mode": "max"}, {"type": "dense", "units": 8}]},
    "epochs": 2, "batch_size": 32, "threads": 1, "early_stopping": {"patience": 10, "min_delta": 0.0},
}
SPACE = {
    "learning_rate": {"type": "float", "low": 0.001, "high": 0.1, "log": True},
    "architecture.branches.seq.0.filters": {"type": "categorical", "choices": [4, 8]},
}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("data") / "seq", n=240, window=40)


@pytest.fixture(scope="module")
def two_worker_search(data, tmp_path_factory):
    """A 4-trial search with two worker processes sharing the default SQLite study."""
    root = tmp_path_factory.mktemp("runs")
    folder = search({"search": {**SPACE, "trials": 4, "workers": 2, "data": str(data)}, "train": TINY_BASE},
                    root, name="parallel")
    return root, folder


def finished_trials(folder: Path) -> list[optuna.trial.FrozenTrial]:
    study = optuna.load_study(study_name=folder.name, storage=f"sqlite:///{folder / 'study.db'}")
    return [t for t in study.get_trials() if t.state.is_finished()]


# --------------------------------------------------------------------------- the space as written


def test_contract_section_parses_as_written(tmp_path):
    path = tmp_path / "search.yaml"
    path.write_text(textwrap.dedent("""\
        search:
          learning_rate: {type: float, low: 0.0001, high: 0.01, log: true}
          batch_size: {type: categorical, choices: [64, 128, 256]}
          preset: {type: categorical, choices: [cnn, cnn_rnn]}
        """))
    config = load_stage(SearchConfig, "search", path)
    assert list(config.space) == ["learning_rate", "batch_size", "preset"]
    assert config.space["batch_size"]["choices"] == [64, 128, 256]
    assert (config.sampler, config.pruner, config.objective) == ("tpe", "median", "val_auroc")


def test_flat_and_nested_spaces_are_the_same_and_mix():
    flat = parse_stage(SearchConfig, {**SPACE, "trials": 3}, "search")
    nested = parse_stage(SearchConfig, {"space": SPACE, "trials": 3}, "search")
    mixed = parse_stage(SearchConfig, {"space": {"learning_rate": SPACE["learning_rate"]},
                                       "architecture.branches.seq.0.filters": SPACE[
                                           "architecture.branches.seq.0.filters"], "trials": 3}, "search")
    assert flat.space == nested.space == mixed.space
    assert parse_stage(SearchConfig, nested.dump(), "search").space == SPACE  # params.yaml reads back


@pytest.mark.parametrize("section, message", [
    ({"trails": 10}, "did you mean 'trials'"),
    ({"lr": {"type": "flaot", "low": 0.1, "high": 1}}, "did you mean 'float'"),
    ({"lr": {"type": "float", "low": 1, "high": 0.1}}, "low (1) must be below high (0.1)"),
    ({"lr": {"type": "float", "low": 0, "high": 0.1, "log": True}}, "log: true needs low above 0"),
    ({"units": {"type": "categorical", "choice": [1, 2]}}, "did you mean 'choices'"),
    ({"units": {"type": "categorical", "choices": [1, 1]}}, "lists a value twice"),
    ({"space": {"lr": SPACE["learning_rate"]}, "lr": SPACE["learning_rate"]}, "given both in space"),
    ({**SPACE, "first_trial": {"learning_rat": 0.01}}, "first_trial.learning_rat: not a parameter of the search "
     "space .did you mean 'learning_rate'"),
    ({**SPACE, "first_trial": {"learning_rate": 5}}, "first_trial.learning_rate: 5 is outside the search space; "
     "give a number from 0.001 to 0.1"),
    ({"units": {"type": "categorical", "choices": [16, 32]}, "first_trial": {"units": 64}},
     "first_trial.units: 64 is outside the search space; give one of .16, 32."),
    ({"n": {"type": "int", "low": 1, "high": 9, "step": 2}, "first_trial": {"n": 4}},
     "first_trial.n: 4 is outside the search space; give an integer from 1 to 9 in steps of 2"),
])
def test_malformed_parameters_are_named_when_read(section, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_stage(SearchConfig, section, "search")


# --------------------------------------------------------------------------- names checked at once


@pytest.mark.parametrize("name, spec, nearest", [
    ("learning_rat", {"type": "float", "low": 0.001, "high": 0.1}, "did you mean 'learning_rate'"),
    ("early_stopping.patiense", {"type": "int", "low": 2, "high": 5}, "did you mean 'early_stopping.patience'"),
    ("layers.sq", {"type": "int", "low": 1, "high": 2}, "did you mean 'seq'"),
    ("architecture.branches.seq.0.filter", {"type": "int", "low": 4, "high": 8}, "did you mean 'filters'"),
    ("architecture.common.5.units", {"type": "int", "low": 4, "high": 8}, "common has 2 layer"),
    ("data", {"type": "categorical", "choices": ["a", "b"]}, "cannot be searched"),
])
def test_invalid_parameter_name_fails_before_any_trial_with_the_nearest_name(data, tmp_path, name, spec, nearest):
    with pytest.raises(ConfigError, match=nearest):
        search({"search": {"space": {name: spec}, "data": str(data)}, "train": TINY_BASE}, tmp_path, name="bad")
    assert not any(tmp_path.iterdir()), "nothing may be written before the space is valid"


@pytest.mark.parametrize("space, message", [
    ({"batch_size": {"type": "int", "low": 0, "high": 8}}, r"search.batch_size = 0 cannot train"),
    ({"optimizer": {"type": "categorical", "choices": ["adam", "adamx"]}}, r"optimizer = 'adamx'"),
    ({"layers.seq": {"type": "int", "low": 1, "high": 9}}, r"search.layers.seq = 9 cannot train"),
    ({"branches": {"type": "categorical", "choices": [["seq"], ["seq", "fold"]]}}, r"does not have"),
])
def test_values_that_cannot_train_fail_before_any_trial(data, tmp_path, space, message):
    with pytest.raises(ConfigError, match=message):
        search({"search": {**space, "data": str(data)}, "train": TINY_BASE}, tmp_path, name="bad")


def test_grid_sampler_refuses_a_continuous_float(data, tmp_path):
    with pytest.raises(ConfigError, match="grid sampler needs a finite set"):
        search({"search": {**SPACE, "sampler": "grid", "data": str(data)}, "train": TINY_BASE}, tmp_path)


def test_missing_dataset_and_empty_space_are_clear(data, tmp_path):
    with pytest.raises(ConfigError, match="No dataset given"):
        search({"search": SPACE, "train": TINY_BASE}, tmp_path)
    with pytest.raises(ConfigError, match="search space is empty"):
        search({"search": {"data": str(data)}, "train": TINY_BASE}, tmp_path)


@pytest.mark.parametrize("url, message", [
    ("postgresql://user:secret@127.0.0.1:1/none", "Cannot open the study storage|needs the Python package"),
    ("notadb://x", "Cannot open the study storage"),
])
def test_unusable_storage_is_a_clear_error_without_the_password(url, message):
    from lociflow.searching.study import make_storage

    with pytest.raises(LociflowError, match=message) as caught:
        make_storage(url)
    assert "secret" not in str(caught.value)


# --------------------------------------------------------------------------- running


def test_four_trials_with_two_workers_share_one_sqlite_study(two_worker_search):
    root, folder = two_worker_search
    trials = finished_trials(folder)
    assert len(trials) == 4 and all(t.state.name in ("COMPLETE", "PRUNED") for t in trials)
    assert len({t.user_attrs["worker"] for t in trials}) == 2, "both worker processes ran trials"
    table = pd.read_csv(folder / "trials.tsv", sep="\t")
    assert sorted(table["number"]) == [0, 1, 2, 3]
    assert {"learning_rate", "architecture.branches.seq.0.filters", "objective_val_auroc", "duration_s",
            "state"} <= set(table.columns)
    for row in table.itertuples():  # the score is the validation AUROC at the saved (best) epoch
        history = read_history(folder / row.folder / "history.tsv")
        assert row.objective_val_auroc == pytest.approx(history[row.best_epoch - 1]["val_auroc"], abs=1e-6)
    ledger = read_ledger(root)
    assert sorted(ledger[ledger["stage"] == "train"]["run_id"]) == [f"parallel/trial-000{i}" for i in range(4)]
    assert all(Path(p).is_dir() for p in ledger["path"])
    assert (folder / "plots" / "history.png").stat().st_size > 0
    assert (folder / "best" / "model" / "model.safetensors").exists()
    assert "lociflow search" in (folder / "params.yaml").read_text()
    assert ".tmp-" not in (folder / "trials" / "runs.tsv").read_text()


def test_best_params_retrain_to_the_same_validation_metric(two_worker_search, data, tmp_path):
    root, folder = two_worker_search
    best = yaml.safe_load((folder / "best" / "trial.yaml").read_text())
    result = CliRunner().invoke(app, ["train", "-c", str(folder / "best" / "params.yaml"), "--data", str(data),
                                      "-o", str(tmp_path), "--name", "again"])
    assert result.exit_code == 0, result.output
    retrained = Path(result.stdout.strip().splitlines()[-1])
    epoch = yaml.safe_load((retrained / "metrics.json").read_text())["best_epoch"]
    assert read_history(retrained / "history.tsv")[epoch - 1]["val_auroc"] == pytest.approx(best["val_auroc"],
                                                                                              abs=1e-6)


def test_interrupted_search_resumes_without_repeating_finished_trials(data, tmp_path, trainings):
    config = {"search": {**SPACE, "trials": 3, "sampler": "random", "pruner": "none", "data": str(data)},
              "train": TINY_BASE}
    trainings.interrupt_at = 2
    with pytest.raises(KeyboardInterrupt):
        search(config, tmp_path, name="resumable")
    folder = tmp_path / "resumable"
    assert folder.is_dir(), "an interrupted search keeps its folder where a rerun finds it"
    first = (folder / "trials" / "trial-0000" / "model.safetensors").stat().st_mtime_ns

    trainings.reset()
    search(config, tmp_path, name="resumable")
    trials = {t.number: t for t in finished_trials(folder)}
    assert trainings.names == ["trial-0002", "trial-0003"], "only the cut-short trial and the missing one run"
    assert trials[2].user_attrs["retry_of"] == 1 and trials[2].params == trials[1].params
    assert sum(t.state.name == "COMPLETE" for t in trials.values()) == 3
    assert (folder / "trials" / "trial-0000" / "model.safetensors").stat().st_mtime_ns == first

    with pytest.raises(ConfigError, match="another search space"):
        search({**config, "search": {**config["search"], "learning_rate": {"type": "float", "low": 0.01,
                                                                         "high": 0.1}}}, tmp_path, name="resumable")


def test_contract_space_with_presets_runs_through_the_cli(data, tmp_path):
    config = tmp_path / "search.yaml"
    config.write_text(textwrap.dedent("""\
        search:
          learning_rate: {type: float, low: 0.0001, high: 0.01, log: true}
          batch_size: {type: categorical, choices: [64, 128, 256]}
          preset: {type: categorical, choices: [cnn, cnn_rnn]}
          sampler: grid
          pruner: none
        train:
          epochs: 1
          threads: 1
        """))
    result = CliRunner().invoke(app, ["search", "-c", str(config), "--data", str(data), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2 and "grid sampler needs a finite set" in result.output
    config.write_text(config.read_text().replace("sampler: grid", "sampler: random"))
    result = CliRunner().invoke(app, ["search", "-c", str(config), "--data", str(data), "-o", str(tmp_path / "out"),
                                      "--trials", "2", "--name", "contract"])
    assert result.exit_code == 0, result.output
    folder = Path(result.stdout.strip().splitlines()[-1])
    assert folder == tmp_path / "out" / "contract"
    table = pd.read_csv(folder / "trials.tsv", sep="\t")
    assert len(table) == 2 and set(table["preset"]) <= {"cnn", "cnn_rnn"}
    best = yaml.safe_load((folder / "best" / "params.yaml").read_text())["train"]
    assert best["preset"] in ("cnn", "cnn_rnn") and best["batch_size"] in (64, 128, 256)
    assert load_stage(SearchConfig, "search", folder / "params.yaml").trials == 2


def test_grid_sampler_visits_every_point_once(data, tmp_path):
    folder = search({"search": {"architecture.branches.seq.0.filters": {"type": "categorical", "choices": [4, 8]},
                                "sampler": "grid", "trials": 10, "data": str(data)},
                     "train": {**TINY_BASE, "epochs": 1}}, tmp_path, name="grid")
    trials = finished_trials(folder)
    assert sorted(t.params["architecture.branches.seq.0.filters"] for t in trials) == [4, 8]


@pytest.mark.skipif(not os.environ.get("LOCIFLOW_TEST_POSTGRES_URL"),
                    reason="set LOCIFLOW_TEST_POSTGRES_URL to a PostgreSQL database (see docs/search.md)")
def test_postgres_storage_is_shared_by_two_searches(data, tmp_path):
    url = os.environ["LOCIFLOW_TEST_POSTGRES_URL"]
    config = {"search": {**SPACE, "trials": 3, "study": f"lociflow-test-{os.getpid()}", "storage": url,
                         "data": str(data)}, "train": {**TINY_BASE, "epochs": 1}}
    first = search({**config, "search": {**config["search"], "trials": 2}}, tmp_path, name="machine-a", force=True)
    second = search(config, tmp_path, name="machine-b")  # another machine joins the same study
    study = optuna.load_study(study_name=config["search"]["study"], storage=url)
    assert len([t for t in study.trials if t.state.is_finished()]) == 3
    assert len(pd.read_csv(second / "trials.tsv", sep="\t")) == 3
    assert len(list((first / "trials").glob("trial-*"))) == 2 and len(list((second / "trials").glob("trial-*"))) == 1
    optuna.delete_study(study_name=config["search"]["study"], storage=url)


# --------------------------------------------------------------------------- bookkeeping


def test_trials_cut_short_do_not_count_and_are_queued_again_once():
    from optuna.trial import TrialState

    from lociflow.searching.study import counted, requeue_interrupted

    study = optuna.create_study(direction="maximize")
    for value in (0.7, 0.8):
        study.enqueue_trial({"x": value})
        trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
        study.tell(trial, value)
    broken = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    broken.set_user_attr("error", "cannot train")
    study.tell(broken, state=TrialState.FAIL)
    cut = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    cut.set_user_attr("interrupted", True)
    study.tell(cut, state=TrialState.FAIL)
    crashed = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})  # left running by a crash
    assert counted(study) == 4, "complete, complete, failed with an error, and the running one"
    assert requeue_interrupted(study, local_only=True) == 2
    waiting = [t for t in study.get_trials() if t.state == TrialState.WAITING]
    assert sorted(t.user_attrs["retry_of"] for t in waiting) == [cut.number, crashed.number]
    assert counted(study) == 3
    assert requeue_interrupted(study, local_only=True) == 0, "queued once only"


def test_a_crashed_search_folder_is_found_again_and_a_running_one_is_refused(tmp_path):
    import fcntl

    from lociflow.searching.run import _continuing

    orphan = tmp_path / ".crashed.tmp-abc123"
    orphan.mkdir()
    (orphan / "search.lock").touch()
    assert _continuing(tmp_path, "crashed", force=False)
    assert (tmp_path / "crashed" / "search.lock").exists() and not orphan.exists()

    running = tmp_path / ".busy.tmp-def456"
    running.mkdir()
    with open(running / "search.lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        with pytest.raises(LociflowError, match="A search named 'busy' is running"):
            _continuing(tmp_path, "busy", force=False)
    assert not _continuing(tmp_path, "new", force=False)


@pytest.mark.parametrize("branches", [("seq",), ("seq", "fold")])
def test_shipped_example_search_config_passes_every_check_before_a_trial(tmp_path, branches):
    """The README runs examples/search.yaml on the user's dataset: it must exist, parse, and
    fit a dataset of the sequence alone as well as one with structure."""
    from lociflow.searching.run import _load, _prepare

    example = Path(__file__).resolve().parents[1] / "examples" / "search.yaml"
    data = write_dataset(tmp_path / "pum2", n=60, window=150, branches=branches)
    config, base = _load(example, None)
    config = config.model_copy(update={"data": data})
    prepared = _prepare(config, base)
    assert {p.name for p in prepared["params"]} >= {"learning_rate", "preset", "layers.common"}
    assert prepared["total"] == 20 and prepared["epochs"] == 10
