"""MR's two files as released: one snippet a line, UTF-8 or the original Windows-1252."""
from __future__ import annotations

from pathlib import Path

ENCODINGS = ("utf-8-sig", "cp1252")  # strict UTF-8 first (a BOM dropped), then the original release's


def decode(raw: bytes, path: Path, where: str) -> str:
    """The file's text: strict UTF-8 when it decodes as such, else Windows-1252 (per file)."""
    for encoding in ENCODINGS:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValueError(f"{path}: neither UTF-8 nor Windows-1252 text; the file is damaged. {where}")


def read_snippets(path: str | Path, where: str = "") -> list[str]:
    """Every line of ``path`` in file order, without its line ending and surrounding whitespace.

    Split on newlines only (not on the other characters ``str.splitlines`` breaks at), so a
    snippet is never cut in two; a file with no snippet at all is an error naming it."""
    path = Path(path)
    text = decode(path.read_bytes(), path, where)
    lines = text.split("\n")
    if lines and lines[-1].strip() == "":
        lines.pop()  # the newline that ends the last line
    snippets = [line.strip() for line in lines]
    if not any(snippets):
        raise ValueError(f"{path}: no snippets in it (empty file); expected one snippet a line "
                         f"(5,331 in the release). {where}".strip())
    return snippets
