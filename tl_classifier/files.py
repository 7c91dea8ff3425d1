"""File helpers: telling a real file from a look-alike, and writing without losing anything."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tl_classifier.errors import OutputExistsError, TLClassifierError

# What real broken "model" files found in capstone repositories start with.
_IMPOSTORS = (
    (b"version https://git-lfs", "is a Git-LFS pointer, not the file itself (run `git lfs pull` where it came from)"),
    (b"<!doctype html", "is an HTML page (a web page saved under the file's name), not the file itself"),
    (b"<html", "is an HTML page (a web page saved under the file's name), not the file itself"),
    (b"{\\rtf", "is an RTF document (saved by a word processor), not plain text"),
    (b"\x89png", "is a PNG image"),
    (b"\xff\xd8\xff", "is a JPEG image"),
    (b"pk\x03\x04", "is a ZIP archive; unpack it first"),
    (b"\x1f\x8b", "is a gzip archive; unpack it first"),
)


def sniff_impostor(path: str | os.PathLike[str]) -> str | None:
    """Return why ``path`` is not what its name says, judging by its first bytes.

    Returns ``None`` when the start of the file looks like none of the known
    impostors (a Git-LFS pointer, an HTML page, an RTF document, an image, an
    archive).  Only the first kilobyte is read.

    :raises TLClassifierError: if the file cannot be read.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(1024)
    except OSError as err:
        raise TLClassifierError(f"cannot read: {err.strerror}", path) from err
    start = head.lstrip().lower()
    for magic, why in _IMPOSTORS:
        if start.startswith(magic):
            return why
    return None


def require_file(path: str | os.PathLike[str], error: type[TLClassifierError], what: str) -> Path:
    """Return ``path`` as a :class:`Path` if it is a non-empty, genuine-looking file.

    :param error: the :class:`TLClassifierError` subclass to raise.
    :param what: what the file should be, for the message ("frozen graph").
    :raises TLClassifierError: (as ``error``) if it is missing, a folder,
        empty, or an impostor (see :func:`sniff_impostor`).
    """
    p = Path(path)
    if not p.exists():
        raise error(f"no such file (expected a {what})", p)
    if p.is_dir():
        raise error(f"is a folder, expected a {what}", p)
    if p.stat().st_size == 0:
        raise error(f"is empty, expected a {what}", p)
    why = sniff_impostor(p)
    if why:
        raise error(f"{why}; expected a {what}", p)
    return p


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` on success.

    A failed block (any exception) removes the temporary file or folder, so an
    interrupted run never leaves a partial output under the final name.

    :param overwrite: replace an existing output; without it an existing
        ``path`` raises before anything is written.
    :raises OutputExistsError: if ``path`` exists and ``overwrite`` is false.
    """
    final = Path(path)
    if final.exists() and not overwrite:
        raise OutputExistsError("exists already (pass --overwrite to replace it)", final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".part", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()
    try:
        yield tmp
        if final.is_dir() and not final.is_symlink() and overwrite:
            _remove(final)
        os.replace(tmp, final)
    except BaseException:
        _remove(tmp)
        raise


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        import shutil

        shutil.rmtree(p, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
