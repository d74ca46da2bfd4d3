"""``lociflow variants``: effects of VCF variants, checked on a model trained on a planted motif."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from genome_model import (
    SITES,
    WINDOW,
    genome_sequences,
    save_planted_model,
    write_genome,
)
from planted import jaspar_motif, one_thread
from typer.testing import CliRunner

from lociflow.cli import app
from lociflow.errors import InputFileError
from lociflow.io.fasta import Genome
from lociflow.io.vcf import Variant, VcfCounts, iter_variants
from lociflow.layout import TOP_VARIANTS_FILE, VARIANT_COLUMNS, VARIANTS_FILE
from lociflow.variation.alleles import allele_windows

runner = CliRunner()
HEADER = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("variants")
    genome = write_genome(root / "genome.fa")
    with one_thread():
        model = save_planted_model(root / "model", genome)
    return genome, model, genome_sequences()


def vcf(path: Path, records: list[str], compress: bool = False) -> Path:
    text = HEADER + "".join(r + "\n" for r in records)
    if compress:
        with gzip.open(path, "wt") as handle:
            handle.write(text)
    else:
        path.write_text(text)
    return path


def other(base: str) -> str:
    return "A" if base != "A" else "C"


def cli(*args):
    result = runner.invoke(app, ["variants", *map(str, args)])
    return result.exit_code, result.stdout, result.stderr


def table(stdout: str, name: str = VARIANTS_FILE) -> pd.DataFrame:
    return pd.read_csv(Path(stdout.strip().splitlines()[-1]) / name, sep="\t", keep_default_na=False)


def test_destroying_the_motif_ranks_first_and_a_neutral_variant_does_nothing(world, tmp_path):
    genome, model, seqs = world
    chrom, start = SITES[0]
    site = len(jaspar_motif().consensus)
    core = seqs[chrom][start - 1:start + site]  # an anchor base and the whole site
    neutral = 2000
    records = [
        f"chr1\t{neutral + 1}\tneutral\t{seqs['chr1'][neutral]}\t{other(seqs['chr1'][neutral])}\t.\t.\t.",
        f"{chrom}\t{start}\tmotif_deleted\t{core}\t{core[0]}\t.\t.\t.",
        f"chr2\t201\tfar\t{seqs['chr2'][200]}\t{other(seqs['chr2'][200])}\t.\t.\t.",
    ]
    with one_thread():
        code, out, err = cli("--model", model, "--vcf", vcf(tmp_path / "v.vcf", records), "--genome", genome,
                             "-o", tmp_path / "runs", "--device", "cpu")
    assert code == 0, err
    rows = table(out)
    assert list(rows.columns[:5]) == list(VARIANT_COLUMNS)
    assert list(rows["id"]) == ["neutral", "motif_deleted", "far"]  # input order
    for c in ("background", "motif"):
        assert {f"ref_{c}", f"alt_{c}", f"delta_{c}", f"logodds_{c}"} <= set(rows.columns)
    by_id = rows.set_index("id")
    assert by_id.loc["motif_deleted", "ref_motif"] > 0.9
    assert by_id.loc["motif_deleted", "delta_motif"] < -0.5
    assert abs(by_id.loc["neutral", "delta_motif"]) < 0.01
    assert np.allclose(rows["delta_motif"], rows["alt_motif"] - rows["ref_motif"], atol=1e-5)
    top = table(out, TOP_VARIANTS_FILE)
    assert top["id"].iloc[0] == "motif_deleted" and top["rank"].iloc[0] == 1
    assert Path(out.strip().splitlines()[-1]).name in (tmp_path / "runs" / "runs.tsv").read_text()


def test_an_snv_in_the_site_lowers_the_motif_log_odds(world, tmp_path):
    genome, model, seqs = world
    chrom, start = SITES[2]
    p0 = start + len(jaspar_motif().consensus) // 2
    records = [f"{chrom}\t{p0 + 1}\tsnv\t{seqs[chrom][p0]}\t{other(seqs[chrom][p0])}\t.\t.\t."]
    with one_thread():
        code, out, err = cli("--model", model, "--vcf", vcf(tmp_path / "v.vcf.gz", records, compress=True),
                             "--genome", genome, "-o", tmp_path, "--device", "cpu", "--strand", "both")
    assert code == 0, err
    rows = table(out)
    assert list(rows["strand"]) == ["+", "-"]
    assert rows["logodds_motif"].iloc[0] < -2


def test_ref_mismatches_are_listed_or_skipped(world, tmp_path):
    genome, model, seqs = world
    bad = [f"chr1\t{p + 1}\tbad{p}\t{other(seqs['chr1'][p])}\tG\t.\t.\t." for p in range(100, 108)]
    good = f"chr1\t2001\tgood\t{seqs['chr1'][2000]}\t{other(seqs['chr1'][2000])}\t.\t.\t."
    path = vcf(tmp_path / "v.vcf", [good, *bad])
    code, out, err = cli("--model", model, "--vcf", path, "--genome", genome, "-o", tmp_path / "a", "--device", "cpu")
    assert code == 2
    assert "8 variant(s)" in err and "differs from the genome" in err and "another genome assembly" in err
    assert f"line 4: chr1:101 REF {other(seqs['chr1'][100])}, genome {seqs['chr1'][100]}" in err
    assert "and 3 more" in err and "--ref-mismatch skip" in err
    assert not (tmp_path / "a").exists() or not any((tmp_path / "a").iterdir())  # refused before a run folder
    code, out, err = cli("--model", model, "--vcf", path, "--genome", genome, "-o", tmp_path / "b",
                         "--device", "cpu", "--ref-mismatch", "skip")
    assert code == 0, err
    assert list(table(out)["id"]) == ["good"]
    assert "skipped 8 variant allele(s): REF differs" in err


def test_chromosome_naming_is_explained_as_in_preprocess(world, tmp_path):
    genome, model, seqs = world
    path = vcf(tmp_path / "v.vcf", [f"1\t2001\tx\t{seqs['chr1'][2000]}\tA\t.\t.\t."])
    code, _, err = cli("--model", model, "--vcf", path, "--genome", genome, "-o", tmp_path, "--device", "cpu")
    assert code == 2
    assert "'1'" in err and "add the 'chr' prefix" in err


def test_multi_allelic_records_split_and_symbolic_alleles_are_counted(tmp_path):
    path = vcf(tmp_path / "v.vcf", ["chr1\t10\trs1\tA\tC,G,<NON_REF>\t.\t.\t.", "chr1\t20\t.\tAT\tA,*\t.\t.\t.",
                                    "chr2\t5\tsv\tN\t<DEL>\t.\t.\t.", "chr2\t9\tbnd\tG\tG[chr1:5[\t.\t.\t.",
                                    "chr2\t30\tmono\tC\t.\t.\t.\t."])
    counts = VcfCounts()
    found = [v for chunk in iter_variants(path, chunk_size=2, counts=counts) for v in chunk]
    assert [(v.id, v.ref, v.alt, v.line) for v in found] == [
        ("rs1", "A", "C", 3), ("rs1", "A", "G", 3), ("chr1:20:AT:A", "AT", "A", 4)]
    assert (counts.records, counts.variants, counts.symbolic, counts.missing) == (5, 3, 4, 1)


@pytest.mark.parametrize("line, message", [
    ("chr1\t10\trs1\tA", "at least 5 tab-separated columns"),
    ("chr1\tten\trs1\tA\tC", "POS 'ten' is not a whole number"),
    ("chr1\t0\trs1\tA\tC", "POS 0 is not a 1-based position"),
    ("chr1\t10\trs1\tA-\tC", "REF 'A-' is not a sequence"),
    ("chr1\t10\trs1\tA\tC!", "ALT 'C!' is neither"),
])
def test_malformed_vcf_lines_name_file_and_line(tmp_path, line, message):
    path = vcf(tmp_path / "bad.vcf", ["chr1\t5\tok\tA\tC", line])
    with pytest.raises(InputFileError, match=message) as info:
        [v for chunk in iter_variants(path) for v in chunk]
    assert f"{path}, line 4" in str(info.value)


def test_a_file_without_the_vcf_header_is_refused(tmp_path):
    path = tmp_path / "loci.bed"
    path.write_text("chr1\t10\t20\n")
    with pytest.raises(InputFileError, match="line 1: a record before the #CHROM header"):
        list(iter_variants(path))


def test_indel_windows_have_the_model_length_with_each_allele_centred(world):
    genome_path, _, seqs = world
    genome = Genome(genome_path)
    s = seqs["chr1"]
    p0 = 2500
    variants = [Variant("chr1", p0 + 1, "snv", s[p0], other(s[p0]), 1),
                Variant("chr1", p0 + 1, "del", s[p0:p0 + 7], s[p0], 2),
                Variant("chr1", p0 + 1, "ins", s[p0], s[p0] + "GGGGGGGG", 3),
                Variant("chr1", 3, "edge", s[2:4], s[2], 4)]
    windows = allele_windows(genome, variants, WINDOW)
    assert windows.ref.shape == windows.alt.shape == (4, WINDOW)
    text = [bytes(row).decode() for row in windows.alt]
    ref = [bytes(row).decode() for row in windows.ref]
    assert ref[0] == s[p0 - 50:p0 + 50] and text[0] == s[p0 - 50:p0] + other(s[p0]) + s[p0 + 1:p0 + 50]
    assert ref[1] == s[p0 + (7 - WINDOW) // 2:p0 + (7 - WINDOW) // 2 + WINDOW]
    assert text[1] == s[p0 - 50:p0 + 1] + s[p0 + 7:p0 + 7 + 49]  # one ALT base, centred: 50 left, 49 right
    assert text[2] == s[p0 - 46:p0 + 1] + "GGGGGGGG" + s[p0 + 1:p0 + 1 + 45]  # 9 ALT bases: 46 left, 45 right
    assert ref[3] == s[:WINDOW] and text[3] == s[:3] + s[4:WINDOW + 1]  # shifted inside chr1
    assert list(windows.offsets) == [50, (WINDOW - 7 + 1) // 2, 50, 2]
    t = seqs["chr2"]
    end = allele_windows(genome, [Variant("chr2", 2999, "ins_at_end", t[2998], t[2998] + "TT", 5)], WINDOW)
    assert bytes(end.alt[0]).decode() == t[2998 - 96:2998] + t[2998] + "TT" + t[2999:]  # shifted inside chr2
    assert bytes(end.ref[0]).decode() == t[-WINDOW:] and end.alt_offsets[0] == 96


def test_alleles_longer_than_the_window_are_skipped_and_counted(world):
    genome_path, _, seqs = world
    s = seqs["chr1"]
    windows = allele_windows(Genome(genome_path), [Variant("chr1", 101, "long", s[100:100 + WINDOW + 1], s[100], 1)],
                             WINDOW)
    assert len(windows) == 0 and windows.skipped["longer_than_window"] == 1


def test_missing_vcf_and_genome_are_refused(world, tmp_path):
    genome, model, _ = world
    code, _, err = cli("--model", model, "--genome", genome, "-o", tmp_path)
    assert code == 2 and "No variants given" in err
    code, _, err = cli("--model", model, "--vcf", tmp_path / "absent.vcf", "-o", tmp_path)
    assert code == 2 and "VCF file" in err and "does not exist" in err
    empty = vcf(tmp_path / "empty.vcf", ["chr1\t5\tsv\tA\t<DEL>"])
    code, _, err = cli("--model", model, "--vcf", empty, "--genome", genome, "-o", tmp_path)
    assert code == 2 and "holds no variant with a sequence allele" in err


@pytest.mark.parametrize("method", ["ig", "ism"])
def test_attribution_page_shows_both_alleles_of_the_top_variants(world, tmp_path, method):
    genome, model, seqs = world
    chrom, start = SITES[1]
    site = len(jaspar_motif().consensus)
    p0 = start + site // 2
    records = [f"{chrom}\t{p0 + 1}\tin_site\t{seqs[chrom][p0]}\t{other(seqs[chrom][p0])}\t.\t.\t.",
               f"chr2\t201\tfar\t{seqs['chr2'][200]}\t{other(seqs['chr2'][200])}\t.\t.\t.",
               f"chr2\t301\tins\t{seqs['chr2'][300]}\t{seqs['chr2'][300]}GGG\t.\t.\t."]
    with one_thread():
        code, out, err = cli("--model", model, "--vcf", vcf(tmp_path / "v.vcf", records), "--genome", genome,
                             "-o", tmp_path, "--device", "cpu", "--attribute", method, "--top", 2)
    assert code == 0, err
    folder = Path(out.strip().splitlines()[-1])
    page = (folder / "index.html").read_text()
    assert "1. in_site" in page and "rank 1 of 2" in page and "REF window" in page and "ALT window" in page
    assert page.count('<div class="variant">') == 2
    arrays = np.load(folder / "attributions.npz")
    assert sorted(arrays.files) == ["alt_1", "alt_2", "ref_1", "ref_2"]
    ref = arrays["ref_1"].sum(axis=1)
    centre = WINDOW // 2  # the variant's window offset; the site lies around it
    in_site = np.abs(ref[centre - site // 2:centre - site // 2 + site]).mean()
    outside = np.abs(np.r_[ref[:centre - site], ref[centre + site:]]).mean()
    assert in_site > 3 * outside


def test_a_genes_bed_gives_each_variant_its_transcribed_strand(world, tmp_path):
    genome, model, seqs = world
    genes = tmp_path / "genes.bed"
    genes.write_text("chr1\t100\t900\tminus_gene\t0\t-\n"
                     "chr1\t2000\t2600\tplus_gene\t0\t+\n"
                     "chr1\t2400\t3000\tantisense\t0\t-\n")
    s = seqs["chr1"]
    records = [f"chr1\t{p + 1}\t{name}\t{s[p]}\t{other(s[p])}\t.\t.\t." for p, name in
               ((500, "in_minus"), (2100, "in_plus"), (2500, "in_both"), (4000, "outside"))]
    with one_thread():
        code, out, err = cli("--model", model, "--vcf", vcf(tmp_path / "v.vcf", records), "--genome", genome,
                             "--genes", genes, "-o", tmp_path, "--device", "cpu")
    assert code == 0, err
    rows = table(out)
    assert list(zip(rows["id"], rows["strand"])) == [
        ("in_minus", "-"), ("in_plus", "+"), ("in_both", "+"), ("in_both", "-"), ("outside", "+")]
    # a minus-strand row is the reverse complement: it equals scoring that variant with --strand -
    with one_thread():
        code, out, err = cli("--model", model, "--vcf", vcf(tmp_path / "one.vcf", records[:1]), "--genome", genome,
                             "--strand", "-", "-o", tmp_path, "--device", "cpu")
    assert np.allclose(table(out)["alt_motif"], rows["alt_motif"].iloc[0])


def test_genes_without_strands_are_refused(world, tmp_path):
    genome, model, seqs = world
    genes = tmp_path / "genes.bed"
    genes.write_text("chr1\t100\t900\tg1\t0\t.\n")
    records = [f"chr1\t501\tv\t{seqs['chr1'][500]}\t{other(seqs['chr1'][500])}\t.\t.\t."]
    code, _, err = cli("--model", model, "--vcf", vcf(tmp_path / "v.vcf", records), "--genome", genome,
                       "--genes", genes, "-o", tmp_path, "--device", "cpu")
    assert code == 2 and f"{genes}, line 1: a gene without a strand" in err


def test_results_do_not_depend_on_the_chunk_size_and_params_yaml_reruns_the_run(world, tmp_path):
    genome, model, seqs = world
    s = seqs["chr1"]
    records = [f"chr1\t{p + 1}\tv{p}\t{s[p]}\t{other(s[p])}\t.\t.\t." for p in range(950, 1030, 9)]
    config = tmp_path / "config.yaml"
    config.write_text(f"variants:\n  model: {model}\n  vcf: {vcf(tmp_path / 'v.vcf', records)}\n"
                      f"  genome: {genome}\n  device: cpu\n  chunk_size: 3\n")
    with one_thread():
        code, out, err = cli("-c", config, "-o", tmp_path, "--name", "small-chunks")
        assert code == 0, err
        code, out2, err = cli("-c", config, "--chunk-size", 1000, "-o", tmp_path, "--name", "one-chunk")
        assert code == 0, err
        code, out3, err = cli("-c", Path(out.strip().splitlines()[-1]) / "params.yaml", "-o", tmp_path,
                              "--name", "again")
        assert code == 0, err
    small, whole, again = table(out), table(out2), table(out3)
    assert list(small["id"]) == [f"v{p}" for p in range(950, 1030, 9)]
    # batches of other sizes may take other float32 kernels (seen: 2e-6 on an Intel Xeon), never more
    pd.testing.assert_frame_equal(small, whole, atol=1e-5)
    pd.testing.assert_frame_equal(small, again)
    assert (tmp_path / "runs.tsv").read_text().count("\tvariants\t") == 3


def test_minus_strand_attribution_marks_the_variant_in_the_reverse_complement(world, tmp_path):
    genome, model, seqs = world
    s = seqs["chr1"]
    records = [f"chr1\t2001\tdel\t{s[2000:2004]}\t{s[2000]}\t.\t.\t."]
    with one_thread():
        code, out, err = cli("--model", model, "--vcf", vcf(tmp_path / "v.vcf", records), "--genome", genome,
                             "-o", tmp_path, "--device", "cpu", "--attribute", "ig", "--strand", "-", "--top", 1)
    assert code == 0, err
    folder = Path(out.strip().splitlines()[-1])
    assert "del: chr1:2001" in (folder / "index.html").read_text() and "- strand" in (folder / "index.html").read_text()
    arrays = np.load(folder / "attributions.npz")
    assert arrays["ref_1"].shape == arrays["alt_1"].shape == (WINDOW, 4)
