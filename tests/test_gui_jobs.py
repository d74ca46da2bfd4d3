"""Background jobs of the GUI: real worker processes, compared with the CLI."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from lociflow.config import TrainConfig, load_stage
from lociflow.gui import jobs
from lociflow.runs import read_ledger


def wait(job: jobs.Job, seconds: float = 180) -> str:
    deadline = time.time() + seconds
    while time.time() < deadline:
        status = job.status()
        if status != "running":
            return status
        time.sleep(0.5)
    job.stop(hard=True)
    raise AssertionError(f"job did not finish in {seconds} s:\n{job.log_text()}")


def body(params: Path) -> str:
    """params.yaml without its comment header (which names the run)."""
    return "".join(line for line in params.read_text().splitlines(keepends=True) if not line.startswith("#"))


@pytest.mark.slow
def test_background_run_writes_what_the_cli_writes(tmp_path, synthetic_dataset):
    data = synthetic_dataset(n=200, window=30)
    root = tmp_path / "runs"
    document = {"train": {"data": str(data), "preset": "deepbind", "epochs": 1, "batch_size": 64,
                          "ensemble": 1}}
    job = jobs.start_job("train", document, root, name="from-gui")
    assert job.status() == "running"
    assert wait(job) == "ok", job.log_text()
    assert job.run_folder() == root / "from-gui"
    assert (root / "from-gui" / "model.safetensors").exists()
    assert str(root / "from-gui") in job.log_text()  # the folder is printed last, as by the CLI

    # what `lociflow train -c config.yaml` writes as params.yaml for the same file
    cli = load_stage(TrainConfig, "train", job.config_path).dump()
    expected = yaml.safe_dump({"train": cli}, sort_keys=False, default_flow_style=False, allow_unicode=True)
    assert body(root / "from-gui" / "params.yaml") == expected
    ledger = read_ledger(root).set_index("run_id")
    assert ledger.loc["from-gui", "stage"] == "train" and ledger.loc["from-gui", "status"] == "ok"
    assert ledger.loc["from-gui", "path"] == str(root / "from-gui")
    assert [j.id for j in jobs.list_jobs(root, "train")] == [job.id]


def test_user_error_in_a_background_run_is_reported_and_found_after_a_reload(tmp_path):
    root = tmp_path / "runs"
    document = {"predict": {"model": str(tmp_path / "no-model"), "input": [str(tmp_path / "x.fa")]}}
    job = jobs.start_job("predict", document, root, name="bad")
    assert wait(job, 120) == "error"
    assert "no-model" in job.result()["message"]
    assert "Error:" in job.log_text()
    assert not (root / "bad").exists()
    again = jobs.load_job(job.folder)  # a reload knows nothing but the files
    assert again == job and again.status() == "error"


@pytest.mark.slow
def test_stop_ends_training_like_ctrl_c_keeping_the_best_model(tmp_path, synthetic_dataset):
    data = synthetic_dataset(n=200, window=30)
    root = tmp_path / "runs"
    document = {"train": {"data": str(data), "preset": "deepbind", "epochs": 200, "batch_size": 16,
                          "early_stopping": None, "ensemble": 1}}
    job = jobs.start_job("train", document, root, name="long")
    deadline = time.time() + 120
    while time.time() < deadline and job.status() == "running":
        folder = job.run_folder()
        # two epochs recorded: the first one's best checkpoint is surely on disk
        history = folder / "history.tsv" if folder is not None else None
        if history is not None and history.exists() and len(history.read_text().splitlines()) >= 3:
            break
        time.sleep(0.5)
    assert job.status() == "running", job.log_text()
    job.stop()
    # training ends cleanly with the best model so far, as after Ctrl-C on the command line
    assert wait(job, 60) == "stopped", job.log_text()
    assert job.run_folder() == root / "long"
    metrics = json.loads((root / "long" / "metrics.json").read_text())
    assert 1 <= metrics["epochs_trained"] < 200
    assert (root / "long" / "model.safetensors").exists()


@pytest.mark.slow
def test_background_scan_resumes_through_the_options(tmp_path):
    # the GUI passes {"resume": True} to lociflow.scan; a finished scan refuses it with its message
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from genome_model import save_planted_model, write_genome

    genome = write_genome(tmp_path / "genome.fa")
    model = save_planted_model(tmp_path / "model", genome)
    root = tmp_path / "runs"
    document = {"scan": {"model": str(model), "genome": str(genome), "chromosomes": ["chr2"], "stride": 100,
                         "strand": "+", "device": "cpu"}}
    job = jobs.start_job("scan", document, root, name="tracks")
    assert wait(job) == "ok", job.log_text()
    assert (root / "tracks" / "motif.bw").is_file()
    again = jobs.start_job("scan", document, root, name="tracks", options={"resume": True})
    assert wait(again) == "error"
    assert "that scan finished" in again.result()["message"]
