from pathlib import Path

import pytest

from lociflow.config import PreprocessConfig, TrainConfig, load_stage
from lociflow.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def test_unknown_key_names_key_and_suggests_nearest(tmp_path):
    cfg = write(tmp_path, "preprocess:\n  classes: {a: [a.bed], b: [b.bed]}\n  windw: 100\n")
    with pytest.raises(ConfigError, match=r"unknown key 'preprocess.windw' \(did you mean 'window'\?\)"):
        load_stage(PreprocessConfig, "preprocess", cfg)


def test_unknown_section_suggests_stage(tmp_path):
    cfg = write(tmp_path, "preprocessing:\n  window: 3\n")
    with pytest.raises(ConfigError, match=r"unknown section 'preprocessing' \(did you mean 'preprocess'\?\)"):
        load_stage(PreprocessConfig, "preprocess", cfg)


def test_duplicate_class_names_are_an_error(tmp_path):
    cfg = write(tmp_path, "preprocess:\n  classes:\n    bound: [a.bed]\n    bound: [b.bed]\n")
    with pytest.raises(ConfigError, match="Duplicate key 'bound' at line 4"):
        load_stage(PreprocessConfig, "preprocess", cfg)


def test_relative_paths_resolve_against_the_config_folder(tmp_path):
    cfg = write(tmp_path, "preprocess:\n  classes: {a: a.bed, b: [b.bed]}\n  genome: g.fa\n")
    loaded = load_stage(PreprocessConfig, "preprocess", cfg)
    assert loaded.classes["a"] == [tmp_path / "a.bed"]
    assert loaded.genome == tmp_path / "g.fa"


def test_set_overrides_win_over_the_file(tmp_path):
    cfg = write(tmp_path, "preprocess:\n  classes: {a: a.bed, b: b.bed}\n  window: 100\n")
    loaded = load_stage(PreprocessConfig, "preprocess", cfg, ["window=200", "split.ratios={train: 1, test: 1}"])
    assert loaded.window == 200
    assert loaded.split.ratios == {"train": 1.0, "test": 1.0}


def test_dumped_params_load_back_identically(tmp_path):
    cfg = write(tmp_path, "train:\n  preset: cnn_rnn\n  epochs: 3\n")
    first = load_stage(TrainConfig, "train", cfg)
    import yaml

    again = write(tmp_path, yaml.safe_dump({"train": first.dump()}, sort_keys=False))
    assert load_stage(TrainConfig, "train", again).dump() == first.dump()


@pytest.mark.parametrize(
    "text, message",
    [
        ("window: 0", "window must be at least 1"),
        ("split: {ratios: {train: -1, test: 1}}", "must not be negative"),
        ("split: {ratios: {train: 0, test: 0}}", "all zero"),
        ("split: {method: chromosome, train: [chr1], test: [chr1]}", "'chr1' is in both the train and test"),
    ],
)
def test_bad_values_are_explained(tmp_path, text, message):
    cfg = write(tmp_path, f"preprocess:\n  classes: {{a: a.bed, b: b.bed}}\n  {text}\n")
    with pytest.raises(ConfigError, match=message):
        load_stage(PreprocessConfig, "preprocess", cfg)


def test_one_class_only_is_an_error(tmp_path):
    cfg = write(tmp_path, "preprocess:\n  classes: {a: a.bed}\n")
    with pytest.raises(ConfigError, match="only one class"):
        load_stage(PreprocessConfig, "preprocess", cfg)


def test_suggest_names_the_nearest_names_or_nothing():
    from lociflow.configfile import suggest

    assert suggest("trails", ["trials", "workers"]) == " (did you mean 'trials'?)"
    assert suggest("GATA11", ["GATA1", "GATA2", "CTCF"], n=2) == " (did you mean 'GATA1' or 'GATA2'?)"
    assert suggest("zzz", ["trials"]) == ""


def test_a_retired_option_in_an_old_params_file_still_loads_with_a_note(tmp_path, caplog):
    import logging

    from lociflow.config import EvaluateConfig, PredictConfig, load_stage

    path = tmp_path / "params.yaml"
    path.write_text("evaluate:\n  model: m\n  seed: 7\npredict:\n  model: m\n  seed: 7\n")
    with caplog.at_level(logging.INFO, logger="lociflow"):
        for model, section in ((EvaluateConfig, "evaluate"), (PredictConfig, "predict")):
            cfg = load_stage(model, section, path)
            assert "seed" not in cfg.dump()
    assert caplog.text.count("'seed' is no longer used") == 2


def test_evaluate_classes_are_files_only_a_made_class_is_refused_as_such():
    from lociflow.config import EvaluateConfig, parse_stage

    with pytest.raises(ConfigError, match=r"evaluate\.classes\.bg"):
        parse_stage(EvaluateConfig, {"model": "m", "classes": {"bg": {"from": "shuffle", "like": "bound"}}}, "evaluate")


def test_an_empty_train_section_is_the_measured_recipe():
    from lociflow.config import DEFAULT_SHIFT, TrainConfig

    config = TrainConfig()
    assert (config.schedule, config.epochs) == ("cosine", 40)
    assert config.early_stopping.monitor == "val_auroc" and config.early_stopping.min_delta == 0.001
    assert config.augment.shift is None and config.augment.shift_for(150) == DEFAULT_SHIFT
    # short windows get at most a tenth of their length; a shift given is used as given
    assert config.augment.shift_for(20) == 2 and config.augment.shift_for(5) == 0
    assert TrainConfig(augment={"shift": 0}).augment.shift_for(150) == 0
    assert TrainConfig(augment={"shift": 7}).augment.shift_for(150) == 7


def test_ensemble_auto_is_three_networks_on_a_small_train_split_and_one_above():
    from lociflow.config import AUTO_ENSEMBLE, AUTO_ENSEMBLE_MAX_LOCI

    config = TrainConfig()
    assert config.ensemble == "auto"
    assert config.networks(1_928) == AUTO_ENSEMBLE == 3
    assert config.networks(AUTO_ENSEMBLE_MAX_LOCI) == 3 and config.networks(AUTO_ENSEMBLE_MAX_LOCI + 1) == 1
    assert TrainConfig(ensemble=" Auto ").ensemble == "auto"
    assert TrainConfig(ensemble=5).networks(100) == 5 and TrainConfig(ensemble="2").networks(10**6) == 2


@pytest.mark.parametrize("value, message", [
    ("0", "ensemble must be from 1 to 20 networks, or auto \\(got 0\\)"),
    ("21", "ensemble must be from 1 to 20 networks, or auto \\(got 21\\)"),
    ("three", "ensemble must be a number of networks or auto \\(got 'three'\\)"),
])
def test_a_bad_ensemble_is_explained(tmp_path, value, message):
    cfg = write(tmp_path, f"train:\n  ensemble: {value}\n")
    with pytest.raises(ConfigError, match=message):
        load_stage(TrainConfig, "train", cfg)


def test_made_classes_names_what_each_made_class_is_and_leaves_out_files_and_unreadable_records():
    from lociflow.config_sources import made_classes

    recorded = {
        "bound": ["peaks.bed"],
        "shuffled": {"from": "shuffle", "like": "bound", "kmer": 1, "ratio": None, "count": None},
        "flanks": {"from": "flanks", "like": "bound", "distance": 2500},
        "odd": {"from": "shuffle", "like": "bound", "kmer": 9},  # outside what this version reads
        "future": {"from": "simulation", "like": "bound"},
    }
    assert made_classes(recorded) == {"shuffled": "mononucleotide-preserving shuffles of bound",
                                      "flanks": "genomic windows 2,500 nt beside bound's loci"}
    assert made_classes(None) == {} and made_classes(["bound"]) == {}
