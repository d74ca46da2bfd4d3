import pytest

from lociflow.errors import LociflowError
from lociflow.runs import open_run, read_ledger


def test_run_folder_gets_params_log_and_ledger_row(tmp_path):
    with open_run("preprocess", tmp_path, {"window": 5}, name="r1") as run:
        (run.path / "out.txt").write_text("x")
        run.record(loci=3)
    assert (tmp_path / "r1" / "params.yaml").read_text().count("window: 5") == 1
    assert (tmp_path / "r1" / "run.log").exists()
    ledger = read_ledger(tmp_path)
    assert list(ledger["run_id"]) == ["r1"]
    assert ledger["metrics"][0] == {"loci": 3}


def test_existing_folder_is_not_overwritten_without_force(tmp_path):
    with open_run("preprocess", tmp_path, {}, name="r1"):
        pass
    with pytest.raises(LociflowError, match="already exists"):
        with open_run("preprocess", tmp_path, {}, name="r1"):
            pass
    with open_run("preprocess", tmp_path, {}, name="r1", force=True) as run:
        (run.path / "new").write_text("y")
    assert (tmp_path / "r1" / "new").exists()


def test_failed_run_leaves_only_its_log(tmp_path):
    with pytest.raises(RuntimeError):
        with open_run("preprocess", tmp_path, {}, name="r2") as run:
            (run.path / "manifest.json").write_text("{}")
            raise RuntimeError("boom")
    assert not (tmp_path / "r2").exists()
    assert sorted(p.name for p in (tmp_path / "r2.failed").iterdir()) == ["run.log"]
    assert "boom" in (tmp_path / "r2.failed" / "run.log").read_text()


def test_generated_names_never_collide(tmp_path):
    names = set()
    for _ in range(20):
        with open_run("train", tmp_path, {}) as run:
            names.add(run.name)
    assert len(names) == 20


def test_outputs_are_readable_by_others(tmp_path):
    from lociflow.io.atomic import write_text

    write_text(tmp_path / "x.txt", "hi")
    assert (tmp_path / "x.txt").stat().st_mode & 0o044 == 0o044


def test_user_error_inside_a_run_is_logged_to_file_not_console(tmp_path, capsys):
    import logging

    with pytest.raises(LociflowError):
        with open_run("preprocess", tmp_path, {}, name="r3"):
            raise LociflowError("bad line 3")
    assert "Traceback" not in capsys.readouterr().err
    assert "Traceback" in (tmp_path / "r3.failed" / "run.log").read_text()
    logging.getLogger("lociflow").handlers.clear()
