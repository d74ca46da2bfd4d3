"""``lociflow scan``: bigWig tracks of a model slid along a genome, checked against ``predict``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyBigWig
import pytest
from genome_model import SITES, WINDOW, save_planted_model, write_genome
from planted import one_thread
from typer.testing import CliRunner

import lociflow
from lociflow.cli import app
from lociflow.layout import CALLED_REGIONS_FILE, LEDGER_FILE, SCAN_PARTS_DIR
from lociflow.scanning import run as scanning

runner = CliRunner()
STRIDE = 37


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("scan")
    genome = write_genome(root / "genome.fa")
    with one_thread():
        model = save_planted_model(root / "model", genome)
    return genome, model


def cli(*args):
    result = runner.invoke(app, [*map(str, args)])
    return result.exit_code, result.stdout, result.stderr


def folder_of(stdout: str) -> Path:
    return Path(stdout.strip().splitlines()[-1])


def test_bigwig_values_at_window_centres_equal_predict_on_the_same_windows(world, tmp_path):
    genome, model = world
    with one_thread():
        code, out, err = cli("scan", "--model", model, "--genome", genome, "--stride", STRIDE, "--strand", "+",
                             "--device", "cpu", "-o", tmp_path)
    assert code == 0, err
    scan = folder_of(out)
    starts = {c: np.arange(0, n - WINDOW + 1, STRIDE) for c, n in (("chr1", 5000), ("chr2", 3000))}
    bed = tmp_path / "windows.bed"
    bed.write_text("".join(f"{c}\t{s}\t{s + WINDOW}\n" for c, ss in starts.items() for s in ss))
    with one_thread():
        code, out, err = cli("predict", "--model", model, "--genome", genome, "-i", bed, "--device", "cpu",
                             "-o", tmp_path)
    assert code == 0, err
    predicted = pd.read_csv(folder_of(out) / "predictions.tsv", sep="\t")
    for name in ("background", "motif"):
        track = pyBigWig.open(str(scan / f"{name}.bw"))
        values = [track.values(c, int(s) + WINDOW // 2, int(s) + WINDOW // 2 + 1)[0]
                  for c, ss in starts.items() for s in ss]
        track.close()
        assert np.allclose(values, predicted[f"prob_{name}"], atol=1e-5), name
    called = pd.read_csv(scan / CALLED_REGIONS_FILE, sep="\t", header=None, names=["chrom", "start", "end", "cls", "max"])
    motif = called[called.cls == "motif"]
    assert len(motif) == len(SITES)
    for (chrom, site), row in zip(SITES, motif.itertuples()):
        assert row.chrom == chrom and row.start <= site and site + 15 <= row.end <= site + 2 * WINDOW
    assert not (scan / SCAN_PARTS_DIR).exists()
    assert "scan" in (tmp_path / LEDGER_FILE).read_text()


def test_both_strands_average_the_probabilities_and_logit_is_their_log_odds(world, tmp_path):
    genome, model = world
    base = {"model": str(model), "genome": str(genome), "device": "cpu", "chromosomes": ["chr2"], "stride": 50}
    with one_thread():
        runs = {s: lociflow.scan({**base, "strand": s}, tmp_path, name=s) for s in ("+", "-", "both")}
        logit = lociflow.scan({**base, "strand": "both", "score": "logit"}, tmp_path, name="logit")
    centres = np.arange(0, 3000 - WINDOW + 1, 50) + WINDOW // 2

    def values(folder, name="motif", chrom="chr2"):
        track = pyBigWig.open(str(folder / f"{name}.bw"))
        assert list(track.chroms()) == [chrom]
        out = np.array([track.values(chrom, int(c), int(c) + 1)[0] for c in centres])
        track.close()
        return out

    mean = (values(runs["+"]) + values(runs["-"])) / 2
    assert np.allclose(values(runs["both"]), mean, atol=1e-6)
    p = np.clip(mean, 1e-6, 1 - 1e-6)
    assert np.allclose(values(logit), np.log(p / (1 - p)), atol=1e-3)


def test_windows_mostly_n_are_skipped_and_regions_limit_the_scan(world, tmp_path):
    _, model = world
    seq = "ACGT" * 100 + "N" * 300 + "ACGT" * 100
    genome = tmp_path / "n.fa"
    genome.write_text(f">chrN\n{seq}\n>chrQ\n{'ACGT' * 100}\n")
    regions = tmp_path / "r.bed"
    regions.write_text("chrN\t0\t1000\nchrN\t900\t1100\n")  # overlapping regions are merged
    with one_thread():
        folder = lociflow.scan({"model": str(model), "genome": str(genome), "regions": str(regions),
                                "stride": 10, "strand": "+", "device": "cpu"}, tmp_path, name="n")
        code, out, err = cli("scan", "--model", model, "--genome", genome, "--regions", regions, "--stride", 10,
                             "--strand", "+", "--device", "cpu", "--max-n", 1, "-o", tmp_path, "--name", "all-n")
    assert code == 0, err
    every = pyBigWig.open(str(folder_of(out) / "motif.bw"))
    assert not np.isnan(every.values("chrN", 550, 551)[0])  # --max-n 1 keeps even all-N windows
    every.close()
    track = pyBigWig.open(str(folder / "motif.bw"))
    assert list(track.chroms()) == ["chrN"]
    assert not np.isnan(track.values("chrN", 50, 51)[0])
    assert np.isnan(track.values("chrN", 550, 551)[0])  # window 500-600 is all N
    assert not np.isnan(track.values("chrN", 1050, 1051)[0])  # the merged region reaches 1100
    track.close()
    ledger = pd.read_csv(tmp_path / LEDGER_FILE, sep="\t").set_index("run_id")
    assert '"skipped_n": 0' not in ledger.loc["n", "metrics"] and '"skipped_n": 0' in ledger.loc["all-n", "metrics"]


def test_an_interrupted_scan_resumes_with_the_next_chromosome(world, tmp_path, monkeypatch):
    genome, model = world
    config = {"model": str(model), "genome": str(genome), "stride": 50, "strand": "+", "device": "cpu"}
    real = scanning.Scanner.scores
    seen: list[str] = []

    def interrupted(self, encoder, chrom, starts):
        seen.append(chrom)
        if chrom == "chr2":
            raise KeyboardInterrupt
        return real(self, encoder, chrom, starts)

    monkeypatch.setattr(scanning.Scanner, "scores", interrupted)
    with one_thread(), pytest.raises(KeyboardInterrupt):
        lociflow.scan(config, tmp_path, name="long")
    kept = tmp_path / "long"
    assert (kept / SCAN_PARTS_DIR / "000000.bin").is_file()  # chr1 finished
    assert not (kept / "motif.bw").exists()
    assert "interrupted" in (tmp_path / LEDGER_FILE).read_text()
    seen.clear()
    monkeypatch.setattr(scanning.Scanner, "scores", real)
    with one_thread():
        code, _, err = cli("scan", "--model", model, "--genome", genome, "--stride", 50, "--strand", "+",
                             "--device", "cpu", "-o", tmp_path, "--name", "long", "--resume")
    assert code == 0, err
    assert "chr1 was finished before" in err
    with one_thread():
        fresh = lociflow.scan(config, tmp_path, name="fresh")
    for name in ("motif", "background"):
        a, b = pyBigWig.open(str(kept / f"{name}.bw")), pyBigWig.open(str(fresh / f"{name}.bw"))
        for chrom, size in a.chroms().items():
            assert np.allclose(a.values(chrom, 0, size), b.values(chrom, 0, size), equal_nan=True)
    assert (kept / CALLED_REGIONS_FILE).read_text() == (fresh / CALLED_REGIONS_FILE).read_text()


def test_resume_with_other_options_and_bad_inputs_are_refused(world, tmp_path):
    genome, model = world
    code, _, err = cli("scan", "--model", model, "--genome", genome, "--chromosomes", "chr9", "-o", tmp_path)
    assert code == 2 and "'chr9'" in err and "not in the genome" in err
    code, _, err = cli("scan", "--model", model, "--genome", tmp_path / "absent.fa", "-o", tmp_path)
    assert code == 2 and "Genome FASTA" in err and "does not exist" in err
    code, _, err = cli("scan", "--model", model, "--genome", genome, "-o", tmp_path, "--resume")
    assert code == 2 and "--resume needs the --name" in err
    with one_thread():
        code, _, err = cli("scan", "--model", model, "--genome", genome, "--chromosomes", "chr2", "--stride", 100,
                             "--device", "cpu", "-o", tmp_path, "--name", "a")
    assert code == 0, err
    code, _, err = cli("scan", "--model", model, "--genome", genome, "--chromosomes", "chr2", "--stride", 50,
                       "--device", "cpu", "-o", tmp_path, "--name", "a", "--resume")
    assert code == 2 and "Cannot resume" in err and "stride: 100 then, 50 now" in err
    tiny = tmp_path / "tiny.fa"
    tiny.write_text(">c\nACGT\n")
    code, _, err = cli("scan", "--model", model, "--genome", tiny, "-o", tmp_path)
    assert code == 2 and "Nothing to scan" in err and f"({WINDOW} nt)" in err


def test_regions_outside_the_genome_and_a_finished_scan_are_refused(world, tmp_path):
    genome, model = world
    code, _, err = cli("scan", "--model", model, "--genome", genome, "--regions", tmp_path / "absent.bed", "-o", tmp_path)
    assert code == 2 and "Regions file" in err and "does not exist" in err
    regions = tmp_path / "r.bed"
    regions.write_text("1\t0\t500\n")
    code, _, err = cli("scan", "--model", model, "--genome", genome, "--regions", regions, "-o", tmp_path)
    assert code == 2 and "'1'" in err and "add the 'chr' prefix" in err
    with one_thread():
        code, _, err = cli("scan", "--model", model, "--genome", genome, "--chromosomes", "chr2", "--stride", 200,
                           "--device", "cpu", "-o", tmp_path, "--name", "done")
    assert code == 0, err
    code, _, err = cli("scan", "--model", model, "--genome", genome, "--chromosomes", "chr2", "--stride", 200,
                       "--device", "cpu", "-o", tmp_path, "--name", "done", "--resume")
    assert code == 2 and "that scan finished" in err


def test_scan_reads_its_config_section_and_the_chunk_size_does_not_change_the_tracks(world, tmp_path):
    genome, model = world
    config = tmp_path / "config.yaml"
    config.write_text(f"scan:\n  model: {model}\n  genome: {genome}\n  chromosomes: [chr2]\n  stride: 25\n"
                      "  strand: '+'\n  device: cpu\n  chunk_size: 7\n")
    with one_thread():
        code, out, err = cli("scan", "-c", config, "-o", tmp_path, "--name", "small")
        assert code == 0, err
        code, out2, err = cli("scan", "-c", config, "--chunk-size", 5000, "-o", tmp_path, "--name", "large")
        assert code == 0, err
    a, b = (pyBigWig.open(str(folder_of(o) / "motif.bw")) for o in (out, out2))
    assert np.allclose(a.values("chr2", 0, 3000), b.values("chr2", 0, 3000), equal_nan=True)
    assert (folder_of(out) / CALLED_REGIONS_FILE).read_text() == (folder_of(out2) / CALLED_REGIONS_FILE).read_text()


def test_tracks_and_called_regions_do_not_depend_on_the_block_they_are_written_in(world, tmp_path, monkeypatch):
    from lociflow.scanning import tracks

    genome, model = world
    config = {"model": str(model), "genome": str(genome), "stride": 10, "strand": "+", "device": "cpu"}
    with one_thread():
        whole = lociflow.scan(config, tmp_path, name="whole")
        monkeypatch.setattr(tracks, "PART_BLOCK", 7)  # regions and intervals now span many blocks
        blocks = lociflow.scan(config, tmp_path, name="blocks")
    for name in ("motif", "background"):
        a, b = pyBigWig.open(str(whole / f"{name}.bw")), pyBigWig.open(str(blocks / f"{name}.bw"))
        for chrom, size in a.chroms().items():
            assert np.array_equal(a.values(chrom, 0, size), b.values(chrom, 0, size), equal_nan=True)
    assert (whole / CALLED_REGIONS_FILE).read_text() == (blocks / CALLED_REGIONS_FILE).read_text()
    assert (whole / CALLED_REGIONS_FILE).read_text().count("motif") == len(SITES)


def test_sigterm_stops_a_scan_as_ctrl_c_does_so_it_can_resume(world, tmp_path, monkeypatch):
    import os
    import signal

    genome, model = world
    config = {"model": str(model), "genome": str(genome), "stride": 50, "strand": "+", "device": "cpu"}
    real = scanning.Scanner.scores

    def terminated(self, encoder, chrom, starts):
        if chrom == "chr2":
            os.kill(os.getpid(), signal.SIGTERM)
        return real(self, encoder, chrom, starts)

    monkeypatch.setattr(scanning.Scanner, "scores", terminated)
    before = signal.getsignal(signal.SIGTERM)
    with one_thread(), pytest.raises(KeyboardInterrupt):
        lociflow.scan(config, tmp_path, name="stopped")
    assert signal.getsignal(signal.SIGTERM) is before  # the handler is put back
    assert (tmp_path / "stopped" / SCAN_PARTS_DIR / "000000.bin").is_file()
    monkeypatch.setattr(scanning.Scanner, "scores", real)
    with one_thread():
        folder = lociflow.scan(config, tmp_path, name="stopped", resume=True)
    assert (folder / "motif.bw").is_file()
