"""Known motifs: the JASPAR database shipped with pyjaspar, or any MEME file, and Tomtom.

Filters, TF-MoDISco patterns and global importance analysis all need the same three
things: a motif database loaded offline, a way to name a motif (a JASPAR ID such as
``MA0035.5`` or a name such as ``GATA1``), and Tomtom (memelite) to say which known
motif a learned one resembles. Motifs are held as position probability matrices
``[L, 4]`` over A, C, G, T; RNA models read U where the database writes T, which is the
same column.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lociflow.configfile import suggest
from lociflow.errors import LociflowError

log = logging.getLogger("lociflow.interpret.motifdb")

__all__ = [
    "Motif",
    "MotifDatabase",
    "check_source",
    "load_jaspar",
    "load_meme",
    "load_motifs",
    "consensus",
    "ppm_from_consensus",
    "tomtom_matches",
    "write_meme",
]

DEFAULT_RELEASE = "JASPAR2024"
DEFAULT_COLLECTION = "CORE"
DEFAULT_TAXON = "vertebrates"
IUPAC = {
    "A": "A", "C": "C", "G": "G", "T": "T", "U": "T", "R": "AG", "Y": "CT", "S": "CG", "W": "AT",
    "K": "GT", "M": "AC", "B": "CGT", "D": "AGT", "H": "ACT", "V": "ACG", "N": "ACGT",
}


@dataclass(frozen=True)
class Motif:
    """A named motif as a position probability matrix ``ppm`` of shape ``[L, 4]`` (A, C, G, T)."""

    id: str
    name: str
    ppm: np.ndarray

    @property
    def length(self) -> int:
        return int(self.ppm.shape[0])

    @property
    def label(self) -> str:
        return f"{self.id} {self.name}".strip() if self.name and self.name != self.id else self.id


class MotifDatabase:
    """An ordered collection of :class:`Motif` with look-up by ID or name.

    Why: users name motifs the way JASPAR prints them (``MA0035.5``, ``MA0035`` for the
    latest version, or ``GATA1``); a typo should suggest the nearest name rather than fail
    silently.
    """

    def __init__(self, motifs: list[Motif], source: str):
        self.motifs = list(motifs)
        self.source = source

    def __len__(self) -> int:
        return len(self.motifs)

    def __iter__(self):
        return iter(self.motifs)

    def get(self, query: str) -> Motif:
        """The motif whose ID (with or without version) or name matches ``query``.

        Matching ignores case and surrounding spaces: an exact ID first, then an ID
        without version (the highest version wins), then a name (the first one wins).

        Parameters
        ----------
        query : str
            A motif ID (``MA0035.5``), an ID without version (``MA0035``) or a name (``GATA1``).

        Returns
        -------
        Motif
            The matching motif.

        Raises
        ------
        LociflowError
            When nothing matches; the message suggests close IDs or names.
        """
        key = query.strip()
        lower = key.lower()
        for motif in self.motifs:
            if motif.id.lower() == lower:
                return motif
        base = [m for m in self.motifs if m.id.split(".")[0].lower() == lower]
        if base:
            return max(base, key=lambda m: _version(m.id))
        named = [m for m in self.motifs if m.name.lower() == lower]
        if named:
            return named[0]
        choices = [m.id for m in self.motifs] + [m.name for m in self.motifs]
        raise LociflowError(f"No motif {key!r}{suggest(key, choices, cutoff=0.6, n=3)} in {self.source}.")


def _version(motif_id: str) -> int:
    tail = motif_id.rsplit(".", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def load_jaspar(
    release: str = DEFAULT_RELEASE,
    collection: str = DEFAULT_COLLECTION,
    taxon: str | list[str] | None = DEFAULT_TAXON,
) -> MotifDatabase:
    """Load the latest version of each JASPAR motif from the database pyjaspar ships (offline).

    Parameters
    ----------
    release : str
        JASPAR release, e.g. ``"JASPAR2024"``. Default is ``"JASPAR2024"``.
    collection : str
        JASPAR collection (``"CORE"`` or ``"UNVALIDATED"``). Default is ``"CORE"``.
    taxon : str, list of str or None
        Taxonomic group(s) such as ``"vertebrates"``, ``"insects"``, ``"plants"``; ``None``
        or ``"all"`` keeps every group. Default is ``"vertebrates"``.

    Returns
    -------
    MotifDatabase
    """
    from pyjaspar import jaspardb

    check_source(None, release)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        db = jaspardb(release=release)
    taxa = None if taxon in (None, "all", ["all"]) else ([taxon] if isinstance(taxon, str) else list(taxon))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        records = db.fetch_motifs(collection=collection.upper(), tax_group=taxa)
    motifs = []
    for record in records:
        counts = np.array([record.counts[b] for b in "ACGT"], dtype=np.float64).T
        motifs.append(Motif(record.matrix_id, str(record.name), _normalise(counts)))
    source = f"{release} {collection.upper()} {'all taxa' if taxa is None else '/'.join(taxa)}"
    if not motifs:
        raise LociflowError(
            f"{source} holds no motifs; check the collection (CORE, UNVALIDATED) and the taxon "
            "(vertebrates, insects, plants, fungi, nematodes, urochordates or all)."
        )
    log.debug("loaded %d motifs from %s", len(motifs), source)
    return MotifDatabase(motifs, source)


def check_source(database: str | os.PathLike | None, release: str = DEFAULT_RELEASE) -> None:
    """Refuse a missing MEME file or a JASPAR release pyjaspar does not ship, before any work starts.

    Parameters
    ----------
    database : str or os.PathLike or None
        A MEME file, ``"jaspar"``, a release name such as ``"JASPAR2024"``, or None (JASPAR).
    release : str
        The JASPAR release checked when ``database`` is None or ``"jaspar"``.
        Default is ``"JASPAR2024"``.

    Raises
    ------
    LociflowError
        When the MEME file does not exist, or pyjaspar does not ship the release.
    """
    if database is not None and str(database).lower() != "jaspar" and not re.fullmatch(r"JASPAR\d{4}", str(database)):
        if not Path(database).is_file():
            raise LociflowError(f"Motif file {database} does not exist.")
        return
    import pyjaspar

    release = str(database) if database is not None and str(database).startswith("JASPAR") else release
    shipped = sorted(p.stem for p in (Path(pyjaspar.__file__).parent / "data").glob("JASPAR*.sqlite"))
    if release not in shipped:
        raise LociflowError(
            f"JASPAR release {release!r} is not available offline{suggest(release, shipped, cutoff=0.6)}; "
            f"pyjaspar ships {', '.join(shipped)}."
        )


def load_meme(path: str | os.PathLike) -> MotifDatabase:
    """Load every motif of a MEME-format file (the first word of a MOTIF line is its ID).

    Parameters
    ----------
    path : str or os.PathLike
        The MEME file; the rest of a MOTIF line (if any) becomes the motif's name.

    Returns
    -------
    MotifDatabase
        The motifs in file order, rows normalised to probabilities.

    Raises
    ------
    LociflowError
        When the file is missing, unreadable, holds no motifs or a motif without 4 letters.
    """
    from memelite.io import read_meme

    path = Path(path)
    if not path.is_file():
        raise LociflowError(f"Motif file {path} does not exist.")
    try:
        raw = read_meme(str(path))
    except Exception as exc:
        raise LociflowError(f"{path} is not a readable MEME motif file ({exc}).") from None
    motifs = []
    for key, pwm in raw.items():
        parts = key.split()
        matrix = np.asarray(pwm, dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape[0] != 4:
            raise LociflowError(f"{path}: motif {key!r} does not have 4 letters per position.")
        motifs.append(Motif(parts[0], " ".join(parts[1:]) or parts[0], _normalise(matrix.T)))
    if not motifs:
        raise LociflowError(f"{path} holds no motifs (no 'MOTIF' lines with letter-probability matrices).")
    return MotifDatabase(motifs, str(path))


def load_motifs(
    database: str | os.PathLike | None = None,
    release: str = DEFAULT_RELEASE,
    collection: str = DEFAULT_COLLECTION,
    taxon: str | list[str] | None = DEFAULT_TAXON,
) -> MotifDatabase:
    """A MEME file when ``database`` names one, otherwise JASPAR (release, collection, taxon).

    Parameters
    ----------
    database : str or os.PathLike or None
        A MEME file, ``"jaspar"``, or a release name such as ``"JASPAR2022"`` (which
        overrides ``release``). Default is None (JASPAR).
    release, collection, taxon
        As in :func:`load_jaspar`. Defaults are ``"JASPAR2024"``, ``"CORE"`` and
        ``"vertebrates"``.

    Returns
    -------
    MotifDatabase
        The loaded motifs.
    """
    if database is None or str(database).lower() == "jaspar":
        return load_jaspar(release, collection, taxon)
    if re.fullmatch(r"JASPAR\d{4}", str(database)):
        return load_jaspar(str(database), collection, taxon)
    return load_meme(database)


def _normalise(counts: np.ndarray) -> np.ndarray:
    counts = np.clip(np.asarray(counts, dtype=np.float64), 0, None)
    total = counts.sum(axis=1, keepdims=True)
    return np.where(total > 0, counts / np.where(total > 0, total, 1), 0.25)


def consensus(ppm: np.ndarray, alphabet: str = "ACGT") -> str:
    """The most probable letter at each position of a ``[L, 4]`` matrix.

    Parameters
    ----------
    ppm : numpy.ndarray
        ``[L, 4]`` probabilities (or any scores) per position.
    alphabet : str
        The letters of the four columns. Default is ``"ACGT"``.

    Returns
    -------
    str
        ``L`` letters; ties go to the first column.
    """
    return "".join(alphabet[i] for i in np.asarray(ppm).argmax(axis=1))


def ppm_from_consensus(sequence: str) -> np.ndarray:
    """A ``[L, 4]`` matrix from a consensus string (IUPAC codes share their probability).

    Parameters
    ----------
    sequence : str
        Nucleotides or IUPAC codes, any case; U reads as T.

    Returns
    -------
    numpy.ndarray
        ``[L, 4]`` probabilities over A, C, G, T; ``N`` gives 0.25 each.

    Raises
    ------
    LociflowError
        When the string is empty or holds a letter that is not an IUPAC code.
    """
    rows = []
    for letter in sequence.upper():
        if letter not in IUPAC:
            raise LociflowError(
                f"Motif {sequence!r} holds {letter!r}, which is not a nucleotide or IUPAC code."
            )
        row = np.zeros(4)
        for base in IUPAC[letter]:
            row["ACGT".index(base)] = 1.0 / len(IUPAC[letter])
        rows.append(row)
    if not rows:
        raise LociflowError("An empty motif was given.")
    return np.array(rows)


def tomtom_matches(
    queries: dict[str, np.ndarray],
    database: MotifDatabase,
    top: int = 3,
) -> pd.DataFrame:
    """Match each query matrix ``[L, 4]`` to the database with Tomtom; the ``top`` hits each.

    q-values are Benjamini-Hochberg over every target of the same query, as MEME's
    Tomtom reports them.

    Parameters
    ----------
    queries : dict of str to numpy.ndarray
        ``[L, 4]`` matrices by name; None or empty ones are skipped.
    database : MotifDatabase
        The known motifs to match against.
    top : int
        Hits kept per query. Default is 3.

    Returns
    -------
    pandas.DataFrame
        Columns ``query, rank, jaspar_id, name, p_value, q_value, offset, strand``, best first.
    """
    from memelite import tomtom

    columns = ["query", "rank", "jaspar_id", "name", "p_value", "q_value", "offset", "strand"]
    names = [k for k, v in queries.items() if v is not None and len(v) > 0]
    if not names or len(database) == 0:
        return pd.DataFrame(columns=columns)
    query_mats = [np.ascontiguousarray(_normalise(queries[k]).T) for k in names]
    targets = [np.ascontiguousarray(m.ppm.T) for m in database]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p, _scores, offsets, _overlaps, strands = tomtom(query_mats, targets, n_jobs=1)
    p = np.asarray(p, dtype=np.float64)
    rows = []
    for i, name in enumerate(names):
        q = _bh(p[i])
        for rank, j in enumerate(np.argsort(p[i], kind="stable")[:top], start=1):
            motif = database.motifs[j]
            rows.append([name, rank, motif.id, motif.name, float(p[i, j]), float(q[j]),
                         int(offsets[i, j]), "-" if strands[i, j] else "+"])
    return pd.DataFrame(rows, columns=columns)


def _bh(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values."""
    n = len(p)
    order = np.argsort(p)
    ranked = p[order] * n / np.arange(1, n + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    q = np.empty(n)
    q[order] = np.minimum(ranked, 1.0)
    return q


def write_meme(motifs: dict[str, np.ndarray], path: str | os.PathLike) -> None:
    """Write ``[L, 4]`` matrices as a MEME file (ID = key) that MEME-suite tools read.

    Parameters
    ----------
    motifs : dict of str to numpy.ndarray
        ``[L, 4]`` matrices by ID; rows are normalised to probabilities.
    path : str or os.PathLike
        The file, written atomically (uniform background, both strands).
    """
    from lociflow.io.atomic import write_text

    lines = ["MEME version 4", "", "ALPHABET= ACGT", "", "strands: + -", "",
             "Background letter frequencies", "A 0.25 C 0.25 G 0.25 T 0.25", ""]
    for name, ppm in motifs.items():
        ppm = _normalise(ppm)
        lines += [f"MOTIF {name}", f"letter-probability matrix: alength= 4 w= {len(ppm)} nsites= 20 E= 0", ""]
        lines[-1:] = [" ".join(f"{v:.6f}" for v in row) for row in ppm] + [""]
    write_text(path, "\n".join(lines))
