import json
import os
import socket
from pathlib import Path

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


# --------------------------------------------------------------------------- faults


def test_two_runs_of_one_name_exactly_one_succeeds_and_nothing_is_left(tmp_path):
    first = open_run("preprocess", tmp_path, {}, name="same")
    second = open_run("preprocess", tmp_path, {}, name="same")
    run_a = first.__enter__()
    run_b = second.__enter__()  # both started before either finished: both passed the name check
    (run_a.path / "result").write_text("a")
    (run_b.path / "result").write_text("b")
    first.__exit__(None, None, None)
    with pytest.raises(LociflowError, match="already exists .*another run of the same name finished first"):
        second.__exit__(None, None, None)
    assert (tmp_path / "same" / "result").read_text() == "a"
    assert not list(tmp_path.glob(".*")), "debris left in the output root"
    assert not (tmp_path / "same" / ".owner.json").exists()
    assert read_ledger(tmp_path)["status"].tolist() == ["ok", "failed"]


def test_a_killed_runs_temporary_folder_is_removed_by_the_next_run_and_logged(tmp_path):
    import signal
    import subprocess
    import sys

    code = ("import os, signal, sys\nfrom lociflow.runs import open_run\n"
            "with open_run('train', sys.argv[1], {}, name='killed') as run:\n"
            "    (run.path / 'checkpoint').write_text('x')\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n")
    import lociflow

    env = {**os.environ, "PYTHONPATH": str(Path(lociflow.__file__).parents[1])}  # this lociflow, not another copy
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, env=env, check=False)
    assert done.returncode == -signal.SIGKILL
    left = list(tmp_path.glob(".killed.tmp-*"))
    assert len(left) == 1 and (left[0] / ".owner.json").exists()
    # a folder whose owner still runs (this process) is left alone
    alive = tmp_path / ".busy.tmp-abc123"
    alive.mkdir()
    (alive / ".owner.json").write_text(json.dumps({"host": socket.gethostname(), "pid": os.getppid(),
                                                    "start": None}))
    with open_run("train", tmp_path, {}, name="next"):
        pass
    assert not left[0].exists() and alive.exists()
    log = (tmp_path / "next" / "run.log").read_text()
    assert f"removed {left[0]}, left by a run that was killed" in log


@pytest.mark.parametrize("keep, expected", [
    (True, "Interrupted: {root}/r is kept as it was; continue with the same command with --resume"),
    (False, "Interrupted: nothing was kept but the log {root}/r.failed/run.log; run the command again"),
])
def test_ctrl_c_is_one_line_saying_what_was_kept_and_how_to_go_on(tmp_path, keep, expected):
    from lociflow.errors import run_stage_call

    def stage():
        with open_run("train", tmp_path, {}, name="r", keep_on_interrupt=keep):
            raise KeyboardInterrupt

    outcome = run_stage_call(stage)
    assert outcome.status == "stopped" and outcome.code == 130
    assert outcome.console.startswith(expected.format(root=tmp_path.resolve()))
    assert "\n" not in outcome.console


def test_a_killed_resume_puts_the_resumable_folder_back_instead_of_removing_it(tmp_path):
    import signal
    import subprocess
    import sys

    import lociflow

    with pytest.raises(KeyboardInterrupt):
        with open_run("train", tmp_path, {}, name="r", keep_on_interrupt=True) as run:
            (run.path / "last.ckpt").write_text("epoch 3")
            raise KeyboardInterrupt
    code = ("import os, signal, sys\nfrom lociflow.runs import open_run\n"
            "with open_run('train', sys.argv[1], {}, name='r', resume=True, keep_on_interrupt=True) as run:\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n")
    env = {**os.environ, "PYTHONPATH": str(Path(lociflow.__file__).parents[1])}
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, env=env, check=False)
    assert done.returncode == -signal.SIGKILL and not (tmp_path / "r").exists()
    # the name check sees the folder put back
    with pytest.raises(LociflowError, match="already exists"), open_run("train", tmp_path, {}, name="r"):
        pass
    assert (tmp_path / "r" / "last.ckpt").read_text() == "epoch 3"
    assert not list(tmp_path.glob(".r.tmp-*")) and not (tmp_path / "r" / ".owner.json").exists()
