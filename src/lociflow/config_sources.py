"""The input sources of ``preprocess`` beyond files per class, as the config file writes them.

- a class lociflow makes from another class instead of reading files
  (``classes.<name>: {from: shuffle | genome | flanks, like: <class>, ...}``);
- ``preprocess.table``: a table with a sequence and a label per row;
- ``preprocess.labelled``: FASTA files with the class in each header.

:class:`lociflow.config.PreprocessConfig` reads them; :mod:`lociflow.preprocessing.negatives`
and :mod:`lociflow.preprocessing.sources` carry them out.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from lociflow.configfile import Section, suggest


class GeneratedClass(Section):
    """A class lociflow makes from another class (``from:``) instead of reading files."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)

    like: str = Field(description="The class it is made from (or matched to).")
    ratio: float | None = Field(default=None, gt=0, description="Loci per locus of the named class (default 1.0).")
    count: int | None = Field(default=None, ge=1, description="An absolute number of loci, instead of a ratio.")

    @model_validator(mode="after")
    def _ratio_or_count(self):
        if self.ratio is not None and self.count is not None:
            raise ValueError("give ratio or count, not both")
        return self

    def target(self, n_like: int) -> int:
        """How many loci to make.

        Parameters
        ----------
        n_like : int
            Loci of the named class (``like``).

        Returns
        -------
        int
            ``count`` when given, else ``ratio`` (default 1.0) times ``n_like``, rounded.
        """
        if self.count is not None:
            return int(self.count)
        return round((1.0 if self.ratio is None else self.ratio) * n_like)

    def describe(self) -> str:
        """What the class is made of, in words (each kind says it more exactly)."""
        return f"loci made from {self.like}"


class ShuffleClass(GeneratedClass):
    """k-mer-preserving shuffles of the named class's windows, each in its source's split."""

    from_: Literal["shuffle"] = Field(alias="from")
    kmer: int = Field(default=2, ge=1, le=4, description="k of the k-mer counts kept (2: dinucleotides).")

    def describe(self) -> str:
        """What the class is made of, in words."""
        kmers = {1: "mononucleotide", 2: "dinucleotide", 3: "trinucleotide", 4: "tetranucleotide"}
        return f"{kmers[self.kmer]}-preserving shuffles of {self.like}"


class GenomicClass(GeneratedClass):
    """Windows drawn from the genome, away from every class's loci and the excluded regions."""

    exclude: list[Path] = Field(default_factory=list, description="BED files of regions no window may overlap.")
    margin: int = Field(default=0, ge=0, description="nt kept free around every locus of every class.")


class GenomeClass(GenomicClass):
    """Genomic windows matched to the named class's GC content (and optionally repeats and N)."""

    from_: Literal["genome"] = Field(alias="from")
    match: list[Literal["gc", "repeats", "n"]] = Field(
        default_factory=lambda: ["gc"],
        description="Distributions matched: gc, repeats (soft-masked fraction), n (fraction of N).")
    bins: int = Field(default=20, ge=2, le=200, description="Histogram bins per matched value.")

    def describe(self) -> str:
        """What the class is made of, in words."""
        matched = {"gc": "GC content", "repeats": "repeat fraction", "n": "N fraction"}
        return f"genomic windows matched to {self.like}'s {' and '.join(matched[m] for m in self.match)}"


class FlanksClass(GenomicClass):
    """Windows at ``distance`` nt on either side of each locus of the named class."""

    from_: Literal["flanks"] = Field(alias="from")
    distance: int = Field(default=1000, ge=0, description="Gap between the locus and the flank's window, in nt.")

    def describe(self) -> str:
        """What the class is made of, in words."""
        return f"genomic windows {self.distance:,} nt beside {self.like}'s loci"


#: the kinds of generated class, by their ``from:`` value
GENERATED_KINDS: dict[str, type[GeneratedClass]] = {"shuffle": ShuffleClass, "genome": GenomeClass, "flanks": FlanksClass}


def generated_class(name: str, value: dict) -> GeneratedClass:
    """The made class a ``classes.<name>`` mapping describes, with messages that name the key.

    Parameters
    ----------
    name : str
        The class's name, for the messages.
    value : dict
        The mapping as written (``from:`` and that kind's keys).

    Returns
    -------
    GeneratedClass
        A :class:`ShuffleClass`, :class:`GenomeClass` or :class:`FlanksClass`; a
        ``ValueError`` (read by pydantic as a config error) names what is wrong.
    """
    kind = value.get("from")
    if kind is None:
        raise ValueError(f"classes.{name} is a mapping without 'from': give a list of files, or from: "
                         f"{' | '.join(GENERATED_KINDS)}")
    if kind not in GENERATED_KINDS:
        raise ValueError(f"classes.{name}: from: {kind!r} is not a kind of class{suggest(kind, list(GENERATED_KINDS))}; "
                         f"kinds: {', '.join(GENERATED_KINDS)}")
    model = GENERATED_KINDS[kind]
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        valid = sorted(["from", *(k for k in model.model_fields if k != "from_")])
        lines = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"])
            if err["type"] == "extra_forbidden":
                lines.append(f"classes.{name}: unknown key {key!r}{suggest(key, valid)}; keys of from: {kind}: "
                             f"{', '.join(valid)}")
            elif err["type"] == "missing":
                lines.append(f"classes.{name}.{key}: required but not given")
            else:
                lines.append(f"classes.{name}.{key}: {err['msg'].removeprefix('Value error, ')}".replace(".: ", ": "))
        raise ValueError("; ".join(lines)) from None


def made_classes(classes: Any) -> dict[str, str]:
    """The classes of a ``preprocess.classes`` mapping that lociflow made, and what each is made of.

    Parameters
    ----------
    classes : mapping
        ``preprocess.classes`` as a run recorded it (a model's ``spec.yaml`` keeps a copy):
        class name -> files, or a ``{from: ...}`` mapping for a made class. Anything else
        (None, an older record) gives no made classes.

    Returns
    -------
    dict of str to str
        Made class name -> its description (``"dinucleotide-preserving shuffles of bound"``);
        classes read from files are left out.
    """
    made = {}
    for name, value in (classes or {}).items() if isinstance(classes, dict) else ():
        if isinstance(value, dict) and value.get("from") in GENERATED_KINDS:
            try:
                made[str(name)] = generated_class(str(name), value).describe()
            except ValueError:  # a record this version cannot read: not known to be made
                continue
    return made


def label_keys(value: Any) -> Any:
    """Labels are read as text, so ``names: {1: bound}`` (YAML numbers as keys) means the label ``"1"``.

    Parameters
    ----------
    value : object
        The ``names`` mapping as written (anything else is passed on unchanged).

    Returns
    -------
    object
        The mapping with text keys (``true``/``false`` as ``"true"``/``"false"``).
    """
    if isinstance(value, dict):
        return {(str(k).lower() if isinstance(k, bool) else str(k)): v for k, v in value.items()}
    return value


class TableSource(Section):
    """A table with a sequence and a label per row (CSV or TSV, gzip allowed)."""

    file: Path = Field(description="The table (.csv, .tsv, .seq or .txt; gzip allowed).")
    sequence: str | int = Field(default="sequence", description="Column of the sequences: a name, or a number from 1.")
    label: str | int = Field(default="label", description="Column of the labels: a name, or a number from 1.")
    id: str | int | None = Field(default=None, description="Column of the row names (default: file:line).")
    sep: Literal["auto", "comma", "tab", "space"] = Field(
        default="auto", description="Column separator (auto: tab if the first line has one, else comma).")
    header: bool = Field(default=True, description="The first line names the columns.")
    names: dict[str, str] = Field(
        default_factory=dict, description="Label value -> class name (default: the labels are the class names).")
    on_bad_row: Literal["error", "drop"] = Field(
        default="error", description="A row with a missing or unknown label or invalid letters: error, or drop and count.")

    _names = field_validator("names", mode="before")(label_keys)


class LabelledSource(Section):
    """FASTA files whose headers carry each record's class (e.g. RBP-31's ``class:1``)."""

    files: list[Path] = Field(description="FASTA files (gzip allowed).")
    pattern: str = Field(default=r"class:(\S+)", description="Regular expression whose first group is the label.")
    names: dict[str, str] = Field(
        default_factory=dict, description="Label value -> class name (default: the labels are the class names).")
    on_bad_row: Literal["error", "drop"] = Field(
        default="error", description="A record with a missing or unknown label or invalid letters: error, or drop and count.")

    _names = field_validator("names", mode="before")(label_keys)

    @model_validator(mode="after")
    def _check(self):

        try:
            compiled = re.compile(self.pattern)
        except re.error as exc:
            raise ValueError(f"pattern {self.pattern!r} is not a regular expression ({exc})") from None
        if compiled.groups < 1:
            raise ValueError(f"pattern {self.pattern!r} needs a group (parentheses) around the label, e.g. class:(\\S+)")
        if not self.files:
            raise ValueError("files is empty: give at least one FASTA file")
        return self
