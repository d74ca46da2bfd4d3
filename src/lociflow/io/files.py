"""Opening input files whatever their compression, and where derived files are cached.

Genomes are decompressed and indexed, and wig/bedGraph tracks converted to bigWig, once;
the results live in a cache folder keyed by the source file's identity (absolute path,
size and modification time), so a changed file is never served from a stale cache.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from lociflow.errors import ConfigError, InputFileError, LociflowError

GZIP_MAGIC = b"\x1f\x8b"


def require_file(path: str | os.PathLike, what: str = "Input file") -> Path:
    """Return ``path`` as a :class:`Path`, or raise :class:`InputFileError` if it is not a file.

    Parameters
    ----------
    path : str or os.PathLike
        The file (``~`` expanded).
    what : str
        What the file is, named in the message. Default is ``"Input file"``.

    Returns
    -------
    Path
        The path, ``~`` expanded.

    Raises
    ------
    InputFileError
        When ``path`` does not exist or is not a file.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise InputFileError(f"{what} {path} does not exist; check the path (relative paths are read from the config file's folder).")
    if not path.is_file():
        raise InputFileError(f"{what} {path} is not a file.")
    return path


@contextlib.contextmanager
def reading(path: str | os.PathLike, what: str = "File", error: type[LociflowError] = InputFileError) -> Iterator[None]:
    """Turn every way reading ``path`` can fail into ``error`` with a message naming the file.

    A download cut short ends a gzip stream early (``EOFError``), a damaged one fails its
    checksum (``BadGzipFile``, ``zlib.error``), a file in another encoding fails to
    decode, and a file can vanish or be unreadable; each becomes one sentence that says
    what to do instead of a traceback. Errors lociflow raised itself pass through.

    Parameters
    ----------
    path : str or os.PathLike
        The file being read, named in the message.
    what : str
        What the file is ("BED file", "Genome FASTA", ...). Default is ``"File"``.
    error : type of LociflowError
        The :class:`~lociflow.errors.LociflowError` subclass raised. Default is
        :class:`~lociflow.errors.InputFileError`.

    Yields
    ------
    None
    """
    try:
        yield
    except LociflowError:
        raise
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise error(f"{what} {path} is damaged or cut short ({type(exc).__name__}: {exc}); a download or copy "
                    "probably stopped early: fetch the file again (gzip -t checks it).") from None
    except UnicodeDecodeError as exc:
        raise error(f"{what} {path} is not UTF-8 text (byte {exc.start}: {exc.reason}); is it a binary or "
                    "differently encoded file? Save it as UTF-8 text.") from None
    except MemoryError:
        raise error(f"{what} {path} does not fit in memory; is it the file you meant?") from None
    except OSError as exc:
        raise error(f"{what} {path} cannot be read ({exc.strerror or exc}).") from None


def is_gzip(path: str | os.PathLike) -> bool:
    """Whether ``path`` is gzip-compressed (plain gzip or bgzip), judged by its magic bytes.

    Parameters
    ----------
    path : str or os.PathLike
        The file.

    Returns
    -------
    bool
        True when it starts with the gzip magic bytes.
    """
    with open(path, "rb") as handle:
        return handle.read(2) == GZIP_MAGIC


def open_binary(path: str | os.PathLike) -> IO[bytes]:
    """Open ``path`` for reading bytes, decompressing gzip/bgzip transparently.

    Parameters
    ----------
    path : str or os.PathLike
        The file.

    Returns
    -------
    IO[bytes]
        An open binary handle (the caller closes it).
    """
    if is_gzip(path):
        return gzip.open(path, "rb")
    return open(path, "rb")


def open_text(path: str | os.PathLike) -> IO[str]:
    """Open ``path`` for reading text (UTF-8, a leading byte-order mark dropped, undecodable bytes replaced), gzip or not.

    Parameters
    ----------
    path : str or os.PathLike
        The file.

    Returns
    -------
    IO[str]
        An open text handle with universal newlines (the caller closes it).
    """
    return io.TextIOWrapper(open_binary(path), encoding="utf-8-sig", errors="replace", newline=None)


def strip_suffixes(path: str | os.PathLike) -> tuple[str, str]:
    """``("name", ".ext")`` of a file, looking through a trailing ``.gz``/``.bgz``.

    Parameters
    ----------
    path : str or os.PathLike
        The file name (only its last part is used).

    Returns
    -------
    tuple of (str, str)
        The lower-cased stem and extension (``""`` when there is none).
    """
    name = Path(path).name.lower()
    for comp in (".gz", ".bgz", ".bgzf"):
        if name.endswith(comp):
            name = name[: -len(comp)]
            break
    stem, dot, ext = name.rpartition(".")
    return (stem, f".{ext}") if dot else (name, "")


def cache_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The cache folder: ``explicit`` if given, else ``$LOCIFLOW_CACHE``, else ``~/.cache/lociflow``.

    Parameters
    ----------
    explicit : str or os.PathLike or None
        The folder a config names. Default is None.

    Returns
    -------
    Path
        The folder, created if needed.

    Raises
    ------
    ConfigError
        When the folder cannot be created, saying how to choose another.
    """
    if explicit is not None:
        root = Path(explicit).expanduser()
    elif os.environ.get("LOCIFLOW_CACHE"):
        root = Path(os.environ["LOCIFLOW_CACHE"]).expanduser()
    else:
        root = Path.home() / ".cache" / "lociflow"
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"The cache folder {root} cannot be created ({exc.strerror}); set `cache_dir` "
                          "in the config or the LOCIFLOW_CACHE environment variable to a writable folder.") from None
    return root


def file_key(path: str | os.PathLike, *extra: object) -> str:
    """A short key for a file's identity (absolute path, size, mtime) plus ``extra`` values.

    Parameters
    ----------
    path : str or os.PathLike
        The file (resolved, so links and relative paths give the same key).
    *extra : object
        More values the key depends on (e.g. conversion options).

    Returns
    -------
    str
        20 hexadecimal digits of a SHA-256.
    """
    path = Path(path).resolve()
    stat = path.stat()
    text = "\0".join([str(path), str(stat.st_size), str(stat.st_mtime_ns), *map(str, extra)])
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def writable_dir(folder: str | os.PathLike) -> bool:
    """Whether files can be created in ``folder`` (tried, not guessed from permission bits).

    Parameters
    ----------
    folder : str or os.PathLike
        The folder.

    Returns
    -------
    bool
        True when a probe file could be created (it is removed again).
    """
    try:
        fd, tmp = tempfile.mkstemp(prefix=".lociflow-probe-", dir=folder)
    except OSError:
        return False
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(tmp)
    return True


@contextlib.contextmanager
def building(target: Path) -> Iterator[Path]:
    """Build a cache folder under a temporary name and rename it into place on success.

    Two processes building the same entry at once both succeed; the second rename loses
    quietly and its copy is discarded, so readers only ever see complete entries.

    Parameters
    ----------
    target : Path
        The cache entry's final folder.

    Yields
    ------
    Path
        The temporary folder to fill; it is removed if the block fails.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it private; a cache may be shared
    try:
        yield tmp
        try:
            os.rename(tmp, target)
        except OSError:
            if not target.exists():
                raise
    finally:
        if tmp.exists():
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
