"""``lociflow evaluate``: metrics, curves and reports on a dataset split or on new files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn import metrics as skm
from synthetic import write_dataset
from tiny_model import script_model, train_tiny_model
from typer.testing import CliRunner

from lociflow.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def binary(tmp_path_factory):
    root = tmp_path_factory.mktemp("binary")
    data = write_dataset(root / "data", n=400, window=50, ratios=(0.5, 0.1, 0.25, 0.15))
    return data, train_tiny_model(data, root / "model", epochs=8)


@pytest.fixture(scope="module")
def three_class(tmp_path_factory):
    root = tmp_path_factory.mktemp("three")
    data = write_dataset(root / "data", n=450, window=40, classes=("bound", "unbound", "other"))
    return data, train_tiny_model(data, root / "model", epochs=30)


def cli(*args: str):
    """Run the CLI; return (exit code, stdout, stderr)."""
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def run_folder(stdout: str) -> Path:
    return Path(stdout.strip().splitlines()[-1])


def test_evaluate_dataset_split_writes_every_output_and_matches_sklearn(binary, tmp_path):
    data, model = binary
    code, out, err = cli("evaluate", "--model", model, "--data", data, "-o", tmp_path, "--name", "ev")
    assert code == 0, err
    folder = run_folder(out)
    assert folder == tmp_path / "ev"
    for name in ("metrics.json", "roc_curve.tsv", "pr_curve.tsv", "calibration.tsv", "predictions.tsv",
                 "report.html", "roc_curve.png", "roc_curve.svg", "pr_curve.png", "pr_curve.svg",
                 "calibration.png", "calibration.svg", "confusion_matrix.png", "confusion_matrix.svg"):
        assert (folder / name).is_file(), name
    metrics = json.loads((folder / "metrics.json").read_text())

    # the numbers are sklearn's on the model's own probabilities for the test split
    from lociflow.io.store import open_dataset
    from lociflow.model.io import load_model

    split = open_dataset(data).split("test")
    probs = load_model(model).predict_proba(split.inputs)
    labels = np.asarray(split.labels)
    assert metrics["auroc"]["bound"] == pytest.approx(skm.roc_auc_score(labels == 0, probs[:, 0]), abs=1e-6)
    assert metrics["auprc"]["unbound"] == pytest.approx(skm.average_precision_score(labels == 1, probs[:, 1]), abs=1e-6)
    assert metrics["accuracy"] == pytest.approx(skm.accuracy_score(labels, probs.argmax(1)), abs=1e-6)
    assert metrics["mcc"] == pytest.approx(skm.matthews_corrcoef(labels, probs.argmax(1)), abs=1e-6)
    assert metrics["confusion_matrix"] == skm.confusion_matrix(labels, probs.argmax(1)).tolist()
    assert metrics["auroc"]["macro"] > 0.75  # the planted motif was learnt

    predictions = pd.read_csv(folder / "predictions.tsv", sep="\t")
    assert list(predictions["name"]) == list(split.meta()["name"])
    np.testing.assert_allclose(predictions["prob_bound"], probs[:, 0], atol=1e-5)
    assert set(predictions["top_class"]) <= {"bound", "unbound"}
    assert predictions["warning"].fillna("").eq("").all()  # planted data: every window is fine
    assert isinstance(metrics["warnings"], list)
    roc = pd.read_csv(folder / "roc_curve.tsv", sep="\t")
    assert list(roc.columns) == ["class", "x", "y", "threshold"]
    assert set(roc["class"]) == {"bound", "unbound", "micro", "macro"}
    report = (folder / "report.html").read_text()
    assert "data:image/png;base64," in report and "ROC curves" not in report  # titles live in the images
    ledger = pd.read_csv(tmp_path / "runs.tsv", sep="\t")
    assert ledger.iloc[-1]["stage"] == "evaluate"
    assert json.loads(ledger.iloc[-1]["metrics"])["auroc"] == metrics["auroc"]["macro"]


def test_two_classes_report_one_auroc_and_auprc_of_the_positive_class(binary, tmp_path):
    data, model = binary
    code, out, err = cli("evaluate", "--model", model, "--data", data, "-o", tmp_path, "--name", "first")
    assert code == 0, err
    first = run_folder(out)
    metrics = json.loads((first / "metrics.json").read_text())
    assert metrics["positive"] == "bound"  # the first class, unless positive: says otherwise
    report = (first / "report.html").read_text()
    assert "AUROC (bound vs unbound)" in report and "AUPRC (bound)" in report
    assert "AUROC (micro)" not in report and "AUROC (macro)" not in report and "(macro average)" not in report
    assert "Matthews correlation coefficient" in report and "Expected calibration error" in report
    assert f"AUPRC {metrics['auprc']['bound']:.4f} (bound)" in err  # the log's summary line
    # every row of the curve tables is kept: the format does not change
    assert set(pd.read_csv(first / "pr_curve.tsv", sep="\t")["class"]) == {"bound", "unbound", "micro", "macro"}

    code, out, err = cli("evaluate", "--model", model, "--data", data, "-o", tmp_path, "--set", "positive=unbound")
    assert code == 0, err
    folder = run_folder(out)
    assert json.loads((folder / "metrics.json").read_text())["positive"] == "unbound"
    assert "AUPRC (unbound)" in (folder / "report.html").read_text()
    assert yaml.safe_load((folder / "params.yaml").read_text())["evaluate"]["positive"] == "unbound"

    code, _, err = cli("evaluate", "--model", model, "--data", data, "-o", tmp_path, "--set", "positive=bond")
    assert code == 2 and "positive: 'bond' is not a class of the model; give one of 'bound', 'unbound'" in err


def test_evaluate_blackbox_split_and_a_missing_split(binary, tmp_path):
    data, model = binary
    code, out, err = cli("evaluate", "--model", model, "--data", data, "--split", "blackbox", "-o", tmp_path)
    assert code == 0, err
    metrics = json.loads((run_folder(out) / "metrics.json").read_text())
    assert sum(metrics["n"].values()) == 60
    small = write_dataset(tmp_path / "nobb", n=100, window=50, ratios=(0.6, 0.2, 0.2, 0.0))
    code, _, err = cli("evaluate", "--model", model, "--data", small, "--split", "blackbox", "-o", tmp_path)
    assert code == 2 and "has no 'blackbox' split" in err


def test_three_classes_get_curves_for_each_class_and_both_averages(three_class, tmp_path):
    data, model = three_class
    code, out, err = cli("evaluate", "--model", model, "--data", data, "-o", tmp_path)
    assert code == 0, err
    folder = run_folder(out)
    metrics = json.loads((folder / "metrics.json").read_text())
    assert set(metrics["auroc"]) == {"bound", "unbound", "other", "macro", "micro"}
    assert np.array(metrics["confusion_matrix"]).shape == (3, 3)
    pr = pd.read_csv(folder / "pr_curve.tsv", sep="\t")
    assert list(dict.fromkeys(pr["class"])) == ["bound", "unbound", "other", "micro", "macro"]
    calibration = pd.read_csv(folder / "calibration.tsv", sep="\t")
    assert calibration.groupby("class")["count"].sum().to_dict() == {c: 90 for c in ("bound", "unbound", "other")}


def test_dataset_with_another_window_is_refused_with_expected_and_given(binary, tmp_path):
    _, model = binary
    other = write_dataset(tmp_path / "w60", n=100, window=60, alphabet="dna")
    code, _, err = cli("evaluate", "--model", model, "--data", other, "-o", tmp_path)
    assert code == 2
    assert "window: the model expects 50, the dataset has 60" in err
    assert "alphabet: the model expects rna, the dataset has dna" in err
    assert not list(tmp_path.glob("evaluate-*"))  # refused before any run folder


def test_dataset_with_other_branches_is_refused(binary, tmp_path):
    _, model = binary
    other = write_dataset(tmp_path / "fold", n=100, window=50, branches=("seq", "fold"))
    code, _, err = cli("evaluate", "--model", model, "--data", other, "-o", tmp_path)
    assert code == 2 and "branches: the model expects [seq], the dataset has [seq, fold]" in err


def test_model_folder_lacking_weights_is_a_clear_error(binary, tmp_path):
    data, model = binary
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "spec.yaml").write_text((model / "spec.yaml").read_text())
    code, _, err = cli("evaluate", "--model", broken, "--data", data, "-o", tmp_path)
    assert code == 2 and "has no model.safetensors" in err


def test_model_from_a_newer_format_version_is_refused(binary, tmp_path):
    data, model = binary
    newer = tmp_path / "newer"
    newer.mkdir()
    spec = yaml.safe_load((model / "spec.yaml").read_text())
    spec["format_version"] = 99
    (newer / "spec.yaml").write_text(yaml.safe_dump(spec))
    (newer / "model.safetensors").write_bytes((model / "model.safetensors").read_bytes())
    code, _, err = cli("evaluate", "--model", newer, "--data", data, "-o", tmp_path)
    assert code == 2 and "newer than this lociflow reads" in err


def test_corrupted_weights_are_a_clear_error(binary, tmp_path):
    data, model = binary
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "spec.yaml").write_text((model / "spec.yaml").read_text())
    (damaged / "model.safetensors").write_bytes((model / "model.safetensors").read_bytes()[:200])
    code, _, err = cli("evaluate", "--model", damaged, "--data", data, "-o", tmp_path)
    assert code == 2 and "corrupted or truncated" in err


def test_missing_model_folder_and_missing_dataset_are_clear_errors(binary, tmp_path):
    data, model = binary
    code, _, err = cli("evaluate", "--model", tmp_path / "nope", "--data", data, "-o", tmp_path)
    assert code == 2 and "does not exist" in err
    code, _, err = cli("evaluate", "--model", model, "--data", tmp_path / "nodata", "-o", tmp_path)
    assert code == 2 and "does not exist" in err


def test_data_and_class_files_together_are_refused(binary, tmp_path):
    data, model = binary
    fasta = tmp_path / "pos.fa"
    fasta.write_text(">a\nACGT\n")
    code, _, err = cli("evaluate", "--model", model, "--data", data, "--class", f"bound={fasta}", "-o", tmp_path)
    assert code == 2 and "either a dataset directory" in err
    code, _, err = cli("evaluate", "--model", model, "-o", tmp_path)
    assert code == 2 and "either a dataset directory" in err


def test_unknown_class_name_is_refused_with_a_suggestion(binary, tmp_path):
    _, model = binary
    fasta = tmp_path / "pos.fa"
    fasta.write_text(">a\nACGT\n")
    code, _, err = cli("evaluate", "--model", model, "--class", f"bund={fasta}", "--class", f"unbound={fasta}",
                       "-o", tmp_path)
    assert code == 2 and "'bund' (did you mean 'bound'?) is not a class of the model" in err


def test_torchscript_model_evaluates_like_the_original(binary, tmp_path):
    data, model = binary
    scripted = script_model(model, tmp_path / "scripted")
    results = []
    for m in (model, scripted):
        code, out, err = cli("evaluate", "--model", m, "--data", data, "-o", tmp_path)
        assert code == 0, err
        results.append(json.loads((run_folder(out) / "metrics.json").read_text()))
    assert results[0]["auroc"] == results[1]["auroc"]
    assert results[0]["log_loss"] == pytest.approx(results[1]["log_loss"], abs=1e-5)


def _class_fasta(path: Path, n: int, motif: bool, seed: int) -> None:
    rng = np.random.default_rng(seed)
    with open(path, "w") as handle:
        for i in range(n):
            seq = list(rng.choice(list("ACGU"), size=50))
            if motif:
                at = int(rng.integers(0, 42))
                seq[at:at + 8] = list("UGUAAAUA")
            handle.write(f">{path.stem}{i} some description\n{''.join(seq)}\n")


def test_evaluate_new_fasta_files_per_class(binary, tmp_path):
    _, model = binary
    for name, n, motif, seed in (("pos_a", 25, True, 1), ("pos_b", 15, True, 2), ("neg", 40, False, 3)):
        _class_fasta(tmp_path / f"{name}.fa", n, motif, seed)
    code, out, err = cli("evaluate", "--model", model, "--class", f"bound={tmp_path / 'pos_a.fa'}",
                         "--class", f"bound={tmp_path / 'pos_b.fa'}", "--class", f"unbound={tmp_path / 'neg.fa'}",
                         "-o", tmp_path / "out")
    assert code == 0, err
    folder = run_folder(out)
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["n"] == {"bound": 40, "unbound": 40}
    assert metrics["auroc"]["bound"] > 0.75
    table = pd.read_csv(folder / "predictions.tsv", sep="\t")
    assert list(table["id"][:2]) == ["pos_a0", "pos_a1"] and list(table["class"][-1:]) == ["unbound"]
    labels = (table["class"] == "unbound").to_numpy().astype(int)
    assert metrics["auroc"]["bound"] == pytest.approx(skm.roc_auc_score(labels == 0, table["prob_bound"]), abs=1e-5)


def test_evaluate_files_for_a_cons_model_without_bigwig_is_refused_before_work(tmp_path):
    data = write_dataset(tmp_path / "data", n=80, window=50, branches=("seq", "cons"))
    model = train_tiny_model(data, tmp_path / "model", epochs=1)
    _class_fasta(tmp_path / "pos.fa", 5, True, 1)
    code, _, err = cli("evaluate", "--model", model, "--class", f"bound={tmp_path / 'pos.fa'}", "-o", tmp_path / "out")
    assert code == 2 and "conservation (cons) branch" in err
    assert not (tmp_path / "out").exists()


def test_dataset_classes_are_matched_to_the_model_by_name_not_position(binary, tmp_path):
    _, model = binary
    # same generator, names swapped: the motif-carrying loci are now labelled "unbound"
    swapped = write_dataset(tmp_path / "swapped", n=200, window=50, classes=("unbound", "bound"), seed=7)
    code, out, err = cli("evaluate", "--model", model, "--data", swapped, "-o", tmp_path)
    assert code == 0, err
    metrics = json.loads((run_folder(out) / "metrics.json").read_text())
    assert metrics["classes"] == ["bound", "unbound"]
    assert metrics["auroc"]["bound"] < 0.25  # the model still calls motif loci "bound"


def test_same_evaluation_twice_gives_the_same_bytes(binary, tmp_path):
    data, model = binary
    folders = []
    for name in ("first", "second"):
        code, out, err = cli("evaluate", "--model", model, "--data", data, "--split", "valid", "-o", tmp_path,
                             "--name", name)
        assert code == 0, err
        folders.append(run_folder(out))
    names = sorted(p.name for p in folders[0].iterdir() if p.name not in ("run.log", "params.yaml"))
    assert "roc_curve.svg" in names and "report.html" in names
    for name in names:
        assert (folders[0] / name).read_bytes() == (folders[1] / name).read_bytes(), name
