"""Property tests: any bytes, YAML document or spec mapping gives data or lociflow's user error, quickly."""

from __future__ import annotations

import gzip
import shutil
import tempfile
import time
import tracemalloc
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lociflow.config import PreprocessConfig, TrainConfig
from lociflow.configfile import load_stage
from lociflow.errors import LociflowError
from lociflow.io.bed import read_bed
from lociflow.io.fasta import read_fasta_records
from lociflow.io.vcf import iter_variants
from lociflow.model.io import load_model

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SECONDS = 5.0  # the bound on one read of a small input
PEAK_BYTES = 256 * 2**20  # and on the memory it allocates (Python and numpy allocations)

# bytes that look like the formats (so the parsers get past their first line) mixed with noise
BED_LINE = st.builds(lambda c, s, e, rest: f"{c}\t{s}\t{e}{rest}\n".encode(), st.sampled_from(["chr1", "chrX", "", "#x"]),
                     st.one_of(st.integers(-5, 10**6).map(str), st.sampled_from(["1e3", "5.0", "x", ""])),
                     st.one_of(st.integers(-5, 10**6).map(str), st.sampled_from(["1e3", "", "nan"])),
                     st.sampled_from(["", "\tn\t0\t+", "\tn\t0\t?", "\t", "\tn\t0\t-\textra"]))
FASTA_PART = st.one_of(st.just(b">r\n"), st.just(b">r x\n"), st.sampled_from([b"ACGT\n", b"acgu\n", b"NNRY\n", b"AC-T\n",
                                                                             b"\n", b";c\n"]))
VCF_PART = st.one_of(st.just(b"##fileformat=VCFv4.2\n"), st.just(b"#CHROM\tPOS\tID\tREF\tALT\n"),
                     st.builds(lambda c, p, r, a: f"{c}\t{p}\t.\t{r}\t{a}\n".encode(),
                               st.sampled_from(["chr1", "", "1"]),
                               st.one_of(st.integers(-2, 10**6).map(str), st.sampled_from(["x", "", "1.5"])),
                               st.sampled_from(["A", "ACGT", "N", "", "A-", "a"]),
                               st.sampled_from(["C", "C,G", "<DEL>", "*", ".", "G[chr1:5[", "", "C!", "A,,T"])),
                     st.just(b"chr1\t5\n"))
BYTES = st.one_of(st.binary(max_size=400), st.lists(BED_LINE, max_size=8).map(b"".join),
                  st.lists(FASTA_PART, max_size=12).map(b"".join), st.lists(VCF_PART, max_size=10).map(b"".join))


def write(data: bytes, suffix: str, compress: bool, cut: int) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="lociflow-prop-"))
    path = folder / f"input{suffix}"
    if compress:
        packed = gzip.compress(data)
        data = packed[: max(0, len(packed) - cut)]
    path.write_bytes(data)
    return path


def data_or_user_error(call, folder: Path, bound_memory: bool = True) -> None:
    """Run ``call``: it returns or raises a user error, within :data:`SECONDS` and :data:`PEAK_BYTES`.

    A model spec may name a large valid network, which loading then rightly allocates;
    its bound is the free memory, which loading checks itself (``bound_memory=False``).
    """
    tracemalloc.start()
    started = time.perf_counter()
    try:
        call()
    except LociflowError:
        pass
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        shutil.rmtree(folder, ignore_errors=True)
    assert time.perf_counter() - started < SECONDS
    assert not bound_memory or peak < PEAK_BYTES, f"reading a small input allocated {peak / 2**20:.0f} MiB"


@SETTINGS
@given(data=BYTES, compress=st.booleans(), cut=st.integers(0, 30))
def test_bed_reader_gives_intervals_or_a_user_error(data, compress, cut):
    path = write(data, ".bed.gz" if compress else ".bed", compress, cut)
    data_or_user_error(lambda: read_bed(path), path.parent)


@SETTINGS
@given(data=BYTES, compress=st.booleans(), cut=st.integers(0, 30))
def test_fasta_reader_gives_records_or_a_user_error(data, compress, cut):
    path = write(data, ".fa.gz" if compress else ".fa", compress, cut)
    data_or_user_error(lambda: list(read_fasta_records(path)), path.parent)


YAML_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
                         st.text(max_size=10), st.binary(max_size=5))
YAML_VALUES = st.recursive(YAML_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                                st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                           max_leaves=20)
KEYS = st.sampled_from(["window", "seed", "strand", "split", "classes", "branches", "edge", "reduce", "fold", "epochs",
                        "batch_size", "preset", "architecture", "lr", "early_stopping", "unknown"])
SECTIONS = st.dictionaries(KEYS, YAML_VALUES, max_size=6)


@SETTINGS
@given(document=st.one_of(YAML_VALUES, st.dictionaries(st.sampled_from(["preprocess", "train", "other"]),
                                                       st.one_of(SECTIONS, YAML_VALUES), max_size=3)),
       stage=st.sampled_from([("preprocess", PreprocessConfig), ("train", TrainConfig)]))
def test_config_loader_gives_a_config_or_a_user_error(document, stage):
    path = write(yaml.safe_dump(document).encode(), ".yaml", False, 0)
    data_or_user_error(lambda: load_stage(stage[1], stage[0], path), path.parent)


@SETTINGS
@given(text=st.one_of(st.text(max_size=300), st.binary(max_size=300).map(lambda b: b.decode("latin-1"))))
def test_config_loader_survives_any_text(text):
    path = write(text.encode("utf-8", errors="surrogatepass"), ".yaml", False, 0)
    data_or_user_error(lambda: load_stage(PreprocessConfig, "preprocess", path), path.parent)


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory):
    import torch

    from lociflow.model.io import save_model
    from lociflow.model.network import build_network
    from lociflow.model.presets import resolve_architecture

    channels = {"seq": ["A", "C", "G", "T"]}
    arch = resolve_architecture("deepbind", None, ["seq"], 20)
    torch.manual_seed(0)
    network = build_network(arch, channels, 20, 2)
    folder = save_model(tmp_path_factory.mktemp("spec") / "model", network,
                        {"classes": ["a", "b"], "channels": channels, "window": 20, "architecture": arch})
    return folder


SPEC_KEYS = st.sampled_from(["format_version", "format", "classes", "n_classes", "branches", "channels", "window",
                             "architecture", "ensemble", "file", "weights_sha256", "input_layout", "output"])


@SETTINGS
@given(changes=st.dictionaries(SPEC_KEYS, YAML_VALUES, max_size=4),
       layer=st.dictionaries(st.sampled_from(["filters", "kernel", "type", "units", "pool_size", "dropout"]),
                             # small, or far too large: a valid network of gigabytes would only be slow
                             st.one_of(YAML_VALUES.filter(lambda v: not isinstance(v, int) or abs(v) < 10**4),
                                       st.integers(10**12, 2**70)), max_size=2))
def test_model_spec_reader_gives_a_model_or_a_user_error(model_folder, changes, layer):
    folder = Path(tempfile.mkdtemp(prefix="lociflow-spec-")) / "model"
    shutil.copytree(model_folder, folder)
    spec = yaml.safe_load((folder / "spec.yaml").read_text())
    spec.update(changes)
    if layer and isinstance(spec.get("architecture"), dict):
        branch = (spec["architecture"].get("branches") or {}).get("seq")
        if isinstance(branch, list) and branch and isinstance(branch[0], dict):
            branch[0].update(layer)
    (folder / "spec.yaml").write_text(yaml.safe_dump(spec))
    data_or_user_error(lambda: load_model(folder), folder.parent, bound_memory=False)


@SETTINGS
@given(data=BYTES, compress=st.booleans(), cut=st.integers(0, 30))
def test_vcf_reader_gives_variants_or_a_user_error(data, compress, cut):
    path = write(data, ".vcf.gz" if compress else ".vcf", compress, cut)

    def read():
        for chunk in iter_variants(path, chunk_size=3):
            for variant in chunk:
                assert variant.pos >= 1 and variant.ref and variant.alt and variant.chrom

    data_or_user_error(read, path.parent)
