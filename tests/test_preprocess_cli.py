"""End-to-end tests of ``lociflow preprocess``: the real CLI on small files built here.

A tiny soft-masked genome with N runs, BED files with both strands and loci at the
chromosome ends, a conservation bigWig whose value encodes its own position (so a
reversal is visible), and real ViennaRNA folding.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyBigWig
import pytest
import yaml
from typer.testing import CliRunner

from lociflow.cli import app
from lociflow.io.store import open_dataset
from lociflow.preprocessing.encode import encode_codes, reverse_complement
from lociflow.runs import read_ledger

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()
SIZES = {"chr1": 2000, "chr2": 1500, "chr3": 800}
WINDOW = 40


def _genome(folder: Path) -> dict[str, str]:
    rng = np.random.default_rng(1)
    seqs = {}
    for k, (chrom, size) in enumerate(SIZES.items()):
        s = np.array(list(rng.choice(list("ACGT"), size)))
        s[100:160] = np.char.lower(s[100:160])  # soft-masked repeat
        s[300:320] = "N"
        seqs[chrom] = "".join(s)
    with open(folder / "genome.fa", "w") as handle:
        for chrom, seq in seqs.items():
            handle.write(f">{chrom}\n" + "\n".join(seq[i:i + 60] for i in range(0, len(seq), 60)) + "\n")
    bw = pyBigWig.open(str(folder / "cons.bw"), "w")
    bw.addHeader(list(SIZES.items()))
    for k, (chrom, size) in enumerate(SIZES.items()):
        # the value names its own position: position / 1000 + chromosome number
        bw.addEntries(chrom, 0, values=(np.arange(size) / 1000.0 + k).astype(np.float64), span=1, step=1)
    bw.close()
    return seqs


def _bed(path: Path, prefix: str, offset: int, n: int = 30) -> None:
    lines = []
    for i in range(n):
        chrom = list(SIZES)[i % 3]
        start = (i * 97 + offset) % (SIZES[chrom] - 30)
        lines.append(f"{chrom}\t{start}\t{start + 30}\t{prefix}{i}\t0\t{'+-'[i % 2]}")
    # loci at both ends of chr3: their windows must be shifted inside (or dropped)
    lines += [f"chr3\t0\t10\t{prefix}_left\t0\t+", f"chr3\t790\t800\t{prefix}_right\t0\t-"]
    path.write_text("track name=test\n# a comment\n" + "\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs")
    seqs = _genome(folder)
    _bed(folder / "pos.bed", "pos", 0)
    _bed(folder / "neg.bed", "neg", 37)
    # the same interval on both strands, in different classes
    with open(folder / "pos.bed", "a") as handle:
        handle.write("chr2\t500\t540\tsame_plus\t0\t+\n")
    with open(folder / "neg.bed", "a") as handle:
        handle.write("chr2\t500\t540\tsame_minus\t0\t-\n")
    return folder, seqs


def config(folder: Path, path: Path | None = None, **changes) -> Path:
    section = {
        "classes": {"bound": [str(folder / "pos.bed")], "unbound": [str(folder / "neg.bed")]},
        "genome": str(folder / "genome.fa"),
        "conservation": str(folder / "cons.bw"),
        "branches": ["seq", "fold", "cons"],
        "window": WINDOW,
        "alphabet": "rna",
        "split": {"method": "random", "ratios": {"train": 0.6, "valid": 0.2, "test": 0.2}},
        "seed": 7,
        "workers": 1,
        "cache_dir": str(folder / "cache"),
    }
    for key, value in changes.items():
        if value is None:
            section.pop(key, None)
        else:
            section[key] = value
    path = path or folder / "cfg.yaml"
    path.write_text(yaml.safe_dump({"preprocess": section}))
    return path


def cli(*args):
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def run_ok(cfg: Path, root: Path, name: str, *extra) -> Path:
    code, out, err = cli("preprocess", "-c", cfg, "-o", root, "--name", name, *extra)
    assert code == 0, err
    folder = Path(out.strip().splitlines()[-1])
    assert folder == (root / name).resolve()
    return folder


def pooled(folder: Path) -> tuple[dict[str, np.ndarray], pd.DataFrame]:
    dataset = open_dataset(folder)
    arrays, metas = {b: [] for b in dataset.branches}, []
    for name in dataset.splits():
        split = dataset.split(name)
        for b in dataset.branches:
            arrays[b].append(np.asarray(split.inputs[b]))
        metas.append(split.meta().assign(split=name))
    return {b: np.concatenate(v) for b, v in arrays.items()}, pd.concat(metas, ignore_index=True)


@pytest.fixture(scope="module")
def dataset(files, tmp_path_factory):
    folder, _ = files
    root = tmp_path_factory.mktemp("runs")
    return run_ok(config(folder), root, "first"), root


# --------------------------------------------------------------------------- behaviour


def test_minus_strand_sequence_is_reverse_complement_of_plus_fetch(dataset, files):
    _, seqs = files
    arrays, meta = pooled(dataset[0])
    plus = int(np.flatnonzero(meta["name"] == "same_plus")[0])
    minus = int(np.flatnonzero(meta["name"] == "same_minus")[0])
    start = int(meta.loc[plus, "start"])
    expected = encode_codes([seqs["chr2"][start:start + WINDOW]], "rna").onehot[0]
    np.testing.assert_array_equal(arrays["seq"][plus], expected)
    np.testing.assert_array_equal(arrays["seq"][minus], reverse_complement(expected))


def test_minus_strand_conservation_is_reversed(dataset):
    arrays, meta = pooled(dataset[0])
    plus = int(np.flatnonzero(meta["name"] == "same_plus")[0])
    minus = int(np.flatnonzero(meta["name"] == "same_minus")[0])
    start = int(meta.loc[plus, "start"])
    genome_order = 1 + (start + np.arange(WINDOW)) / 1000.0  # chr2 is track number 1
    np.testing.assert_allclose(arrays["cons"][plus, :, 0], genome_order, atol=1e-5)
    np.testing.assert_allclose(arrays["cons"][minus, :, 0], genome_order[::-1], atol=1e-5)


def test_structure_of_minus_strand_is_folded_on_the_reverse_complement(dataset):
    from lociflow.preprocessing.structure import fold_sequences

    arrays, meta = pooled(dataset[0])
    minus = int(np.flatnonzero(meta["name"] == "same_minus")[0])
    letters = np.array(list("ACGU"))[arrays["seq"][minus].argmax(-1)]
    letters[arrays["seq"][minus].sum(-1) == 0] = "N"
    codes = np.frombuffer("".join(letters).encode(), dtype=np.uint8)[None]
    values, _ = fold_sequences(codes, cache_dir=False)
    np.testing.assert_allclose(arrays["fold"][minus], values[0], atol=1e-6)


def test_windows_at_chromosome_ends_are_shifted_inside_and_counted(dataset):
    arrays, meta = pooled(dataset[0])
    left = meta[meta["name"] == "pos_left"].iloc[0]
    right = meta[meta["name"] == "pos_right"].iloc[0]
    assert (int(left["start"]), int(left["end"])) == (0, WINDOW)
    assert (int(right["start"]), int(right["end"])) == (SIZES["chr3"] - WINDOW, SIZES["chr3"])
    assert (meta["end"].astype(int) - meta["start"].astype(int) == WINDOW).all()
    summary = pd.read_csv(dataset[0] / "summary.tsv", sep="\t").set_index("class")
    assert summary.loc["bound", "shifted"] >= 2 and summary.loc["bound", "dropped_edge"] == 0


def test_edge_drop_drops_and_counts_loci_past_chromosome_ends(files, tmp_path):
    folder, _ = files
    out = run_ok(config(folder, tmp_path / "c.yaml", edge="drop", branches=["seq"]), tmp_path, "drop")
    arrays, meta = pooled(out)
    assert not meta["name"].isin(["pos_left", "pos_right", "neg_left", "neg_right"]).any()
    summary = pd.read_csv(out / "summary.tsv", sep="\t").set_index("class")
    # the two chr3 end loci per class, and loci the 40-nt window pushes past an end
    expected = {}
    for cls, offset in (("bound", 0), ("unbound", 37)):
        starts = [(i * 97 + offset) % (SIZES[list(SIZES)[i % 3]] - 30) for i in range(30)]
        past = [s for i, s in enumerate(starts) if s - 5 < 0 or s - 5 + WINDOW > SIZES[list(SIZES)[i % 3]]]
        expected[cls] = 2 + len(past)
    assert summary.loc["bound", "dropped_edge"] == expected["bound"]
    assert summary.loc["unbound", "dropped_edge"] == expected["unbound"]
    assert summary.loc["total", "loci_in"] - summary.loc["total", "dropped_edge"] == len(meta)


def test_same_config_gives_byte_identical_arrays_and_params_yaml_reproduces_them(dataset):
    folder, root = dataset
    again = run_ok(Path(folder / "params.yaml"), root, "again")
    for path in sorted(folder.rglob("*")):
        if path.suffix in (".npy", ".gz"):
            twin = again / path.relative_to(folder)
            assert path.read_bytes() == twin.read_bytes(), path.relative_to(folder)
    first, second = (yaml.safe_load((f / "params.yaml").read_text()) for f in (folder, again))
    assert first == second


def test_rerun_takes_every_fold_from_the_cache(dataset):
    folder, root = dataset
    again = run_ok(Path(folder / "params.yaml"), root, "cached")
    log = (again / "run.log").read_text()
    assert "0 windows folded" in log


def test_random_split_is_shuffled_stratified_and_keeps_overlaps_together(dataset):
    _, meta = pooled(dataset[0])
    counts = meta.groupby(["split", "class"]).size().unstack()
    assert (counts.loc["train"] > counts.loc["valid"]).all()
    # splits are not contiguous blocks of the input: test holds loci from early and late lines
    numbers = meta.loc[meta["split"] == "test", "name"].str.extract(r"(\d+)$")[0].dropna().astype(int)
    assert numbers.max() - numbers.min() > 2 * len(numbers) // 2
    # windows that overlap never land in different splits
    rows = meta.assign(start=meta["start"].astype(int), end=meta["end"].astype(int))
    for _, group in rows.groupby("chrom"):
        g = group.sort_values("start")
        for (_, a), (_, b) in zip(g.iloc[:-1].iterrows(), g.iloc[1:].iterrows()):
            if b["start"] < a["end"]:
                assert a["split"] == b["split"], (a["name"], b["name"])


def test_seed_changes_the_split_and_the_same_seed_repeats_it(files, tmp_path):
    folder, _ = files
    metas = []
    for name, seed in (("s1", 1), ("s1b", 1), ("s2", 2)):
        out = run_ok(config(folder, tmp_path / f"{name}.yaml", seed=seed, branches=["seq"], conservation=None),
                     tmp_path, name)
        _, meta = pooled(out)
        metas.append(dict(zip(meta["name"], meta["split"])))
    assert metas[0] == metas[1]
    assert metas[0] != metas[2]


def test_run_folder_is_last_stdout_line_of_the_real_command_and_ledger_grows(files, tmp_path):
    folder, _ = files
    cfg = config(folder, tmp_path / "c.yaml", branches=["seq"], conservation=None)
    lociflow = Path(sys.executable).with_name("lociflow")
    env = {**os.environ, "LOCIFLOW_PROGRESS": "0"}
    result = subprocess.run([str(lociflow), "preprocess", "-c", str(cfg), "-o", str(tmp_path / "root")],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    folder_out = Path(result.stdout.strip().splitlines()[-1])
    assert (folder_out / "manifest.json").is_file()
    assert "summary" in result.stderr and "total" in result.stderr
    ledger = read_ledger(tmp_path / "root")
    assert list(ledger["stage"]) == ["preprocess"] and ledger["status"][0] == "ok"
    assert ledger["metrics"][0]["loci_out"] == len(pooled(folder_out)[1])


def test_from_dataset_resplits_without_mapping_again(dataset, tmp_path):
    folder, _ = dataset
    cfg = tmp_path / "resplit.yaml"
    cfg.write_text(yaml.safe_dump({"preprocess": {"split": {"ratios": {"train": 0.5, "test": 0.5}},
                                                  "balance": "smallest", "seed": 3}}))
    out = run_ok(cfg, tmp_path, "resplit", "--from", folder)
    arrays, meta = pooled(out)
    original, original_meta = pooled(folder)
    assert set(meta["split"]) == {"train", "test"}
    assert len(meta) == len(original_meta)  # classes were already equal in size
    # every row is a row of the source, arrays and metadata moved together
    index = {name: i for i, name in enumerate(original_meta["name"])}
    rows = np.array([index[n] for n in meta["name"]])
    for branch in ("seq", "fold", "cons"):
        np.testing.assert_array_equal(arrays[branch], original[branch][rows])
    params = yaml.safe_load((out / "params.yaml").read_text())["preprocess"]
    assert params["window"] == WINDOW and params["branches"] == ["seq", "fold", "cons"]
    assert params["source"] == str(folder)


def test_from_dataset_refuses_to_change_the_window(dataset, tmp_path):
    folder, _ = dataset
    cfg = tmp_path / "resplit.yaml"
    cfg.write_text(yaml.safe_dump({"preprocess": {"window": 60}}))
    code, out, err = cli("preprocess", "-c", cfg, "-o", tmp_path, "--from", folder)
    assert code == 2 and "'window' cannot change" in err
    assert not list(tmp_path.rglob("manifest.json"))


def test_fasta_input_with_uppercase_viewpoint(tmp_path):
    """GraphProt records (data/rbp24): the window is centred on the uppercase binding site."""
    records = {}
    for cls, kind in (("bound", "positives"), ("unbound", "negatives")):
        path = REPO / "data" / "rbp24" / f"PARCLIP_PUM2.train.{kind}.fa.gz"
        lines = gzip.open(path, "rt").read().splitlines()[:24]
        (tmp_path / f"{cls}.fa").write_text("\n".join(lines) + "\n")
        records[cls] = lines
    cfg = tmp_path / "fa.yaml"
    cfg.write_text(yaml.safe_dump({"preprocess": {
        "classes": {"bound": ["bound.fa"], "unbound": ["unbound.fa"]}, "branches": ["seq"], "window": 50,
        "alphabet": "rna", "viewpoint": "uppercase", "seed": 1}}))
    out = run_ok(cfg, tmp_path, "fa")
    arrays, meta = pooled(out)
    header, seq = records["bound"][0][1:], records["bound"][1]
    name, coords = header.split(";")
    row = int(np.flatnonzero(meta["name"] == name)[0])
    upper = [i for i, ch in enumerate(seq) if ch.isupper()]
    centre = (upper[0] + upper[-1] + 1 - 50) // 2
    expected = encode_codes([seq[centre:centre + 50]], "rna").onehot[0]
    np.testing.assert_array_equal(arrays["seq"][row], expected)
    chrom, start, end, strand = coords.split(",")
    assert (meta.loc[row, "orig_chrom"], int(meta.loc[row, "orig_start"]), meta.loc[row, "strand"]) == \
        (chrom, int(start), strand)


def test_short_fasta_records_are_padded_with_n_and_counted(tmp_path):
    (tmp_path / "a.fa").write_text(">a1\nACGUACGUAC\n>a2\nACGTACGTACGTACGTACGT\n")
    (tmp_path / "b.fa").write_text(">b1\nGGGGCCCCAAAAUUUU\n>b2\nGGGGCCCCAAAAUUUUACGU\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"preprocess": {"classes": {"a": ["a.fa"], "b": ["b.fa"]}, "window": 20,
                                                  "split": {"ratios": {"train": 1.0}}}}))
    out = run_ok(cfg, tmp_path, "pad")
    arrays, meta = pooled(out)
    a1 = arrays["seq"][int(np.flatnonzero(meta["name"] == "a1")[0])]
    assert (a1.sum(-1) == 0).sum() == 10  # 5 N each side
    summary = pd.read_csv(out / "summary.tsv", sep="\t").set_index("class")
    assert summary.loc["a", "padded"] == 1 and summary.loc["b", "padded"] == 1
    assert "padded with N" in (out / "run.log").read_text()


# --------------------------------------------------------------------------- bad input


def _fails(args: list, message: str, root: Path) -> str:
    code, out, err = cli("preprocess", *args, "-o", root)
    assert code == 2, (code, out, err)
    assert message in err, err
    assert not list(root.rglob("manifest.json")), "a dataset was left behind"
    assert not list(root.glob(".*.tmp-*")), "a temporary run folder was left behind"
    for failed in root.glob("*.failed"):
        assert [p.name for p in failed.iterdir()] == ["run.log"], "a failed run kept more than its log"
    return err


def test_locus_wholly_outside_its_chromosome_is_an_error_suggesting_another_assembly(files, tmp_path):
    folder, _ = files
    bad = tmp_path / "hg19.bed"
    bad.write_text("chr1\t10\t40\ta\t0\t+\nchr3\t800\t830\tpast\t0\t+\nchr3\t5000\t5030\tfar\t0\t+\n")
    err = _fails(["-c", config(folder, tmp_path / "c.yaml", classes={"bound": [str(bad)],
                                                                     "unbound": [str(folder / "neg.bed")]})],
                 "line 2: locus chr3:800-830 starts at or past the end of chr3, which is 800 nt long", tmp_path)
    assert "hg19.bed" in err and "another assembly" in err and "1 more locus lies outside too" in err


def test_track_of_another_assembly_is_an_error_whatever_missing_says(files, tmp_path):
    folder, _ = files
    other = tmp_path / "other.bw"
    bw = pyBigWig.open(str(other), "w")
    bw.addHeader([("chr1", 2000), ("chr2", 1600), ("chr3", 800)])
    for chrom, size in (("chr1", 2000), ("chr2", 1600), ("chr3", 800)):
        bw.addEntries(chrom, 0, values=np.zeros(size), span=1, step=1)
    bw.close()
    err = _fails(["-c", config(folder, tmp_path / "c.yaml", conservation=str(other), missing="zero",
                               branches=["seq", "cons"])],
                 "gives chr2 a length of 1600 nt, the genome 1500 nt", tmp_path)
    assert "another assembly" in err and "other.bw" in err


def test_zero_length_bed_intervals_are_point_loci_counted_in_the_summary(files, tmp_path):
    folder, _ = files
    points = tmp_path / "points.bed"
    points.write_text((folder / "pos.bed").read_text() + "chr1\t500\t500\tp1\t0\t+\nchr2\t90\t90\tp2\t0\t-\n")
    out = run_ok(config(folder, tmp_path / "c.yaml", branches=["seq"], conservation=None,
                        classes={"bound": [str(points)], "unbound": [str(folder / "neg.bed")]}), tmp_path, "points")
    summary = pd.read_csv(out / "summary.tsv", sep="\t").set_index("class")
    assert summary.loc["bound", "point_loci"] == 2 and summary.loc["unbound", "point_loci"] == 0
    meta = pooled(out)[1].set_index("name")
    assert meta.loc["p1", "end"] - meta.loc["p1", "start"] == WINDOW


@pytest.mark.parametrize("line, message", [
    ("chr1\t10", "line 3"),
    ("chr1\t50\t20\tx\t0\t+", "start 50 is greater than end 20"),
    ("chr1\t-5\t20\tx\t0\t+", "start -5 is negative"),
    ("chr1\t5.5\t20\tx\t0\t+", "start '5.5' is not a whole number"),
    ("chr1\t1e1\t20\tx\t0\t+", "start '1e1' is not a whole number written as digits"),
    ("chr1\t10\t20.0\tx\t0\t+", "end '20.0' is not a whole number written as digits"),
])
def test_malformed_bed_line_names_file_and_line(files, tmp_path, line, message):
    folder, _ = files
    bad = tmp_path / "bad.bed"
    bad.write_text(f"chr1\t10\t40\ta\t0\t+\nchr2\t10\t40\tb\t0\t-\n{line}\n")
    err = _fails(["-c", config(folder, tmp_path / "c.yaml", classes={"bound": [str(bad)],
                                                                     "unbound": [str(folder / "neg.bed")]})],
                 message, tmp_path)
    assert "bad.bed" in err and "line 3" in err


def test_empty_bed_file_is_an_error(files, tmp_path):
    folder, _ = files
    (tmp_path / "empty.bed").write_text("")
    _fails(["-c", config(folder, tmp_path / "c.yaml", classes={"bound": [str(tmp_path / "empty.bed")],
                                                               "unbound": [str(folder / "neg.bed")]})],
           "contains no intervals", tmp_path)


def test_one_class_only_is_an_error(files, tmp_path):
    folder, _ = files
    _fails(["-c", config(folder, tmp_path / "c.yaml", classes={"bound": [str(folder / "pos.bed")]})],
           "only one class given", tmp_path)


def test_duplicate_class_names_are_an_error(files, tmp_path):
    folder, _ = files
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"preprocess:\n  classes:\n    bound: [{folder / 'pos.bed'}]\n    bound: [{folder / 'neg.bed'}]\n"
                   f"  genome: {folder / 'genome.fa'}\n")
    _fails(["-c", cfg], "Duplicate key 'bound'", tmp_path)


def test_chromosome_missing_from_genome_is_named_with_naming_hint(files, tmp_path):
    folder, _ = files
    bad = tmp_path / "other.bed"
    bad.write_text("1\t10\t40\ta\t0\t+\n")
    err = _fails(["-c", config(folder, tmp_path / "c.yaml", classes={"bound": [str(bad)],
                                                                     "unbound": [str(folder / "neg.bed")]})],
                 "'1'", tmp_path)
    assert "not in the genome" in err and "'chr' prefix" in err


def test_window_below_one_is_an_error(files, tmp_path):
    folder, _ = files
    _fails(["-c", config(folder, tmp_path / "c.yaml", window=0)], "window must be at least 1", tmp_path)


@pytest.mark.parametrize("ratios, message", [
    ({"train": 0.8, "valid": -0.1}, "must not be negative"),
    ({"train": 0.0, "valid": 0.0}, "all zero"),
])
def test_bad_split_ratios_are_errors(files, tmp_path, ratios, message):
    folder, _ = files
    _fails(["-c", config(folder, tmp_path / "c.yaml", split={"method": "random", "ratios": ratios})],
           message, tmp_path)


def test_chromosome_in_two_split_lists_is_an_error(files, tmp_path):
    folder, _ = files
    split = {"method": "chromosome", "train": ["chr1", "chr2"], "test": ["chr2"]}
    _fails(["-c", config(folder, tmp_path / "c.yaml", split=split)], "'chr2' is in both", tmp_path)


def test_chromosome_split_drops_unassigned_and_reports_them(files, tmp_path):
    folder, _ = files
    split = {"method": "chromosome", "train": ["chr1"], "test": ["chr2"]}
    out = run_ok(config(folder, tmp_path / "c.yaml", split=split, branches=["seq"], conservation=None),
                 tmp_path, "chromsplit")
    _, meta = pooled(out)
    assert set(meta.loc[meta["split"] == "train", "chrom"]) == {"chr1"}
    assert set(meta.loc[meta["split"] == "test", "chrom"]) == {"chr2"}
    summary = pd.read_csv(out / "summary.tsv", sep="\t").set_index("class")
    assert summary.loc["total", "dropped_unassigned"] == 24  # per class: 10 loci and both end loci on chr3
    assert "chr3" in (out / "run.log").read_text()


def test_class_with_zero_loci_after_filtering_is_an_error(files, tmp_path):
    folder, _ = files
    only_chr3 = tmp_path / "chr3.bed"
    only_chr3.write_text("chr3\t100\t130\ta\t0\t+\n")
    split = {"method": "chromosome", "train": ["chr1"], "test": ["chr2"]}
    _fails(["-c", config(folder, tmp_path / "c.yaml", split=split,
                         classes={"bound": [str(only_chr3)], "unbound": [str(folder / "neg.bed")]})],
           "Class 'bound' has no loci left", tmp_path)


def test_invalid_character_in_the_trimmed_part_names_record_line_and_position(tmp_path):
    # the window (10 nt, centred) never sees the '@', which sits in the trimmed flank
    (tmp_path / "a.fa").write_text(">good\nACGUACGUAC\n>broken flank\nACGUACGUAC\nACGUACGUACGUACGUACGUAC\nA@\n")
    (tmp_path / "b.fa").write_text(">b1\nGGGGCCCCAA\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"preprocess": {"classes": {"a": ["a.fa"], "b": ["b.fa"]}, "window": 10}}))
    err = _fails(["-c", cfg], "Sequence broken has an invalid character '@' at position 34", tmp_path)
    assert "a.fa, line 6" in err


def test_identical_sequences_stay_in_one_split_and_are_counted(tmp_path):
    rng = np.random.default_rng(3)
    unique = ["".join(rng.choice(list("ACGT"), 30)) for _ in range(80)]
    repeated = unique[0]
    pos = [(f"p{i}", s) for i, s in enumerate(unique[:40])] + [(f"copy{i}", repeated.lower()) for i in range(6)]
    pos += [("p1", unique[1].replace("T", "U"))]  # same identifier and (T = U) the same sequence as p1
    neg = [(f"n{i}", s) for i, s in enumerate(unique[40:])]
    for path, records in ((tmp_path / "pos.fa", pos), (tmp_path / "neg.fa", neg)):
        path.write_text("".join(f">{name}\n{seq}\n" for name, seq in records))
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"preprocess": {
        "classes": {"pos": ["pos.fa"], "neg": ["neg.fa"]}, "window": 30, "seed": 1,
        "split": {"method": "random", "ratios": {"train": 0.5, "valid": 0.25, "test": 0.25}}}}))
    out = run_ok(cfg, tmp_path, "dups")
    meta = pooled(out)[1].set_index("name")
    copies = meta.loc[["p0", *(f"copy{i}" for i in range(6))], "split"]
    assert copies.nunique() == 1, copies
    assert meta.loc["p1", "split"].nunique() == 1
    summary = pd.read_csv(out / "summary.tsv", sep="\t").set_index("class")
    assert summary.loc["pos", "duplicates"] == 7 and summary.loc["neg", "duplicates"] == 0
    assert summary.loc["pos", "duplicate_ids"] == 1 and summary.loc["total", "duplicate_ids"] == 1
    log = (out / "run.log").read_text()
    assert "7 loci are identical window sequences of an earlier locus" in log
    assert "1 FASTA records repeat the identifier of an earlier record, e.g. 'p1'" in log
    for seed in (2, 3, 4):  # a new split of the dataset keeps them together too
        again = tmp_path / f"again{seed}.yaml"
        again.write_text(yaml.safe_dump({"preprocess": {"seed": seed, "split": {
            "method": "random", "ratios": {"train": 0.34, "valid": 0.33, "test": 0.33}}}}))
        meta = pooled(run_ok(again, tmp_path, f"resplit{seed}", "--from", out))[1].set_index("name")
        assert meta.loc[["p0", *(f"copy{i}" for i in range(6))], "split"].nunique() == 1


def test_invalid_sequence_character_names_the_record(tmp_path):
    (tmp_path / "a.fa").write_text(">good\nACGUACGUAC\n>broken\nACGUAC@UAC\n")
    (tmp_path / "b.fa").write_text(">b1\nGGGGCCCCAA\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"preprocess": {"classes": {"a": ["a.fa"], "b": ["b.fa"]}, "window": 10}}))
    _fails(["-c", cfg], "Sequence broken has an invalid character '@'", tmp_path)


def test_unknown_config_key_suggests_the_nearest(files, tmp_path):
    folder, _ = files
    cfg = config(folder, tmp_path / "c.yaml")
    text = cfg.read_text().replace("window:", "windw:")
    cfg.write_text(text)
    _fails(["-c", cfg], "did you mean 'window'?", tmp_path)


def test_existing_output_folder_is_not_overwritten(files, tmp_path):
    folder, _ = files
    cfg = config(folder, tmp_path / "c.yaml", branches=["seq"], conservation=None)
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    _fails(["-c", cfg, "--name", "taken"], "already exists", tmp_path)
    assert (tmp_path / "taken" / "keep.txt").read_text() == "mine"


def test_bed_input_without_genome_is_an_error(files, tmp_path):
    folder, _ = files
    _fails(["-c", config(folder, tmp_path / "c.yaml", genome=None, conservation=None, branches=["seq"])],
           "give one (genome: genome.fa", tmp_path)


def test_mixing_bed_and_fasta_classes_is_an_error(files, tmp_path):
    folder, _ = files
    (tmp_path / "b.fa").write_text(">b1\nGGGGCCCCAAGGGGCCCCAAGGGGCCCCAAGGGGCCCCAA\n")
    classes = {"bound": [str(folder / "pos.bed")], "unbound": [str(tmp_path / "b.fa")]}
    _fails(["-c", config(folder, tmp_path / "c.yaml", classes=classes, conservation=None, branches=["seq"])],
           "cannot be mixed", tmp_path)


def test_bed_loci_with_identical_window_sequences_elsewhere_stay_in_one_split(tmp_path):
    rng = np.random.default_rng(4)
    chr1 = list(rng.choice(list("ACGT"), 3000))
    chr2 = list(rng.choice(list("ACGT"), 3000))
    chr2[500:600] = chr1[300:400]  # a repeat
    complement = {"A": "T", "C": "G", "G": "C", "T": "A"}
    chr2[1000:1100] = [complement[b] for b in reversed(chr1[300:400])]  # the repeat on the other strand
    (tmp_path / "genome.fa").write_text(f">chr1\n{''.join(chr1)}\n>chr2\n{''.join(chr2)}\n")
    bound = ["chr1\t330\t370\tcopy_a\t0\t+", "chr2\t530\t570\tcopy_b\t0\t+", "chr2\t1030\t1070\tcopy_c\t0\t-"]
    bound += [f"chr1\t{s}\t{s + 40}\tb{i}\t0\t+" for i, s in enumerate(range(1200, 2900, 60))]
    unbound = [f"chr2\t{s}\t{s + 40}\tu{i}\t0\t+" for i, s in enumerate(range(1200, 2900, 60))]
    (tmp_path / "bound.bed").write_text("\n".join(bound) + "\n")
    (tmp_path / "unbound.bed").write_text("\n".join(unbound) + "\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"preprocess": {
        "classes": {"bound": ["bound.bed"], "unbound": ["unbound.bed"]}, "genome": "genome.fa", "window": 40,
        "cache_dir": str(tmp_path / "cache"), "seed": 5,
        "split": {"method": "random", "ratios": {"train": 0.34, "valid": 0.33, "test": 0.33}}}}))
    out = run_ok(cfg, tmp_path, "repeats")
    meta = pooled(out)[1].set_index("name")
    assert meta.loc[["copy_a", "copy_b", "copy_c"], "split"].nunique() == 1
    summary = pd.read_csv(out / "summary.tsv", sep="\t").set_index("class")
    assert summary.loc["bound", "duplicates"] == 2 and summary.loc["unbound", "duplicates"] == 0
