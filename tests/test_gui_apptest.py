"""The GUI's pages under Streamlit's AppTest: defaults, validation as typed, runs started.

Each page is drawn in-process; the job launcher is replaced so that the config a Run
click would hand to the background worker can be compared with what the CLI builds
from a config file with the same values.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from streamlit.testing.v1 import AppTest

from lociflow.config import PreprocessConfig, TrainConfig, load_stage
from lociflow.gui import jobs
from lociflow.io.atomic import write_json, write_yaml
from lociflow.runs import open_run

PAGES = ("preprocess", "train", "evaluate", "predict", "interpret", "runs", "search", "variants", "scan")
APP = Path(__file__).resolve().parents[1] / "src" / "lociflow" / "gui" / "app.py"


@pytest.fixture
def root(tmp_path, monkeypatch):
    """An empty output root the pages write into."""
    folder = tmp_path / "runs"
    monkeypatch.setenv("LOCIFLOW_GUI_OUTPUT_ROOT", str(folder))
    return folder


@pytest.fixture
def started(monkeypatch):
    """Replace the job launcher; collect what each Run click asked for."""
    calls = []

    def fake_start(stage, document, output, name=None, force=False, options=None):
        calls.append({"stage": stage, "document": document, "output": Path(output), "name": name,
                      "force": force, "options": options})
        return jobs.Job(id="fake", stage=stage, name=name or "fake", output=Path(output),
                        folder=Path(output) / ".gui-jobs" / "fake", pid=0, started=time.time())

    monkeypatch.setattr(jobs, "start_job", fake_start)
    return calls


def page(name: str) -> AppTest:
    at = AppTest.from_string(f"from lociflow.gui.screens import {name}\n{name}.render()", default_timeout=60)
    return at.run()


def messages(at: AppTest) -> str:
    return "\n".join(e.value for e in at.error)


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def loci_files(folder: Path) -> tuple[Path, Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    genome, pos, neg = folder / "genome.fa", folder / "pos.bed", folder / "neg.bed"
    genome.write_text(">chr1\n" + "ACGT" * 100 + "\n")
    pos.write_text("chr1\t10\t60\n")
    neg.write_text("chr1\t100\t150\n")
    return genome, pos, neg


def fill_two_classes(at: AppTest, pos: Path, neg: Path) -> None:
    at.text_input(key="preprocess::classes[0].name").set_value("bound")
    at.text_area(key="preprocess::classes[0].files").set_value(str(pos))
    at.text_input(key="preprocess::classes[1].name").set_value("unbound")
    at.text_area(key="preprocess::classes[1].files").set_value(str(neg))
    at.run()  # the genome field appears once some input is BED


# --------------------------------------------------------------------------- defaults


@pytest.mark.parametrize("name", PAGES)
def test_every_page_draws_without_an_exception(root, name):
    at = page(name)
    no_exception(at)
    assert at.title[0].value.lower() == name


def test_home_page_names_the_tool_and_links_every_stage(root):
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    no_exception(at)
    assert at.title[0].value == "lociflow"
    links = {link.proto.label for link in at.get("page_link")}
    for stage in ("Preprocess", "Train", "Evaluate", "Predict", "Interpret"):
        assert any(stage in label for label in links), links


def test_preprocess_form_starts_with_the_cli_defaults(root):
    at = page("preprocess")
    defaults = PreprocessConfig.model_fields
    assert at.checkbox(key="preprocess::window#auto").value is True and defaults["window"].default == "auto"
    at.checkbox(key="preprocess::window#auto").uncheck().run()  # then a number, starting at the BED window
    assert at.number_input(key="preprocess::window").value == 150
    assert at.selectbox(key="preprocess::alphabet").value == "dna"
    assert at.checkbox(key="preprocess::strand").value is True
    assert at.multiselect(key="preprocess::branches").value == ["seq"]
    assert at.selectbox(key="preprocess::split.method").value == "random"
    assert at.number_input(key="preprocess::split.ratios[train]").value == 0.8
    assert at.number_input(key="preprocess::split.ratios[blackbox]").value is None
    assert "no classes given" in messages(at)
    assert at.button(key="preprocess::#run").disabled


def test_train_form_starts_with_the_cli_defaults(root):
    at = page("train")
    defaults = TrainConfig()
    assert at.number_input(key="train::epochs").value == defaults.epochs
    assert at.number_input(key="train::batch_size").value == defaults.batch_size
    assert at.number_input(key="train::learning_rate").value == defaults.learning_rate
    assert at.selectbox(key="train::optimizer").value == defaults.optimizer
    assert at.number_input(key="train::early_stopping.patience").value == 10
    preset = at.selectbox(key="train::preset")
    assert preset.options[preset.index] == "default (cnn)"
    assert "data: required" in messages(at)


# --------------------------------------------------------------------------- validation


def test_genome_field_appears_only_for_bed_input_and_is_required_there(root, tmp_path):
    genome, pos, neg = loci_files(tmp_path / "in")
    at = page("preprocess")
    assert not [t for t in at.text_input if t.key == "preprocess::genome"]  # no input yet: no genome asked
    fasta = tmp_path / "in" / "pos.fa"
    fasta.write_text(">a\nACGTACGT\n")
    fill_two_classes(at, fasta, fasta)
    assert not [t for t in at.text_input if t.key == "preprocess::genome"]  # FASTA needs none
    fill_two_classes(at, pos, neg)
    assert at.text_input(key="preprocess::genome").value in ("", None)
    at.text_input(key="preprocess::classes[0].name").set_value("").run()
    assert at.text_input(key="preprocess::genome")  # a BED file without a class name yet still asks
    text = messages(at).replace("\\", "")
    assert "pos.bed and 1 more is BED: its sequences are cut from a reference genome" in text
    assert "--genome" not in text  # said in the page's terms, not the command line's
    assert at.button(key="preprocess::#run").disabled
    at.text_input(key="preprocess::classes[0].name").set_value("bound")
    at.text_input(key="preprocess::genome").set_value(str(genome)).run()
    assert "is BED" not in messages(at)


def test_missing_genome_file_is_reported_before_run(root, tmp_path):
    _, pos, neg = loci_files(tmp_path / "in")
    at = page("preprocess")
    fill_two_classes(at, pos, neg)
    at.text_input(key="preprocess::genome").set_value(str(tmp_path / "nowhere.fa"))
    at.run()
    assert f"{tmp_path / 'nowhere.fa'} does not exist" in messages(at).replace("\\", "")
    assert at.button(key="preprocess::#run").disabled


def test_missing_class_file_is_reported(root, tmp_path):
    genome, pos, _ = loci_files(tmp_path / "in")
    at = page("preprocess")
    fill_two_classes(at, pos, tmp_path / "absent.bed")
    at.text_input(key="preprocess::genome").set_value(str(genome))
    at.run()
    assert "absent.bed does not exist" in messages(at).replace("\\", "")


def test_negative_split_ratio_is_reported(root, tmp_path):
    genome, pos, neg = loci_files(tmp_path / "in")
    at = page("preprocess")
    fill_two_classes(at, pos, neg)
    at.text_input(key="preprocess::genome").set_value(str(genome))
    at.number_input(key="preprocess::split.ratios[valid]").set_value(-0.2)
    at.run()
    assert "split ratios must not be negative" in messages(at)
    assert at.button(key="preprocess::#run").disabled


def test_chromosome_in_two_splits_is_reported(root, tmp_path):
    genome, pos, neg = loci_files(tmp_path / "in")
    at = page("preprocess")
    fill_two_classes(at, pos, neg)
    at.text_input(key="preprocess::genome").set_value(str(genome))
    at.selectbox(key="preprocess::split.method").set_value("chromosome").run()
    at.text_input(key="preprocess::split.train").set_value("chr1, chr2")
    at.text_input(key="preprocess::split.test").set_value("chr2")
    at.run()
    assert "chromosome 'chr2' is in both the train and test lists" in messages(at)
    assert at.button(key="preprocess::#run").disabled


def test_duplicate_class_names_are_reported(root, tmp_path):
    genome, pos, neg = loci_files(tmp_path / "in")
    at = page("preprocess")
    fill_two_classes(at, pos, neg)
    at.text_input(key="preprocess::classes[1].name").set_value("bound")
    at.run()
    assert "the class name 'bound' is given twice" in messages(at)


def test_fold_options_appear_only_with_the_fold_branch(root):
    at = page("preprocess")
    keys = {w.key for w in at.number_input}
    assert "preprocess::fold.temperature" not in keys
    at.multiselect(key="preprocess::branches").set_value(["seq", "fold"]).run()
    assert at.number_input(key="preprocess::fold.temperature").value == 37.0


def test_chromosome_lists_replace_ratios_with_the_chromosome_method(root):
    at = page("preprocess")
    assert "preprocess::split.train" not in {w.key for w in at.text_input}
    at.selectbox(key="preprocess::split.method").set_value("chromosome").run()
    assert "preprocess::split.train" in {w.key for w in at.text_input}
    assert "preprocess::split.ratios[train]" not in {w.key for w in at.number_input}


def test_bad_architecture_yaml_is_reported(root, synthetic_dataset):
    data = synthetic_dataset()
    at = page("train")
    at.text_input(key="train::data").set_value(str(data))
    at.radio(key="train::#network").set_value("My own architecture (YAML)").run()
    at.text_area(key="train::architecture").set_value("branches: [unclosed").run()
    assert "not valid YAML" in messages(at)


# --------------------------------------------------------------------------- runs


def test_preprocess_run_gets_the_config_the_cli_builds(root, tmp_path, started):
    genome, pos, neg = loci_files(tmp_path / "in")
    at = page("preprocess")
    fill_two_classes(at, pos, neg)
    at.text_input(key="preprocess::genome").set_value(str(genome))
    at.checkbox(key="preprocess::window#auto").uncheck().run()
    at.number_input(key="preprocess::window").set_value(50)
    at.number_input(key="preprocess::split.ratios[blackbox]").set_value(0.1)
    at.run()
    assert not at.button(key="preprocess::#run").disabled, messages(at)
    at.text_input(key="preprocess::#name").set_value("my-data")
    at.button(key="preprocess::#run").click().run()
    no_exception(at)
    assert len(started) == 1
    call = started[0]
    assert (call["stage"], call["name"], call["output"]) == ("preprocess", "my-data", root.resolve())

    # what `lociflow preprocess -c user.yaml` would load from a file with the same values
    user = tmp_path / "in" / "user.yaml"
    user.write_text(yaml.safe_dump({"preprocess": {
        "classes": {"bound": ["pos.bed"], "unbound": ["neg.bed"]}, "genome": "genome.fa", "window": 50,
        "split": {"ratios": {"train": 0.8, "valid": 0.1, "test": 0.1, "blackbox": 0.1}}}}, sort_keys=False))
    cli = load_stage(PreprocessConfig, "preprocess", user).dump()
    assert call["document"] == {"preprocess": cli}
    assert yaml.safe_dump(call["document"], sort_keys=False) == yaml.safe_dump({"preprocess": cli}, sort_keys=False)


def test_train_run_gets_the_config_the_cli_builds(root, tmp_path, started, synthetic_dataset):
    data = synthetic_dataset()
    at = page("train")
    at.text_input(key="train::data").set_value(str(data))
    at.number_input(key="train::epochs").set_value(2)
    at.selectbox(key="train::preset").set_value("deepbind")
    at.selectbox(key="train::schedule").set_value("step").run()
    at.text_area(key="train::schedule_options").set_value("step_size: 1\ngamma: 0.5")
    at.checkbox(key="train::early_stopping#on").uncheck()
    at.run()
    at.button(key="train::#run").click().run()
    no_exception(at)
    assert len(started) == 1
    cli = load_stage(TrainConfig, "train", None,
                     ["epochs=2", "preset=deepbind", "schedule=step", "schedule_options={step_size: 1, gamma: 0.5}",
                      "early_stopping=null"], {"data": data}).dump()
    assert started[0]["document"] == {"train": cli}
    assert started[0]["options"] is None


def test_tuning_is_offered_off_and_reaches_the_run_as_the_cli_builds_it(root, started, synthetic_dataset):
    data = synthetic_dataset()
    at = page("train")
    assert at.checkbox(key="train::tune#on").value is False, "tuning is off by default"
    at.text_input(key="train::data").set_value(str(data))
    at.checkbox(key="train::tune#on").check().run()
    at.number_input(key="train::tune.trials").set_value(5)
    at.number_input(key="train::tune.minutes").set_value(30.0)
    at.run()
    at.button(key="train::#run").click().run()
    no_exception(at)
    cli = load_stage(TrainConfig, "train", None, ["tune.trials=5", "tune.minutes=30"], {"data": data}).dump()
    assert started[0]["document"] == {"train": cli}


def test_train_resume_is_passed_to_the_api(root, started, synthetic_dataset):
    data = synthetic_dataset()
    at = page("train")
    at.text_input(key="train::data").set_value(str(data))
    at.checkbox(key="train::#resume").check()
    at.text_input(key="train::#name").set_value("old-run")
    at.run()
    at.button(key="train::#run").click().run()
    assert started[0]["options"] == {"resume": True}
    assert started[0]["name"] == "old-run"


def test_train_page_suggests_the_newest_dataset(root, synthetic_dataset):
    data = synthetic_dataset()
    with open_run("preprocess", root, {}, name="ds") as run:
        for item in data.iterdir():
            if not (run.path / item.name).exists():
                (run.path / item.name).symlink_to(item)
    at = page("train")
    assert at.text_input(key="train::data").value == str(root.resolve() / "ds")


def test_evaluate_on_new_files_needs_the_classes(root, tmp_path, started):
    model = tmp_path / "model"
    model.mkdir()
    at = page("evaluate")
    at.text_input(key="evaluate::model").set_value(str(model))
    at.radio(key="evaluate::#mode").set_value("New labelled files (BED or FASTA per class)").run()
    assert "name the classes" in messages(at)
    assert at.button(key="evaluate::#run").disabled


def test_load_parameters_fills_the_form(root, tmp_path):
    genome, pos, neg = loci_files(tmp_path / "in")
    params = tmp_path / "in" / "params.yaml"
    write_yaml(params, {"preprocess": {
        "classes": {"up": [str(pos)], "down": [str(neg)]}, "genome": str(genome), "window": 64,
        "branches": ["seq", "fold"], "fold": {"temperature": 25.0},
        "split": {"method": "chromosome", "train": ["chr1"], "test": ["chr2"]}}})
    at = page("preprocess")
    at.radio(key="preprocess::#load_from").set_value("a params.yaml file").run()
    at.text_input(key="preprocess::#load_file").set_value(str(params)).run()
    at.button(key="preprocess::#load").click().run()
    no_exception(at)
    assert at.checkbox(key="preprocess::window#auto").value is False
    assert at.number_input(key="preprocess::window").value == 64
    assert at.text_input(key="preprocess::classes[0].name").value == "up"
    assert at.text_area(key="preprocess::classes[1].files").value == str(neg)
    assert at.number_input(key="preprocess::fold.temperature").value == 25.0
    assert at.text_input(key="preprocess::split.train").value == "chr1"
    assert not messages(at), messages(at)


def test_loading_a_file_without_the_section_says_so(root, tmp_path):
    params = tmp_path / "other.yaml"
    write_yaml(params, {"train": {"epochs": 3}})
    at = page("preprocess")
    at.radio(key="preprocess::#load_from").set_value("a params.yaml file").run()
    at.text_input(key="preprocess::#load_file").set_value(str(params)).run()
    at.button(key="preprocess::#load").click().run()
    assert "has no preprocess: section" in messages(at)


# --------------------------------------------------------------------------- results


def fake_finished_job(root: Path, stage: str, name: str) -> Path:
    """A job folder and run folder as a finished background run leaves them."""
    folder = root / name
    folder.mkdir(parents=True)
    job_dir = root / jobs.JOBS_DIR / f"20260101-000000-{stage}-abc"
    job_dir.mkdir(parents=True)
    write_json(job_dir / "job.json", {"id": job_dir.name, "stage": stage, "name": name, "output": str(root),
                                      "pid": 999999, "started": time.time() - 5})
    (job_dir / "output.log").write_text("step 1\rstep 2\rstep 3\ndone\n")
    write_json(job_dir / "result.json", {"status": "ok", "folder": str(folder), "message": ""})
    return folder


def test_finished_evaluate_job_shows_curves_and_metrics(root):
    import numpy as np

    from lociflow.evaluation.curves import pr_points, roc_points

    folder = fake_finished_job(root, "evaluate", "ev")
    labels = np.array([0, 1, 0, 1, 1, 0])
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.4, 0.6], [0.3, 0.7], [0.7, 0.3]])
    roc_points(labels, probs, ["a", "b"]).to_csv(folder / "roc_curve.tsv", sep="\t", index=False)
    pr_points(labels, probs, ["a", "b"]).to_csv(folder / "pr_curve.tsv", sep="\t", index=False)
    write_json(folder / "metrics.json", {"auroc": {"a": 1.0, "b": 1.0, "macro": 1.0}, "accuracy": 1.0})
    at = page("evaluate")
    no_exception(at)
    assert "Finished" in at.success[0].value
    charts = at.get("plotly_chart")
    assert len(charts) == 2
    figure = json.loads(charts[0].proto.spec)
    assert {trace["name"] for trace in figure["data"]} >= {"a", "b", "micro", "macro"}


def test_two_class_evaluation_shows_one_curve_of_the_positive_class_and_explains_the_metrics(root):
    import numpy as np

    from lociflow.evaluation.curves import pr_points, roc_points

    folder = fake_finished_job(root, "evaluate", "ev2")
    labels = np.array([0, 1, 0, 1, 1, 0])
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.6, 0.4], [0.3, 0.7], [0.7, 0.3]])
    roc_points(labels, probs, ["a", "b"]).to_csv(folder / "roc_curve.tsv", sep="\t", index=False)
    pr_points(labels, probs, ["a", "b"]).to_csv(folder / "pr_curve.tsv", sep="\t", index=False)
    write_json(folder / "metrics.json", {"auroc": {"a": 0.9, "b": 0.9, "macro": 0.9, "micro": 0.85},
                                         "accuracy": 0.8, "mcc": 0.6, "log_loss": 0.4, "balanced_accuracy": None,
                                         "classes": ["a", "b"], "positive": "b"})
    at = page("evaluate")
    no_exception(at)
    roc, pr = (json.loads(chart.proto.spec) for chart in at.get("plotly_chart"))
    assert [trace["name"] for trace in roc["data"]] == ["b"] and [trace["name"] for trace in pr["data"]] == ["b"]
    assert "b (positive class)" in roc["layout"]["title"]["text"]
    assert pr["data"][0]["line"]["shape"] == "hv"  # a step, never a diagonal over tied scores
    per_class = next(t.value for t in at.dataframe if "a" in t.value)
    assert list(per_class.columns) == ["a", "b"]  # no micro or macro column beside the one AUROC
    element = next(t for t in at.dataframe if "metric" in t.value)
    numbers = element.value
    assert {"MCC", "log loss", "accuracy"} <= set(numbers["metric"])
    assert numbers.loc[numbers["metric"] == "balanced accuracy", "value"].isna().all()
    assert element.proto.placeholder == "–"  # an empty cell shows a dash, not None
    notes = " ".join(c.value for c in at.caption)
    assert "Matthews correlation" in notes and "-ln(probability given to the true class)" in notes
    assert "step 3\ndone" in at.code[0].value and "step 1" not in at.code[0].value


def test_finished_predict_job_offers_the_table_for_download(root):
    folder = fake_finished_job(root, "predict", "pr")
    pd.DataFrame({"id": ["x", "y"], "prob_a": [0.2, 0.9], "prob_b": [0.8, 0.1], "top_class": ["b", "a"]}).to_csv(
        folder / "predictions.tsv", sep="\t", index=False)
    at = page("predict")
    no_exception(at)
    assert list(at.dataframe[0].value["top_class"]) == ["b", "a"]
    assert at.get("download_button")


def test_variants_run_gets_the_config_the_cli_builds(root, tmp_path, started):
    from lociflow.config import VariantsConfig

    model, vcf = tmp_path / "model", tmp_path / "v.vcf"
    model.mkdir()
    vcf.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\nchr1\t5\t.\tA\tC\n")
    at = page("variants")
    assert "vcf: required" in messages(at).lower() or at.button(key="variants::#run").disabled
    at.text_input(key="variants::model").set_value(str(model))
    at.text_input(key="variants::vcf").set_value(str(vcf))
    at.selectbox(key="variants::strand").set_value("both")
    at.selectbox(key="variants::attribute").set_value("ism")
    at.run()
    at.button(key="variants::#run").click().run()
    no_exception(at)
    cli = load_stage(VariantsConfig, "variants", None, ["strand=both", "attribute=ism"],
                     {"model": model, "vcf": vcf}).dump()
    assert started[0]["document"] == {"variants": cli}


def test_scan_resume_is_passed_to_the_api(root, tmp_path, started):
    from lociflow.config import ScanConfig

    model = tmp_path / "model"
    model.mkdir()
    at = page("scan")
    at.text_input(key="scan::model").set_value(str(model))
    at.checkbox(key="scan::#resume").check()
    at.text_input(key="scan::#name").set_value("old-scan")
    at.run()
    at.button(key="scan::#run").click().run()
    no_exception(at)
    assert started[0]["options"] == {"resume": True} and started[0]["name"] == "old-scan"
    assert started[0]["document"] == {"scan": load_stage(ScanConfig, "scan", None, None, {"model": model}).dump()}


def test_finished_variants_and_scan_jobs_show_their_tables_and_tracks(root):
    folder = fake_finished_job(root, "variants", "va")
    pd.DataFrame({"rank": [1], "chrom": ["chr1"], "pos": [5], "id": ["rs1"], "ref": ["A"], "alt": ["C"],
                  "strand": ["+"], "effect": [0.7]}).to_csv(folder / "top_variants.tsv", sep="\t", index=False)
    pd.DataFrame({"chrom": ["chr1"], "pos": [5], "id": ["rs1"], "ref": ["A"], "alt": ["C"],
                  "delta_a": [-0.7]}).to_csv(folder / "variants.tsv", sep="\t", index=False)
    at = page("variants")
    no_exception(at)
    assert list(at.dataframe[0].value["id"]) == ["rs1"] and at.get("download_button")
    folder = fake_finished_job(root, "scan", "sc")
    (folder / "motif.bw").write_bytes(b"")
    (folder / "called.bed").write_text("chr1\t10\t110\tmotif\t0.9\n")
    at = page("scan")
    no_exception(at)
    assert any("motif.bw" in m.value for m in at.markdown)
    assert list(at.dataframe[0].value["class"]) == ["motif"]


def test_runs_page_compares_two_runs(root):
    for name, window, auroc in (("first", 100, 0.8), ("second", 150, 0.9)):
        with open_run("preprocess", root, {"window": window, "seed": 1}, name=name,
                      summary_params={"window": window}) as run:
            write_json(run.path / "metrics.json", {"auroc": {"macro": auroc}})
            run.record(loci=window)
    at = page("runs")
    no_exception(at)
    ledger = at.dataframe[0].value
    assert list(ledger["run"]) == ["first", "second"]
    params, metrics = at.dataframe[1].value, at.dataframe[2].value
    assert list(params["key"]) == ["window"]  # only what differs
    assert list(metrics.loc[metrics["key"] == "auroc.macro", "second"]) == [0.9]
    assert all(element.proto.placeholder == "–" for element in at.dataframe)  # no table shows None


def test_log_tail_keeps_only_the_last_state_of_progress_bars(tmp_path):
    log = tmp_path / "output.log"
    log.write_text("start\nfolding  10%\rfolding  50%\rfolding 100%\nend\n")
    assert jobs.tail(log) == "start\nfolding 100%\nend\n"


def plotted(values) -> list[float]:
    """Plotly's JSON values, plain or binary-encoded ({dtype, bdata})."""
    import base64

    import numpy as np

    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).tolist()
    return list(values)


def test_running_train_job_shows_live_curves_from_its_work_folder(root):
    import subprocess

    job_dir = root / jobs.JOBS_DIR / "20260101-000000-train-live"
    job_dir.mkdir(parents=True)
    sleeper = subprocess.Popen(["sleep", "60"])
    jobs._CHILDREN[sleeper.pid] = sleeper
    try:
        write_json(job_dir / "job.json", {"id": job_dir.name, "stage": "train", "name": "live", "output": str(root),
                                          "pid": sleeper.pid, "started": time.time()})
        work = root / ".live.tmp-abc123"  # the run folder while the run is in progress
        work.mkdir()
        pd.DataFrame({"epoch": [1, 2], "train_loss": [0.7, 0.6], "train_accuracy": [0.5, 0.6], "val_loss": [0.69, 0.65],
                      "val_accuracy": [0.5, 0.55], "val_auroc": [0.6, 0.7], "lr": [0.001, 0.001],
                      "seconds": [1.0, 1.0]}).to_csv(work / "history.tsv", sep="\t", index=False)
        at = page("train")
        no_exception(at)
        assert "Running" in at.info[0].value
        charts = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
        titles = [chart["layout"]["title"]["text"] for chart in charts]
        assert titles == ["Loss", "Accuracy", "AUROC"]
        assert plotted(charts[2]["data"][0]["y"]) == [0.6, 0.7]
        # whole-epoch ticks and the best epoch (lowest val_loss, the default monitor) marked
        assert all(chart["layout"]["xaxis"]["dtick"] == 1 for chart in charts)
        assert [shape["x0"] for shape in charts[0]["layout"]["shapes"]] == [2]
        assert at.button(key=f"{job_dir.name}#stop")
    finally:
        sleeper.kill()
        sleeper.wait()


def test_finished_preprocess_job_shows_the_loci_per_split(root):
    folder = fake_finished_job(root, "preprocess", "ds")
    write_json(folder / "manifest.json", {"classes": ["a", "b"], "window": 40, "alphabet": "dna",
                                          "branches": {"seq": {}}, "counts": {"train": {"a": 4, "b": 4}}})
    (folder / "summary.tsv").write_text("class\tloci_in\ttrain\na\t4\t4\nb\t4\t4\n")
    at = page("preprocess")
    no_exception(at)
    assert list(at.dataframe[0].value["loci_in"]) == [4, 4]


def test_search_run_gets_the_search_and_base_train_sections(root, tmp_path, started, synthetic_dataset):
    data = synthetic_dataset()
    base = tmp_path / "base.yaml"
    write_yaml(base, {"train": {"data": str(data), "epochs": 3, "preset": "deepbind"}})
    at = page("search")
    at.text_input(key="search::data").set_value(str(data))
    at.number_input(key="search::trials").set_value(4)
    at.text_input(key="search::#train_params").set_value(str(base))
    at.run()
    at.button(key="search::#run").click().run()
    no_exception(at)
    document = started[0]["document"]
    assert set(document) == {"search", "train"}
    assert document["search"]["trials"] == 4
    assert document["search"]["space"]["learning_rate"]["type"] == "float"
    assert document["train"] == load_stage(TrainConfig, "train", base).dump()


@pytest.mark.parametrize("name", [p for p in PAGES if p != "runs"])
def test_every_config_option_is_drawn_or_marked_as_not_applying(root, monkeypatch, name):
    from lociflow.gui import forms

    seen = []
    original = forms.Form.check

    def check(self):
        seen.append(self)
        return original(self)

    monkeypatch.setattr(forms.Form, "check", check)
    no_exception(page(name))
    form = seen[-1]
    assert form._unplaced(form.model, ()) == []
    drawn = {path[0] for path in form.rendered}
    if "seed" in form.model.model_fields:  # options without a special place still appear (under More options)
        assert "seed" in drawn


def test_uploaded_file_is_saved_into_uploads_and_fills_the_field(root, tmp_path):
    _, pos, neg = loci_files(tmp_path / "in")
    at = page("preprocess")
    fill_two_classes(at, pos, neg)
    uploader = next(u for u in at.get("file_uploader") if u.key == "preprocess::genome#upload")
    uploader.set_value(("tiny.fa", b">chr1\nACGT\n", "text/plain")).run()
    no_exception(at)
    saved = root.resolve() / "uploads" / "tiny.fa"
    assert saved.read_bytes() == b">chr1\nACGT\n"
    assert at.text_input(key="preprocess::genome").value == str(saved)


def test_path_picked_on_the_server_fills_the_field(root, tmp_path):
    genome, pos, neg = loci_files(tmp_path / "in")
    at = page("preprocess")
    fill_two_classes(at, pos, neg)
    at.text_input(key="preprocess::genome#folder").set_value(str(genome.parent)).run()
    at.selectbox(key="preprocess::genome#entry").set_value("genome.fa").run()
    at.button(key="preprocess::genome#use").click().run()
    no_exception(at)
    assert at.text_input(key="preprocess::genome").value == str(genome)


def test_hardware_devices_default_reads_as_the_cli_default(root):
    at = page("train")
    assert at.text_area(key="train::devices").value == "auto"


def test_finished_ensemble_shows_a_curve_per_network_and_the_networks_table(root):
    folder = fake_finished_job(root, "train", "ens")
    pd.DataFrame({"member": [1, 1, 2, 2], "epoch": [1, 2, 1, 2], "train_loss": [0.7, 0.6, 0.72, 0.61],
                  "train_accuracy": [0.5, 0.6, 0.5, 0.6], "val_loss": [0.69, 0.65, 0.7, 0.66],
                  "val_accuracy": [0.5, 0.55, 0.5, 0.56], "val_auroc": [0.6, 0.7, 0.62, 0.71],
                  "lr": [0.001] * 4, "seconds": [1.0] * 4}).to_csv(folder / "history.tsv", sep="\t", index=False)
    write_json(folder / "metrics.json", {
        "auroc": {"a": 0.8, "b": 0.8, "macro": 0.8}, "accuracy": 0.7, "ensemble": 2,
        "members": [{"member": 1, "seed": 42, "best_epoch": 2, "epochs_trained": 2, "test_auroc": 0.75,
                     "complete": True},
                    {"member": 2, "seed": 43, "best_epoch": 2, "epochs_trained": 2, "test_auroc": 0.77,
                     "complete": True}]})
    (folder / "plots").mkdir()
    import matplotlib.pyplot as plt

    plt.imsave(folder / "plots" / "network.png", [[0.0, 1.0], [1.0, 0.0]])
    (folder / "spec.yaml").write_text("format_version: 2\nensemble: 2\n")
    at = page("train")
    no_exception(at)
    assert any("Each of the ensemble's 2 networks has this architecture" in c.value for c in at.caption)
    auroc = json.loads(at.get("plotly_chart")[2].proto.spec)
    assert [trace["name"] for trace in auroc["data"]] == ["val auroc, network 1", "val auroc, network 2"]
    assert plotted(auroc["data"][1]["y"]) == [0.62, 0.71]
    tables = [t.value for t in at.dataframe]
    # labels a person reads, not snake_case
    assert any("test AUROC" in t and list(t["test AUROC"]) == [0.75, 0.77] for t in tables)
    assert not any("test_auroc" in t or "best_epoch" in t for t in tables)


def test_compare_two_runs_does_not_default_to_a_failed_run(root):
    for name in ("good1", "good2"):
        with open_run("preprocess", root, {"window": 100}, name=name) as run:
            run.record(loci=1)
    with pytest.raises(RuntimeError):
        with open_run("preprocess", root, {"window": 100}, name="broken"):
            raise RuntimeError("boom")
    at = page("runs")
    no_exception(at)
    chosen = {at.selectbox(key="runs::#a").value.name, at.selectbox(key="runs::#b").value.name}
    assert chosen == {"good1", "good2"}


def test_class_rows_have_different_placeholders(root):
    at = page("preprocess")
    placeholders = [at.text_input(key=f"preprocess::classes[{i}].name").placeholder for i in range(2)]
    assert placeholders == ["e.g. bound", "e.g. unbound"]


def test_tables_show_a_dash_for_empty_text_and_none_and_one_type_per_column():
    import pandas as pd

    from lociflow.gui.views import for_display

    shown = for_display(pd.DataFrame({"best_val_loss": [0.5, None], "skipped": ["", "ig"],
                                      "mixed": [1, "a"], "listed": [[1, 2], None]}))
    assert list(shown.columns) == ["best validation loss", "skipped", "mixed", "listed"]
    assert list(shown["skipped"]) == ["–", "ig"] and list(shown["mixed"]) == ["1", "a"]
    assert list(shown["listed"]) == ["[1, 2]", "–"]
    assert shown["best validation loss"].dtype.kind == "f"  # numbers stay numbers (sortable)
    classes = for_display(pd.DataFrame({"my_class": [0.9], "val": [0.8]}, index=["auroc"]), labels="index")
    assert list(classes.columns) == ["my_class", "val"] and list(classes.index) == ["AUROC"]  # names as given


def test_paths_in_code_spans_show_as_typed():
    from lociflow.gui.fields import md_code

    assert md_code("/runs/my_run/index.html") == "`/runs/my_run/index.html`"  # no \\_ escapes inside code
    assert md_code("odd`name") == "``odd`name``"


def test_file_picker_takes_a_typed_path_and_opens_a_picked_folder_at_once(root, tmp_path):
    deep = tmp_path / "a" / "b" / "c"
    deep.mkdir(parents=True)
    target = deep / "genome.fa"
    target.write_text(">chr1\nACGT\n")
    _, pos, neg = loci_files(tmp_path / "in")
    at = page("preprocess")
    fill_two_classes(at, pos, neg)
    # a pasted file path is used in one click, however deep
    at.text_input(key="preprocess::genome#folder").set_value(str(target)).run()
    at.button(key="preprocess::genome#use-typed").click().run()
    assert at.text_input(key="preprocess::genome").value == str(target)
    # picking a folder in the list opens it, without an extra click per level
    at.text_input(key="preprocess::genome#folder").set_value(str(tmp_path / "a")).run()
    at.selectbox(key="preprocess::genome#entry").set_value("b/").run()
    assert at.text_input(key="preprocess::genome#folder").value == str(tmp_path / "a" / "b")
    assert "c/" in at.selectbox(key="preprocess::genome#entry").options
    no_exception(at)


def test_evaluate_offers_the_models_two_classes_as_the_positive_class(root, tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "spec.yaml").write_text("format_version: 2\nclasses: [bound, unbound]\nbranches: [seq]\n")
    at = page("evaluate")
    at.text_input(key="evaluate::model").set_value(str(model)).run()
    choice = at.selectbox(key="evaluate::positive")
    assert choice.options[1:] == ["bound", "unbound"] and "default: the first class (bound)" in choice.options[0]
    choice.set_value("unbound").run()
    no_exception(at)
    (model / "spec.yaml").write_text("format_version: 2\nclasses: [a, b, c]\nbranches: [seq]\n")
    at = page("evaluate")
    at.text_input(key="evaluate::model").set_value(str(model)).run()
    assert not [s for s in at.selectbox if s.key == "evaluate::positive"]  # three classes: a curve each
def test_a_background_class_made_from_the_genome_reaches_the_run(root, tmp_path, started):
    genome, pos, _ = loci_files(tmp_path / "in")
    blacklist = tmp_path / "in" / "blacklist.bed"
    blacklist.write_text("chr1\t200\t300\n")
    at = page("preprocess")
    at.text_input(key="preprocess::classes[0].name").set_value("bound")
    at.text_area(key="preprocess::classes[0].files").set_value(str(pos))
    at.checkbox(key="preprocess::classes#made.on").check().run()
    at.selectbox(key="preprocess::classes#made.from").set_value("genome").run()
    at.number_input(key="preprocess::classes#made.ratio").set_value(2.0)
    at.text_area(key="preprocess::classes#made.exclude").set_value(str(blacklist))
    at.number_input(key="preprocess::classes#made.margin").set_value(100)
    at.text_input(key="preprocess::genome").set_value(str(genome))
    at.checkbox(key="preprocess::window#auto").uncheck().run()
    at.number_input(key="preprocess::window").set_value(50)
    at.run()
    assert not at.button(key="preprocess::#run").disabled, messages(at)
    at.button(key="preprocess::#run").click().run()
    no_exception(at)
    made = started[0]["document"]["preprocess"]["classes"]["background"]
    assert (made["from"], made["like"], made["ratio"], made["margin"]) == ("genome", "bound", 2.0, 100)
    assert made["exclude"] == [str(blacklist)] and made["match"] == ["gc"]


def test_a_made_class_named_like_a_file_class_is_reported(root, tmp_path):
    _, pos, _ = loci_files(tmp_path / "in")
    at = page("preprocess")
    at.text_input(key="preprocess::classes[0].name").set_value("bound")
    at.text_area(key="preprocess::classes[0].files").set_value(str(pos))
    at.checkbox(key="preprocess::classes#made.on").check().run()
    at.selectbox(key="preprocess::classes#made.from").set_value("shuffle").run()
    at.text_input(key="preprocess::classes#made.name").set_value("bound").run()
    assert "already a class with files" in messages(at)
    assert at.button(key="preprocess::#run").disabled


def test_loading_parameters_with_a_made_class_fills_its_widgets(root, tmp_path):
    genome, pos, _ = loci_files(tmp_path / "in")
    params = tmp_path / "in" / "params.yaml"
    write_yaml(params, {"preprocess": {
        "classes": {"bound": [str(pos)], "shuffled": {"from": "shuffle", "like": "bound", "kmer": 3}},
        "genome": str(genome), "window": 50}})
    at = page("preprocess")
    at.radio(key="preprocess::#load_from").set_value("a params.yaml file").run()
    at.text_input(key="preprocess::#load_file").set_value(str(params)).run()
    at.button(key="preprocess::#load").click().run()
    no_exception(at)
    assert at.checkbox(key="preprocess::classes#made.on").value is True
    assert at.text_input(key="preprocess::classes#made.name").value == "shuffled"
    assert at.number_input(key="preprocess::classes#made.kmer").value == 3
    assert at.text_input(key="preprocess::classes[0].name").value == "bound"
    assert not messages(at), messages(at)


def test_table_input_is_offered(root, tmp_path, started):
    table = tmp_path / "gue.csv"
    table.write_text("sequence,label\n" + "".join(f"ACGTACGTAC,{i % 2}\n" for i in range(20)))
    at = page("preprocess")
    at.checkbox(key="preprocess::table#on").check().run()
    at.text_input(key="preprocess::table.file").set_value(str(table)).run()
    at.checkbox(key="preprocess::window#auto").uncheck().run()
    at.number_input(key="preprocess::window").set_value(10).run()
    assert not at.button(key="preprocess::#run").disabled, messages(at)
    at.button(key="preprocess::#run").click().run()
    assert started[0]["document"]["preprocess"]["table"]["file"] == str(table)


def test_finished_preprocess_job_shows_the_background_match(root):
    from lociflow.layout import BACKGROUND_FILE, MANIFEST_FILE

    folder = fake_finished_job(root, "preprocess", "ds")
    write_json(folder / MANIFEST_FILE, {"classes": ["bound", "background"], "window": 40, "alphabet": "dna",
                                        "branches": {"seq": {}}, "counts": {"train": {"bound": 4, "background": 4}}})
    (folder / BACKGROUND_FILE).write_text("class\tlike\tks_statistic\nbackground\tbound\t0.02\n")
    at = page("preprocess")
    no_exception(at)
    assert any("Kolmogorov" in c.value for c in at.caption)
    assert list(at.dataframe[-1].value["ks_statistic"]) == [0.02]
