"""``lociflow interpret``: methods chosen for the model, run folder, dashboard and arrays."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from synthetic import write_dataset
from tiny_model import train_tiny_model
from typer.testing import CliRunner

from lociflow.cli import app
from lociflow.interpretation.run import plan_methods

runner = CliRunner()


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("interpret")
    data = write_dataset(root / "data", n=300, window=50, alphabet="dna")
    return data, train_tiny_model(data, root / "model", epochs=20)


def cli(*args):
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


FAST = ["--set", "options.optimize.steps=20", "--set", "options.optimize.n_restarts=2",
        "--set", "options.modisco.loci=40", "--set", "options.modisco.classes=[bound]", "--set", "options.ig.steps=16", "--set", "options.deepshap.n_shuffles=4",
        "--set", "options.gia.positions=10", "--threads", 1]


@pytest.mark.slow
def test_all_methods_on_a_cnn_skip_temporal_and_write_dashboard_arrays_and_tables(setup, tmp_path):
    data, model = setup
    code, out, err = cli("interpret", "--model", model, "--data", data, "--methods", "all", "--top", 2,
                         "--max-loci", 60, *FAST, "-o", tmp_path, "--name", "all")
    assert code == 0, err
    folder = Path(out.strip().splitlines()[-1])
    assert folder == tmp_path / "all"
    assert "skipping temporal" in err and "recurrent" in err
    methods = pd.read_csv(folder / "methods.tsv", sep="\t", keep_default_na=False)
    status = dict(zip(methods["method"], methods["status"]))
    assert status["temporal"] == "skipped"
    assert all(status[m] == "ran" for m in ("saliency", "ig", "deepshap", "ism", "optimize", "filters", "modisco", "gia"))
    page = (folder / "index.html").read_text()
    assert "temporal scores need a recurrent" in page
    assert 'src="data:image/png;base64,' in page and "<img src=\"plots" not in page  # self-contained
    for heading in ("Class bound", "Class unbound", "Filters", "Class optimization", "Global importance analysis"):
        assert heading in page
    assert page.index("Motifs the model uses") < page.index("Class bound")  # the dashboard leads with them
    filters = pd.read_csv(folder / "filters.tsv", sep="\t", keep_default_na=False)
    assert {"information_content", "informative"} <= set(filters.columns)
    with np.load(folder / "attributions.npz") as arrays:
        for key in ("index", "target", "shown", "saliency_seq", "ig_seq", "deepshap_seq",
                    "deepshap_hypothetical_seq", "ism_seq", "filters_pfm"):
            assert key in arrays.files, key
        n = len(arrays["index"])
        assert arrays["ig_seq"].shape == (n, 50, 4)
        assert arrays["ism_seq"].shape == (len(arrays["shown"]), 50, 4) == (4, 50, 4)
        assert "temporal_forward" not in arrays.files
    tomtom = pd.read_csv(folder / "filters_tomtom.tsv", sep="\t")
    assert list(tomtom.columns[:6]) == ["filter", "rank", "jaspar_id", "name", "p_value", "q_value"]
    loci = pd.read_csv(folder / "loci.tsv", sep="\t", keep_default_na=False)
    shown = loci[loci["shown_for"] == "bound"]
    assert len(shown) == 2 and (shown["label"] == "bound").all()
    assert shown["p_bound"].min() >= loci.loc[loci["label"] == "bound", "p_bound"].sort_values().iloc[-2] - 1e-9
    gia = pd.read_csv(folder / "gia.tsv", sep="\t")
    assert len(gia) and {"effect", "control"} <= set(gia.columns)


def test_gia_with_the_planted_motif_beats_its_shuffle(setup, tmp_path):
    data, model = setup
    code, out, err = cli("interpret", "--model", model, "--data", data, "--methods", "gia,saliency",
                         "--motif", "TGTAAATA", "--motif", "GATA", "--top", 1, "--threads", 1,
                         "--set", "options.gia.positions=10", "--set", "options.gia.backgrounds=100", "-o", tmp_path)
    assert code == 0, err
    folder = Path(out.strip().splitlines()[-1])
    gia = pd.read_csv(folder / "gia.tsv", sep="\t").set_index(["motif", "class"])
    bound = gia.loc[("TGTAAATA", "bound")]
    assert bound["effect"] > bound["control"] + 0.5
    with np.load(folder / "attributions.npz") as arrays:
        assert "gia_spacing" in arrays.files and "saliency_x_input_seq" in arrays.files
    assert (folder / "plots" / "gia_spacing.svg").exists()


def test_fasta_input_is_encoded_with_the_model_parameters(setup, tmp_path):
    _, model = setup
    rng = np.random.default_rng(0)
    fasta = tmp_path / "new.fa"
    seqs = ["".join(rng.choice(list("ACGT"), 50)) for _ in range(6)]
    seqs[0] = seqs[0][:20] + "TGTAAATA" + seqs[0][28:]
    fasta.write_text("".join(f">s{i}\n{s}\n" for i, s in enumerate(seqs)))
    code, out, err = cli("interpret", "--model", model, "--input", fasta, "--methods", "ig,ism", "--top", 1,
                         "-o", tmp_path)
    assert code == 0, err
    folder = Path(out.strip().splitlines()[-1])
    loci = pd.read_csv(folder / "loci.tsv", sep="\t", keep_default_na=False)
    assert len(loci) == 6 and (loci["label"] == "").all()
    assert loci.loc[loci["shown_for"] == "bound", "id"].str.startswith("s0").all()
    assert "s0" in (folder / "index.html").read_text()


def test_bad_method_name_suggests_the_nearest(setup, tmp_path):
    data, model = setup
    code, _, err = cli("interpret", "--model", model, "--data", data, "--methods", "saliency,salency", "-o", tmp_path)
    assert code == 2
    assert "unknown method 'salency'" in err and "did you mean 'saliency'" in err


def test_bad_option_and_missing_input_are_refused(setup, tmp_path):
    data, model = setup
    code, _, err = cli("interpret", "--model", model, "--data", data, "--set", "options.ig.stepz=5", "-o", tmp_path)
    assert code == 2 and "did you mean 'steps'" in err
    code, _, err = cli("interpret", "--model", model, "--data", data, "--set", "options.modisco.classes=[bund]",
                       "-o", tmp_path)
    assert code == 2 and "did you mean 'bound'" in err
    code, _, err = cli("interpret", "--model", model, "--data", data, "--methods", "filters",
                       "--motif-db", tmp_path / "none.meme", "-o", tmp_path)
    assert code == 2 and "none.meme does not exist" in err
    code, _, err = cli("interpret", "--model", model, "--data", data, "--methods", "gia",
                       "--set", "jaspar_release=JASPAR2025", "-o", tmp_path)
    assert code == 2 and "not available offline" in err
    code, _, err = cli("interpret", "--model", model, "-o", tmp_path)
    assert code == 2 and "--data" in err and "--input" in err
    code, _, err = cli("interpret", "--model", model, "--data", data, "--split", "blackbox", "-o", tmp_path)
    assert code == 2 and "no 'blackbox' split" in err
    assert not list(tmp_path.glob("interpret-*"))


def _model(recurrent: bool, conv: bool, branches=("seq",)):
    return SimpleNamespace(is_recurrent=recurrent, branches=list(branches), first_conv={"seq": object()} if conv and "seq" in branches else {})


def test_all_runs_what_each_model_supports_and_says_why_it_skips_the_rest():
    run, skipped = plan_methods(["all"], _model(recurrent=True, conv=False))
    assert "temporal" in run and "filters" not in run and "deepshap" not in run
    assert "first convolution" in skipped["filters"] and "recurrent" in skipped["deepshap"]
    run, skipped = plan_methods(["all"], _model(recurrent=False, conv=True, branches=("fold",)))
    assert run == ["saliency", "ig", "deepshap"]
    assert set(skipped) == {"ism", "temporal", "optimize", "filters", "modisco", "gia"}
    run, _ = plan_methods(["ig", "saliency"], _model(recurrent=False, conv=True))
    assert run == ["saliency", "ig"]


def test_an_ensemble_trained_by_the_cli_is_evaluated_and_interpreted(setup, tmp_path):
    import yaml
    from tiny_model import tiny_architecture

    data, _ = setup
    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump({"train": {
        "architecture": tiny_architecture(["seq"]), "epochs": 3, "batch_size": 32, "learning_rate": 0.02,
        "threads": 1}}))
    code, out, err = cli("train", "-c", config, "--data", data, "--ensemble", 2, "-o", tmp_path / "models",
                         "--name", "ens")
    assert code == 0, err
    model = Path(out.strip().splitlines()[-1])
    assert (model / "members" / "2" / "model.safetensors").is_file()
    code, out, err = cli("evaluate", "--model", model, "--data", data, "-o", tmp_path / "eval")
    assert code == 0, err
    code, out, err = cli("interpret", "--model", model, "--data", data, "--methods", "saliency,ig,deepshap,ism,filters",
                         "--top", 1, "--max-loci", 30, *FAST, "-o", tmp_path, "--name", "ens")
    assert code == 0, err
    folder = Path(out.strip().splitlines()[-1])
    methods = pd.read_csv(folder / "methods.tsv", sep="\t", keep_default_na=False)
    assert set(methods.loc[methods["status"] == "ran", "method"]) == {"saliency", "ig", "deepshap", "ism", "filters"}
    assert "an ensemble of 2 networks: scores and attributions are their mean" in (folder / "index.html").read_text()


def test_training_warnings_head_the_dashboard(setup, tmp_path):
    import json
    import shutil

    _, model = setup
    copy = Path(shutil.copytree(model, tmp_path / "model"))
    (copy / "metrics.json").write_text(json.dumps({"warnings": ["The best epoch was the first: <check>"]}))
    rng = np.random.default_rng(0)
    fasta = tmp_path / "new.fa"
    fasta.write_text("".join(f">s{i}\n{''.join(rng.choice(list('ACGT'), 50))}\n" for i in range(4)))
    code, out, err = cli("interpret", "--model", copy, "--input", fasta, "--methods", "ism", "--top", 1,
                         "-o", tmp_path / "runs")
    assert code == 0, err
    page = (Path(out.strip().splitlines()[-1]) / "index.html").read_text()
    assert "Training warning: The best epoch was the first: &lt;check&gt;" in page
    assert page.index("Training warning") < page.index("loci analysed")
