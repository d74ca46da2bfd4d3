"""Classes made for the user: shuffles, GC-matched genomic background and flanks (yeast chromosome IV)."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lociflow
from lociflow.errors import ConfigError, LociflowError
from lociflow.io.fasta import Genome
from lociflow.io.store import open_dataset
from lociflow.layout import BACKGROUND_FILE, BACKGROUND_PLOT, SPLITS
from lociflow.preprocessing import background
from lociflow.preprocessing.background import Regions, tile_chromosome, window_features
from lociflow.preprocessing.shuffle import kmer_shuffle_codes

DATA = Path(__file__).resolve().parents[1] / "data"
YEAST = DATA / "yeast" / "sacCer3.fa.gz"
WINDOW = 150


@pytest.fixture(scope="module")
def genome(tmp_path_factory):
    return Genome(YEAST, cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def peaks(tmp_path_factory, genome):
    """200 GC-rich 'peaks' (drawn with weight rising steeply with GC), as narrowPeak with summits."""
    folder = tmp_path_factory.mktemp("peaks")
    rng = np.random.default_rng(7)
    size = genome.chrom_sizes["chrIV"]
    starts = np.arange(5_000, size - 5_000, 1_000)
    gc = window_features(genome.fetch(np.full(len(starts), "chrIV", object), starts, WINDOW)).gc
    weight = np.exp(25 * gc)
    chosen = np.sort(rng.choice(starts, size=200, replace=False, p=weight / weight.sum()))
    path = folder / "peaks.narrowPeak"
    with open(path, "w") as handle:
        handle.writelines(f"chrIV\t{start - 50}\t{start + 250}\tpeak{i}\t0\t{'+-'[i % 2]}\t5\t-1\t-1\t{125}\n" for i, start in enumerate(chosen))
    blacklist = folder / "blacklist.bed"
    blacklist.write_text("chrIV\t300000\t400000\nchrIV\t900000\t950000\n")
    return path, blacklist


def _config(peaks, background, **extra):
    path, _ = peaks
    cfg = {"classes": {"bound": [str(path)], "background": background}, "genome": str(YEAST), "window": WINDOW,
           "placement": "summit", "seed": 3}
    cfg.update(extra)
    return cfg


def _all_meta(dataset_dir):
    dataset = open_dataset(dataset_dir)
    parts = []
    for split in dataset.splits():
        arrays = dataset.split(split)
        meta = arrays.meta()
        meta["split"] = split
        meta["row"] = np.arange(len(meta))
        parts.append(meta)
    return dataset, pd.concat(parts, ignore_index=True)


def _dinucleotides(onehot: np.ndarray) -> Counter:
    letters = np.where(onehot.sum(-1) == 0, 4, onehot.argmax(-1))
    return Counter(zip(letters[:-1].tolist(), letters[1:].tolist()))


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name not in ("run.log", "params.yaml")}


# --------------------------------------------------------------------------- shuffle


def _naive_features(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The three counts per row, letter by letter."""
    rows = [bytes(r).decode("latin-1") for r in codes]
    return (np.array([sum(c in "GCgc" for c in r) for r in rows]),
            np.array([sum("a" <= c <= "z" for c in r) for r in rows]),
            np.array([sum(c in "Nn" for c in r) for r in rows]))


@settings(max_examples=60, deadline=None)
@given(length=st.integers(1, 300), rows=st.integers(1, 40), letters=st.sampled_from(["ACGTacgt", "ACGTNacgtn", "Nn", "ACGT"]),
       noise=st.booleans(), seed=st.integers(0, 2**16), step_bytes=st.sampled_from([1, 64, 1 << 22]))
def test_window_features_count_every_letter_as_a_naive_loop_does(length, rows, letters, noise, seed, step_bytes):
    # any byte value, rows longer than a uint8 sum holds (256+), N sparse, dense and absent,
    # and steps of one row to the whole batch
    rng = np.random.default_rng(seed)
    codes = rng.choice(np.frombuffer(letters.encode(), np.uint8), size=(rows, length))
    if noise:
        odd = rng.random(codes.shape) < 0.1
        codes[odd] = rng.integers(0, 256, int(odd.sum()))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(background, "PIECE", step_bytes)
        f = window_features(codes)
    gc, lower, n = _naive_features(codes)
    np.testing.assert_allclose(f.gc * length, gc, atol=1e-3)
    np.testing.assert_allclose(f.repeats * length, lower, atol=1e-3)
    np.testing.assert_allclose(f.n * length, n, atol=1e-3)
    assert not window_features(codes, repeats=False).repeats.any()


def test_tiling_a_chromosome_in_pieces_gives_the_features_of_its_windows(genome, monkeypatch):
    monkeypatch.setattr(background, "PIECE", 10_007)  # many pieces, the last one short
    starts, features = tile_chromosome(genome, "chrIV", WINDOW, 17)
    assert starts[0] == 17 and np.all(np.diff(starts) == WINDOW) and starts[-1] + WINDOW <= genome.chrom_sizes["chrIV"]
    whole = window_features(genome.fetch(np.full(len(starts), "chrIV", object), starts, WINDOW))
    for name in ("gc", "repeats", "n"):
        np.testing.assert_array_equal(features.values(name), whole.values(name))


def test_reading_into_a_buffer_reuses_it_and_refuses_a_short_one(genome):
    buffer = np.zeros(1_000, np.uint8)
    view = genome.read("chrIV", 5_000, 5_600, out=buffer)
    assert view.base is buffer or np.shares_memory(view, buffer)
    np.testing.assert_array_equal(view, genome.read("chrIV", 5_000, 5_600))
    with pytest.raises(ValueError, match="at least 600 bytes"):
        genome.read("chrIV", 5_000, 5_600, out=np.zeros(10, np.uint8))


def test_kmer_shuffle_keeps_every_kmer_count_exactly():
    rng = np.random.default_rng(0)
    codes = np.frombuffer(b"ACGTNacgt", np.uint8)[rng.integers(0, 9, (100, 80))]
    upper = np.frombuffer(codes.tobytes().upper(), np.uint8).reshape(codes.shape)
    for k in (1, 2, 3):
        shuffled = kmer_shuffle_codes(codes, k, rng=1)
        for before, after in zip(upper, shuffled):
            assert Counter(bytes(before[i:i + k]) for i in range(80 - k + 1)) == \
                Counter(bytes(after[i:i + k]) for i in range(80 - k + 1))
        assert (shuffled != upper).mean() > 0.5


def test_shuffles_keep_dinucleotides_and_stay_in_their_source_split(tmp_path, peaks):
    out = lociflow.preprocess(_config(peaks, {"from": "shuffle", "like": "bound", "ratio": 2}), tmp_path, name="d")
    dataset, meta = _all_meta(out)
    assert dataset.classes == ["bound", "background"]
    made = meta[meta["class"] == "background"]
    assert len(made) == 400
    sources = meta[meta["class"] == "bound"].set_index("name")
    seqs = {s: dataset.split(s).inputs["seq"] for s in dataset.splits()}
    for _, row in made.iterrows():
        source = sources.loc[row["name"].split("~shuffle")[0]]
        assert row["split"] == source["split"]
        shuffled = seqs[row["split"]][row["row"]]
        original = seqs[source["split"]][source["row"]]
        assert _dinucleotides(shuffled) == _dinucleotides(original)
        assert (shuffled != original).any()


def test_shuffles_of_fasta_without_coordinates_stay_in_their_source_split(tmp_path):
    rng = np.random.default_rng(1)
    fasta = tmp_path / "bound.fa"
    fasta.write_text("".join(f">s{i}\n{''.join(rng.choice(list('ACGT'), 60))}\n" for i in range(300)))
    cfg = {"classes": {"bound": [str(fasta)], "shuffled": {"from": "shuffle", "like": "bound"}}, "window": 60}
    _, meta = _all_meta(lociflow.preprocess(cfg, tmp_path / "out", name="d"))
    split_of = dict(zip(meta.loc[meta["class"] == "bound", "name"], meta.loc[meta["class"] == "bound", "split"]))
    made = meta[meta["class"] == "shuffled"]
    assert len(made) == 300
    assert (made["name"].str.split("~").str[0].map(split_of) == made["split"]).all()
    assert meta["split"].nunique() == 3  # the groups did not collapse the split


def test_shuffle_count_and_refused_track_branch(tmp_path, peaks):
    out = lociflow.preprocess(_config(peaks, {"from": "shuffle", "like": "bound", "count": 50, "kmer": 3}), tmp_path,
                              name="d")
    _, meta = _all_meta(out)
    assert (meta["class"] == "background").sum() == 50
    with pytest.raises(ConfigError, match="shuffle has no values of the cons branch"):
        lociflow.preprocess(_config(peaks, {"from": "shuffle", "like": "bound"}, branches=["seq", "cons"],
                                    conservation=str(YEAST)), tmp_path, name="e")


# --------------------------------------------------------------------------- genome


def test_genome_background_matches_gc_and_avoids_loci_and_excluded_regions(tmp_path, peaks, genome):
    _, blacklist = peaks
    margin = 200
    background = {"from": "genome", "like": "bound", "exclude": [str(blacklist)], "margin": margin}
    out = lociflow.preprocess(_config(peaks, background), tmp_path, name="d")
    _, meta = _all_meta(out)
    bound, made = meta[meta["class"] == "bound"], meta[meta["class"] == "background"]
    assert len(made) == len(bound) == 200
    assert set(made["chrom"]) <= set(bound["chrom"])
    # the GC distributions match: the background alone would differ by far (D ~ 0.6)
    report = pd.read_csv(out / BACKGROUND_FILE, sep="\t")
    assert report.loc[0, "ks_statistic"] < 0.1
    from lociflow.runs import read_ledger

    assert read_ledger(tmp_path).iloc[-1]["metrics"]["gc_ks_background"] < 0.1  # and the ledger has it
    assert (out / f"{BACKGROUND_PLOT}.png").is_file()
    gc_bound = window_features(genome.fetch(bound["chrom"].to_numpy(object), bound["start"].to_numpy(), WINDOW)).gc
    gc_made = window_features(genome.fetch(made["chrom"].to_numpy(object), made["start"].to_numpy(), WINDOW)).gc
    assert abs(gc_bound.mean() - gc_made.mean()) < 0.01
    # nothing overlaps a positive (window or peak, widened by the margin) or a blacklisted region
    forbidden = Regions()
    for start, end in (("start", "end"), ("orig_start", "orig_end")):
        forbidden.add(bound["chrom"].to_numpy(object), bound[start].to_numpy(), bound[end].to_numpy(), margin)
    forbidden.add_bed(blacklist)
    assert not forbidden.overlaps("chrIV", made["start"].to_numpy(), WINDOW).any()
    codes = genome.fetch(made["chrom"].to_numpy(object), made["start"].to_numpy(), WINDOW)
    assert window_features(codes).n.max() == 0
    # and the background windows do not overlap each other
    starts = np.sort(made["start"].to_numpy())
    assert (np.diff(starts) >= WINDOW).all()


def test_genome_background_can_match_repeats_too(tmp_path, peaks, genome):
    from scipy.stats import ks_2samp

    out = lociflow.preprocess(_config(peaks, {"from": "genome", "like": "bound", "match": ["gc", "repeats"]}),
                              tmp_path, name="d")
    assert pd.read_csv(out / BACKGROUND_FILE, sep="\t").loc[0, "ks_statistic"] < 0.15
    _, meta = _all_meta(out)
    features = {c: window_features(genome.fetch(m["chrom"].to_numpy(object), m["start"].to_numpy(), WINDOW))
                for c, m in meta.groupby("class")}
    assert ks_2samp(features["bound"].repeats, features["background"].repeats).statistic < 0.15


@pytest.mark.parametrize("kind", [{"from": "genome", "like": "bound"}, {"from": "shuffle", "like": "bound"},
                                  {"from": "flanks", "like": "bound", "distance": 300}])
def test_reruns_are_byte_identical(tmp_path, peaks, kind):
    first = lociflow.preprocess(_config(peaks, kind), tmp_path, name="one")
    second = lociflow.preprocess(_config(peaks, kind), tmp_path, name="two")
    assert _digest(first) == _digest(second)


def test_too_many_background_windows_is_a_clear_error(tmp_path, peaks):
    with pytest.raises(LociflowError, match="windows free of every class's loci"):
        lociflow.preprocess(_config(peaks, {"from": "genome", "like": "bound", "ratio": 100}), tmp_path, name="d")


# --------------------------------------------------------------------------- flanks


def test_flanks_lie_at_the_distance_and_avoid_every_locus(tmp_path, peaks):
    _, blacklist = peaks
    out = lociflow.preprocess(_config(peaks, {"from": "flanks", "like": "bound", "distance": 400,
                                              "exclude": [str(blacklist)]}), tmp_path, name="d")
    _, meta = _all_meta(out)
    bound, made = meta[meta["class"] == "bound"], meta[meta["class"] == "background"]
    assert 0 < len(made) <= len(bound)
    low = np.minimum(bound["start"], bound["orig_start"]).to_numpy()
    high = np.maximum(bound["end"], bound["orig_end"]).to_numpy()
    beside = np.concatenate([low - 400 - WINDOW, high + 400])
    assert np.isin(made["start"].to_numpy(), beside).all()
    forbidden = Regions()
    forbidden.add(bound["chrom"].to_numpy(object), low, high)
    forbidden.add_bed(blacklist)
    assert not forbidden.overlaps("chrIV", made["start"].to_numpy(), WINDOW).any()


def test_from_genome_needs_bed_loci(tmp_path):
    fasta = tmp_path / "bound.fa"
    fasta.write_text(">a\nACGTACGTAC\n>b\nGGGCCCAATT\n")
    cfg = {"classes": {"bound": [str(fasta)], "bg": {"from": "genome", "like": "bound"}}, "genome": str(YEAST),
           "window": 10}
    with pytest.raises(LociflowError, match="must be BED/narrowPeak loci"):
        lociflow.preprocess(cfg, tmp_path / "out", name="d")


# --------------------------------------------------------------------------- config


@pytest.mark.parametrize("background, message", [
    ({"from": "shufle", "like": "bound"}, "did you mean 'shuffle'"),
    ({"from": "genome", "like": "bound", "ratoi": 2}, "did you mean 'ratio'"),
    ({"from": "genome", "like": "bund"}, "did you mean 'bound'"),
    ({"like": "bound"}, "without 'from'"),
    ({"from": "genome", "like": "bound", "ratio": 1, "count": 5}, "ratio or count, not both"),
    ({"from": "shuffle", "like": "background"}, "not itself"),
])
def test_generated_class_mistakes_are_named(tmp_path, peaks, background, message):
    with pytest.raises(ConfigError, match=message):
        lociflow.preprocess(_config(peaks, background), tmp_path, name="d")


def test_summit_placement_centres_windows_on_column_10(tmp_path, peaks):
    out = lociflow.preprocess(_config(peaks, {"from": "shuffle", "like": "bound"}), tmp_path, name="d")
    _, meta = _all_meta(out)
    bound = meta[meta["class"] == "bound"]
    summit = bound["orig_start"] + 125
    assert ((bound["start"] + WINDOW // 2) == summit).all()
    assert set(SPLITS[:3]) == set(meta["split"])


def test_a_resplit_keeps_shuffles_with_their_source(tmp_path):
    rng = np.random.default_rng(2)
    fasta = tmp_path / "bound.fa"
    fasta.write_text("".join(f">s{i}\n{''.join(rng.choice(list('ACGT'), 40))}\n" for i in range(200)))
    cfg = {"classes": {"bound": [str(fasta)], "shuffled": {"from": "shuffle", "like": "bound"}}, "window": 40}
    first = lociflow.preprocess(cfg, tmp_path / "out", name="d")
    again = lociflow.preprocess({"source": str(first), "seed": 9, "split": {"ratios": {"train": 0.5, "valid": 0.25,
                                                                                       "test": 0.25}}},
                                tmp_path / "out", name="e")
    _, meta = _all_meta(again)
    split_of = dict(zip(meta.loc[meta["class"] == "bound", "name"], meta.loc[meta["class"] == "bound", "split"]))
    made = meta[meta["class"] == "shuffled"]
    assert (made["name"].str.split("~").str[0].map(split_of) == made["split"]).all()


def test_background_stays_on_the_positives_chromosomes_and_off_n_runs(tmp_path):
    rng = np.random.default_rng(5)
    chroms = {name: rng.choice(list("ACGT"), 40_000) for name in ("chrA", "chrB", "chrC")}
    chroms["chrA"][10_000:20_000] = "N"
    genome = tmp_path / "genome.fa"
    genome.write_text("".join(f">{name}\n{''.join(seq)}\n" for name, seq in chroms.items()))
    bed = tmp_path / "peaks.bed"
    bed.write_text("".join(f"chr{'AB'[i % 2]}\t{1_000 + 300 * i}\t{1_100 + 300 * i}\n" for i in range(40)))
    cfg = {"classes": {"bound": [str(bed)], "bg": {"from": "genome", "like": "bound", "ratio": 3}},
           "genome": str(genome), "window": 100, "cache_dir": str(tmp_path / "cache")}
    _, meta = _all_meta(lociflow.preprocess(cfg, tmp_path / "out", name="d"))
    made = meta[meta["class"] == "bg"]
    assert len(made) == 120 and set(made["chrom"]) <= {"chrA", "chrB"}
    on_a = made[made["chrom"] == "chrA"]
    assert not ((on_a["end"] > 10_000) & (on_a["start"] < 20_000)).any()


def test_params_yaml_of_a_made_class_loads_back(tmp_path, peaks):
    from lociflow.config import PreprocessConfig, load_stage
    from lociflow.layout import PARAMS_FILE

    cfg = _config(peaks, {"from": "flanks", "like": "bound", "distance": 250})
    out = lociflow.preprocess(cfg, tmp_path, name="d")
    again = load_stage(PreprocessConfig, "preprocess", out / PARAMS_FILE)
    assert again.classes["background"].from_ == "flanks" and again.classes["background"].distance == 250
    # params.yaml holds the config with its auto choices made (viewpoint: auto -> center for BED)
    from lociflow.preprocessing.records import resolve_auto

    assert again.dump() == resolve_auto(lociflow.config.coerce(PreprocessConfig, cfg, "preprocess")).dump()
