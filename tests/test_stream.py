"""Encoding new input with a dataset's parameters gives exactly the dataset's rows."""

from __future__ import annotations

import numpy as np
import pyBigWig
import pytest
import yaml

from lociflow.errors import LociflowError
from lociflow.io.store import open_dataset
from lociflow.layout import INPUT_META_COLUMNS
from lociflow.preprocessing.run import preprocess
from lociflow.preprocessing.stream import encode_inputs, resolve_params

WINDOW = 30


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stream")
    rng = np.random.default_rng(4)
    genome = "".join(rng.choice(list("ACGT"), 1200))
    (folder / "genome.fa").write_text(f">chrA\n{genome}\n")
    bw = pyBigWig.open(str(folder / "cons.bw"), "w")
    bw.addHeader([("chrA", 1200)])
    bw.addEntries("chrA", 0, values=np.arange(1200, dtype=np.float64) / 100, span=1, step=1)
    bw.close()
    for name, offset in (("a", 0), ("b", 13)):
        lines = [f"chrA\t{40 * i + offset}\t{40 * i + offset + 20}\t{name}{i}\t0\t{'+-'[i % 2]}" for i in range(25)]
        (folder / f"{name}.bed").write_text("\n".join(lines) + "\n")
    params = {"classes": {"a": [str(folder / "a.bed")], "b": [str(folder / "b.bed")]},
              "genome": str(folder / "genome.fa"), "conservation": str(folder / "cons.bw"),
              "branches": ["seq", "fold", "cons"], "window": WINDOW, "alphabet": "dna", "workers": 1,
              "cache_dir": str(folder / "cache"), "split": {"ratios": {"train": 1.0}}}
    dataset = preprocess(params, folder / "runs", name="d")
    return folder, open_dataset(dataset)


def test_new_bed_input_encodes_exactly_like_the_dataset(made):
    folder, dataset = made
    chunks = list(encode_inputs([folder / "a.bed"], dataset.params, chunk_size=7))
    assert [len(c) for c in chunks] == [7, 7, 7, 4]  # chunks in input order
    meta = np.concatenate([c.meta["id"].to_numpy() for c in chunks])
    assert list(meta) == [f"a{i}" for i in range(25)]
    assert list(chunks[0].meta.columns) == list(INPUT_META_COLUMNS)
    train = dataset.split("train")
    names = list(train.meta()["name"])
    rows = [names.index(n) for n in meta]
    for branch in ("seq", "fold", "cons"):
        streamed = np.concatenate([c.inputs[branch] for c in chunks])
        assert streamed.dtype == train.inputs[branch].dtype
        np.testing.assert_array_equal(streamed, np.asarray(train.inputs[branch])[rows])


def test_text_and_fasta_input_need_no_genome_but_tracks_do(made, tmp_path):
    folder, dataset = made
    (tmp_path / "seqs.txt").write_text("ACGT" * 10 + "\n\nacgtn\n")
    seq_only = {**dataset.params, "branches": ["seq"]}
    chunk = next(encode_inputs([tmp_path / "seqs.txt"], seq_only))
    assert chunk.inputs["seq"].shape == (2, WINDOW, 4)
    assert chunk.meta["chrom"].tolist() == ["", ""] and chunk.meta["start"].isna().all()
    (tmp_path / "x.fa").write_text(">x\nACGTACGT\n")
    with pytest.raises(LociflowError, match="genome coordinates"):
        next(encode_inputs([tmp_path / "x.fa"], dataset.params))


def test_missing_parameters_take_the_config_defaults():
    params = resolve_params({"window": 50, "fold": {"temperature": 30}})
    assert params["window"] == 50 and params["strand"] is True and params["edge"] == "shift"
    assert params["fold"] == {"features": ["mfe", "unpaired_prob"], "temperature": 30, "max_bp_span": None}
    assert yaml.safe_dump(params)  # plain data
