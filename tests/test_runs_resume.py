"""Run folders that survive an interruption and can be reopened (used by training)."""

import pytest

from lociflow.errors import LociflowError
from lociflow.runs import open_run, read_ledger


def test_interrupted_run_is_kept_in_place_when_asked(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with open_run("train", tmp_path, {}, name="r", keep_on_interrupt=True) as run:
            (run.path / "checkpoint").write_text("state")
            raise KeyboardInterrupt
    assert (tmp_path / "r" / "checkpoint").read_text() == "state"
    assert read_ledger(tmp_path)["status"].tolist() == ["interrupted"]


def test_interrupted_run_is_removed_by_default(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with open_run("train", tmp_path, {}, name="r") as run:
            (run.path / "checkpoint").write_text("state")
            raise KeyboardInterrupt
    assert not (tmp_path / "r").exists()
    assert sorted(p.name for p in (tmp_path / "r.failed").iterdir()) == ["run.log"]


def test_resumed_run_keeps_its_files_and_appends_to_its_log(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with open_run("train", tmp_path, {"epochs": 2}, name="r", keep_on_interrupt=True) as run:
            (run.path / "checkpoint").write_text("state")
            raise KeyboardInterrupt
    with open_run("train", tmp_path, {"epochs": 4}, name="r", resume=True) as run:
        assert (run.path / "checkpoint").read_text() == "state"
        assert run.path != tmp_path / "r", "built under a temporary name until it ends"
        (run.path / "model").write_text("done")
    folder = tmp_path / "r"
    assert (folder / "model").exists() and (folder / "checkpoint").exists()
    assert "epochs: 4" in (folder / "params.yaml").read_text()
    assert (folder / "run.log").read_text().count("train run r") == 2
    assert read_ledger(tmp_path)["status"].tolist() == ["interrupted", "ok"]


def test_failed_resumed_run_is_put_back_as_found(tmp_path):
    with open_run("train", tmp_path, {}, name="r") as run:
        (run.path / "checkpoint").write_text("state")
    with pytest.raises(RuntimeError):
        with open_run("train", tmp_path, {}, name="r", resume=True):
            raise RuntimeError("boom")
    assert (tmp_path / "r" / "checkpoint").read_text() == "state"
    assert not (tmp_path / "r.failed").exists()
    assert read_ledger(tmp_path)["status"].tolist() == ["ok", "failed"]


def test_resume_of_a_missing_run_names_the_folder(tmp_path):
    with pytest.raises(LociflowError, match="Cannot resume: there is no run folder .*nothere"):
        with open_run("train", tmp_path, {}, name="nothere", resume=True):
            pass
