"""``lociflow predict``: per-class probabilities for BED, FASTA and text input, streamed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from synthetic import write_dataset
from tiny_model import script_model, train_tiny_model
from typer.testing import CliRunner

from lociflow.cli import app

runner = CliRunner()
COMPLEMENT = str.maketrans("ACGT", "TGCA")
WINDOW = 50


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    root = tmp_path_factory.mktemp("predict")
    data = write_dataset(root / "data", n=300, window=WINDOW, alphabet="dna")
    return train_tiny_model(data, root / "model", epochs=20)


@pytest.fixture(scope="module")
def genome(tmp_path_factory):
    """A two-chromosome genome with the motif planted at known places."""
    rng = np.random.default_rng(3)
    chroms = {name: list(rng.choice(list("ACGT"), size=size)) for name, size in (("chr1", 600), ("chr2", 300))}
    for start in (100, 400):
        chroms["chr1"][start:start + 8] = list("TGTAAATA")
    seqs = {k: "".join(v) for k, v in chroms.items()}
    path = tmp_path_factory.mktemp("genome") / "genome.fa"
    path.write_text("".join(f">{k}\n{v}\n" for k, v in seqs.items()))
    return path, seqs


def cli(*args):
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def predictions(stdout: str) -> pd.DataFrame:
    folder = Path(stdout.strip().splitlines()[-1])
    return pd.read_csv(folder / "predictions.tsv", sep="\t", keep_default_na=False)


def probs(frame: pd.DataFrame) -> np.ndarray:
    return frame[["prob_bound", "prob_unbound"]].to_numpy(float)


def revcomp(seq: str) -> str:
    return seq.translate(COMPLEMENT)[::-1]


def test_bed_input_gives_ids_coordinates_and_probabilities_in_input_order(model, genome, tmp_path):
    fasta, _ = genome
    bed = tmp_path / "loci.bed"
    bed.write_text("chr1\t96\t116\tmotif1\t0\t+\nchr2\t10\t30\tplain\t0\t+\nchr1\t380\t440\tmotif2\t0\t-\n")
    code, out, err = cli("predict", "--model", model, "--input", bed, "--genome", fasta, "-o", tmp_path)
    assert code == 0, err
    table = predictions(out)
    assert list(table["id"]) == ["motif1", "plain", "motif2"]
    for column in ("chrom", "start", "end", "strand", "orig_start", "orig_end", "prob_bound", "prob_unbound",
                   "top_class"):
        assert column in table.columns, column
    assert list(table["orig_start"]) == [96, 10, 380]
    assert list(table["end"] - table["start"]) == [WINDOW] * 3  # windows of the model's width
    np.testing.assert_allclose(probs(table).sum(1), 1.0, atol=1e-5)
    assert list(table["top_class"]) == [("bound", "unbound")[i] for i in probs(table).argmax(1)]


def test_minus_strand_locus_equals_its_reverse_complement_as_text(model, genome, tmp_path):
    fasta, seqs = genome
    bed = tmp_path / "strands.bed"
    bed.write_text("chr1\t80\t130\tfwd\t0\t+\nchr1\t80\t130\trev\t0\t-\n")
    text = tmp_path / "seqs.txt"
    text.write_text(f"{seqs['chr1'][80:130]}\n{revcomp(seqs['chr1'][80:130])}\n")
    code, out, err = cli("predict", "--model", model, "--input", bed, "--genome", fasta, "-o", tmp_path)
    assert code == 0, err
    from_bed = probs(predictions(out))
    code, out, err = cli("predict", "--model", model, "--input", text, "-o", tmp_path)
    assert code == 0, err
    from_text = probs(predictions(out))
    np.testing.assert_allclose(from_bed, from_text, atol=1e-6)
    assert not np.allclose(from_bed[0], from_bed[1], atol=1e-4)  # the strands really differ


def _varied_fasta(path: Path, n: int = 11) -> list[str]:
    rng = np.random.default_rng(5)
    names = []
    with open(path, "w") as handle:
        for i in range(n):
            length = int(rng.integers(20, 130))
            seq = "".join(rng.choice(list("ACGT"), size=length))
            if i % 3 == 0:
                seq = seq[:length // 2] + "TGTAAATA" + seq[length // 2:]
            names.append(f"seq{i}")
            handle.write(f">seq{i} length {length}\n{seq}\n")
    return names


def test_fasta_of_varied_lengths_in_chunks_equals_one_batch(model, tmp_path):
    fasta = tmp_path / "varied.fa"
    names = _varied_fasta(fasta)
    tables = []
    for chunk in (3, 1000):
        code, out, err = cli("predict", "--model", model, "--input", fasta, "--chunk-size", chunk, "-o", tmp_path)
        assert code == 0, err
        tables.append(predictions(out))
    assert [i.split()[0] for i in tables[0]["id"]] == names
    pd.testing.assert_frame_equal(tables[0], tables[1])


def test_thresholds_add_a_call_column(model, tmp_path):
    fasta = tmp_path / "varied.fa"
    _varied_fasta(fasta)
    code, out, err = cli("predict", "--model", model, "--input", fasta, "--threshold", "bound=0.5",
                         "--threshold", "unbound=0.5", "-o", tmp_path)
    assert code == 0, err
    table = predictions(out)
    expected = np.where(table["prob_bound"] >= 0.5, "bound", "unbound")
    assert list(table["call"]) == list(expected)
    code, out, err = cli("predict", "--model", model, "--input", fasta, "--threshold", "bound=1.0", "-o", tmp_path)
    assert set(predictions(out)["call"]) == {"none"}


def test_integrated_gradients_cover_every_locus_and_branch(model, tmp_path):
    fasta = tmp_path / "varied.fa"
    _varied_fasta(fasta, n=13)
    folders = []
    for chunk in (4, 1000):
        code, out, err = cli("predict", "--model", model, "--input", fasta, "--attribute", "ig",
                             "--chunk-size", chunk, "-o", tmp_path)
        assert code == 0, err
        folders.append(Path(out.strip().splitlines()[-1]))
    first, second = (np.load(f / "attributions.npz") for f in folders)
    assert first["seq"].shape == (13, WINDOW, 4) and first["seq"].dtype == np.float32
    np.testing.assert_allclose(first["seq"], second["seq"], atol=1e-6)
    table = pd.read_csv(folders[0] / "predictions.tsv", sep="\t")
    assert list(first["classes"]) == ["bound", "unbound"]
    assert [("bound", "unbound")[t] for t in first["target"]] == list(table["top_class"])
    # with an all-zero baseline only the base present at a position can carry attribution
    assert (np.count_nonzero(first["seq"], axis=2) <= 1).all()
    assert np.abs(first["seq"]).sum() > 0
    page = (folders[0] / "attributions.html").read_text()
    assert page.count('class="seqmap"') == 13  # fewer than ten loci per class: all shown
    assert "Class bound" in page and "Class unbound" in page


def test_torchscript_model_without_preprocess_params_predicts_like_the_original(model, tmp_path):
    fasta = tmp_path / "varied.fa"
    _varied_fasta(fasta)
    scripted = script_model(model, tmp_path / "scripted", with_preprocess=False)
    results = []
    for m in (model, scripted):
        code, out, err = cli("predict", "--model", m, "--input", fasta, "--attribute", "ig", "-o", tmp_path)
        assert code == 0, err
        results.append(probs(predictions(out)))
    np.testing.assert_allclose(results[0], results[1], atol=1e-6)


def test_conservation_model_predicts_bed_with_its_bigwig_and_attributes_both_branches(genome, tmp_path):
    import pyBigWig

    fasta, seqs = genome
    data = write_dataset(tmp_path / "data", n=120, window=WINDOW, branches=("seq", "cons"), alphabet="dna")
    cons_model = train_tiny_model(data, tmp_path / "cons_model", epochs=5)
    bigwig = tmp_path / "cons.bw"
    writer = pyBigWig.open(str(bigwig), "w")
    writer.addHeader([(chrom, len(seq)) for chrom, seq in seqs.items()])
    for chrom, seq in seqs.items():
        writer.addEntries(chrom, 0, values=np.linspace(-2, 2, len(seq)), span=1, step=1)
    writer.close()
    bed = tmp_path / "loci.bed"
    bed.write_text("chr1\t80\t130\tfwd\t0\t+\nchr1\t80\t130\trev\t0\t-\n")
    code, out, err = cli("predict", "--model", cons_model, "--input", bed, "--genome", fasta,
                         "--conservation", bigwig, "--attribute", "ig", "-o", tmp_path)
    assert code == 0, err
    folder = Path(out.strip().splitlines()[-1])
    assert list(predictions(out)["id"]) == ["fwd", "rev"]
    archive = np.load(folder / "attributions.npz")
    assert archive["seq"].shape == (2, WINDOW, 4) and archive["cons"].shape == (2, WINDOW, 1)
    assert list(archive["branches"]) == ["seq", "cons"]
    assert np.abs(archive["cons"]).sum() > 0
    assert "branch cons" in (folder / "attributions.html").read_text()


# --------------------------------------------------------------------------- bad input


def test_model_with_a_cons_branch_and_no_bigwig_is_refused_before_any_work(tmp_path):
    data = write_dataset(tmp_path / "data", n=80, window=WINDOW, branches=("seq", "cons"), alphabet="dna")
    cons_model = train_tiny_model(data, tmp_path / "cons_model", epochs=1)
    fasta = tmp_path / "a.fa"
    fasta.write_text(">a\n" + "ACGT" * 20 + "\n")
    out_root = tmp_path / "out"
    code, _, err = cli("predict", "--model", cons_model, "--input", fasta, "-o", out_root)
    assert code == 2 and "has a conservation (cons) branch" in err and "--conservation" in err
    assert not out_root.exists()  # nothing was started


def test_missing_and_empty_input_files_are_refused(model, tmp_path):
    code, _, err = cli("predict", "--model", model, "--input", tmp_path / "absent.fa", "-o", tmp_path)
    assert code == 2 and "absent.fa does not exist" in err
    empty = tmp_path / "empty.fa"
    empty.write_text("")
    code, _, err = cli("predict", "--model", model, "--input", empty, "-o", tmp_path)
    assert code == 2 and "is empty" in err
    blank = tmp_path / "blank.txt"
    blank.write_text("\n\n")
    code, _, err = cli("predict", "--model", model, "--input", blank, "-o", tmp_path)
    assert code == 2 and ("no loci" in err.lower() or "empty" in err.lower() or "no sequence" in err.lower())


def test_bed_without_genome_and_bad_thresholds_are_refused(model, tmp_path):
    bed = tmp_path / "a.bed"
    bed.write_text("chr1\t10\t60\n")
    code, _, err = cli("predict", "--model", model, "--input", bed, "-o", tmp_path)
    assert code == 2 and "give the reference genome" in err
    fasta = tmp_path / "a.fa"
    fasta.write_text(">a\nACGTACGT\n")
    code, _, err = cli("predict", "--model", model, "--input", fasta, "--threshold", "bond=0.5", "-o", tmp_path)
    assert code == 2 and "not a class of the model" in err
    code, _, err = cli("predict", "--model", model, "--input", fasta, "--threshold", "bound=1.5", "-o", tmp_path)
    assert code == 2 and "between 0 and 1" in err
    code, _, err = cli("predict", "--model", model, "--input", fasta, "--threshold", "bound", "-o", tmp_path)
    assert code == 2 and "NAME=VALUE" in err


def test_model_folder_problems_surface_in_predict(model, tmp_path):
    fasta = tmp_path / "a.fa"
    fasta.write_text(">a\nACGTACGT\n")
    code, _, err = cli("predict", "--model", tmp_path / "none", "--input", fasta, "-o", tmp_path)
    assert code == 2 and "does not exist" in err
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "spec.yaml").write_text((model / "spec.yaml").read_text())
    (damaged / "model.safetensors").write_bytes(b"not weights at all")
    code, _, err = cli("predict", "--model", damaged, "--input", fasta, "-o", tmp_path)
    assert code == 2 and "corrupted or truncated" in err


def test_graphprot_ids_are_the_records_first_word_and_coordinates_stay_parsed(model, tmp_path):
    """ALKBH5's GraphProt records are all named 'id;chrom,start,end,strand': the id must be the
    whole first word, so that every prediction joins back to its input record."""
    fasta = tmp_path / "graphprot.fa"
    records = ["id;chr5,137088438,137088480,-", "id;chr1,1000,1040,+", "CID_7;chr2,500,530,+ extra words"]
    rng = np.random.default_rng(3)
    fasta.write_text("".join(f">{r}\n{''.join(rng.choice(list('acgt'), 60))}\n" for r in records))
    code, out, err = cli("predict", "--model", model, "--input", fasta, "-o", tmp_path)
    assert code == 0, err
    table = predictions(out)
    assert list(table["id"]) == [r.split()[0] for r in records]
    assert table["id"].is_unique
    assert list(table["chrom"]) == ["chr5", "chr1", "chr2"]
    assert list(table["orig_start"]) == [137088438, 1000, 500] and list(table["strand"]) == ["-", "+", "+"]


def test_one_input_flag_takes_several_files(model, tmp_path):
    first, second = tmp_path / "a.fa", tmp_path / "b.fa"
    first.write_text(">a1\nACGTACGTTGTAAATAACGT\n")
    second.write_text(">b1\nTTTTACGTACGTACGTACGA\n>b2\nACGTTGTAAATAACGTACGT\n")
    code, out, err = cli("predict", "--model", model, "-i", first, second, "-o", tmp_path, "--name", "one")
    assert code == 0, err
    code, out2, err = cli("predict", "--model", model, "-i", first, "-i", second, "-o", tmp_path, "--name", "two")
    assert code == 0, err
    pd.testing.assert_frame_equal(predictions(out), predictions(out2))
    assert list(predictions(out)["id"]) == ["a1", "b1", "b2"]
    code, _, err = cli("predict", "--model", model, first, "-o", tmp_path)
    assert code == 2 and "is not an option: give input files with -i" in err
