"""Archived results as users hold them, read into GetPersonTracking pages:

- one GetPersonTracking response, or AWS CLI output (one merged response);
- a JSON list of pages;
- a bare JSON list of `PersonDetection` objects (what `JSON.stringify(persons)` writes);
- JSON lines (or JSON documents one after another), one page or one detection each;
- several files of any of these, in the order given.

Pages keep their order; whether the set is complete (its last page has no NextToken) is
decided where they are merged (`client.load_archive`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

Page = dict[str, Any]


class ArchiveError(ValueError):
    """An archived results file that is not GetPersonTracking output."""


def is_detection(value: Any) -> bool:
    """A `PersonDetection` object: {"Timestamp", "Person"}."""
    return isinstance(value, dict) and "Timestamp" in value and "Person" in value


def is_page(value: Any) -> bool:
    return isinstance(value, dict) and ("Persons" in value or "JobStatus" in value)


def is_several(source: Any) -> bool:
    """True when `source` is a list of files (paths, bytes, uploads), not parsed JSON."""
    return isinstance(source, (list, tuple)) and bool(source) and all(
        isinstance(s, (bytes, bytearray, Path)) or hasattr(s, "read") or
        (isinstance(s, str) and not s.lstrip().startswith(("{", "["))) for s in source)


def read_pages(source: Any) -> list[Page]:
    """The pages held by `source`: a path, bytes/str of JSON text, a binary file object
    (an upload), already-parsed JSON (dict or list), or a list of several such files."""
    if is_several(source):
        pages: list[Page] = []
        for n, one in enumerate(source, 1):
            try:
                pages.extend(_pages_of(list(_documents(one))))
            except ArchiveError as exc:
                raise ArchiveError(f"File {n} ({_name(one)}): {exc}") from None
        return pages
    return _pages_of(list(_documents(source)))


def _name(source: Any) -> str:
    return str(getattr(source, "name", None) or (source if isinstance(source, Path) else "given as data"))


def _pages_of(documents: list[Any]) -> list[Page]:
    """Pages from a file's JSON documents; runs of bare detections become one page."""
    pages: list[Page] = []
    loose: list[dict[str, Any]] = []
    flat: list[Any] = []
    for doc in documents:
        if isinstance(doc, list):
            flat.extend(doc)
        else:
            flat.append(doc)
    if not flat:
        raise ArchiveError("The file holds an empty list: no GetPersonTracking pages or PersonDetection objects")
    for i, item in enumerate(flat, 1):
        if is_detection(item):
            loose.append(item)
            continue
        if loose:
            raise ArchiveError(f"Item {i} follows PersonDetection objects but is not one")
        if not isinstance(item, dict):
            raise ArchiveError(f"Item {i} is a {type(item).__name__}, not a GetPersonTracking response or a PersonDetection")
        if not is_page(item):
            raise ArchiveError(
                f"Item {i} is neither a GetPersonTracking response (it has no 'Persons' or 'JobStatus') "
                "nor a PersonDetection (no 'Timestamp' and 'Person')")
        persons = item.get("Persons") or []
        if not isinstance(persons, list):
            raise ArchiveError(f"Item {i}: 'Persons' must be a list")
        if not all(isinstance(p, dict) for p in persons):
            raise ArchiveError(f"Item {i}: every element of 'Persons' must be a PersonDetection object")
        pages.append(item)
    if loose:
        if pages:
            raise ArchiveError("The file mixes GetPersonTracking responses and bare PersonDetection objects")
        pages.append({"Persons": loose})
    return pages


def _documents(source: Any) -> Iterator[Any]:
    """The JSON documents of one source: one, or several one after another (JSON lines)."""
    if isinstance(source, (dict, list)):
        yield source
        return
    text = read_text(source, is_inline=_looks_like_json)
    decoder = json.JSONDecoder()
    pos, found = 0, False
    while True:
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        if pos >= len(text):
            break
        try:
            doc, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise ArchiveError(f"Not JSON (or JSON lines): {exc.msg} at line {exc.lineno} column {exc.colno}") from None
        pos, found = end, True
        yield doc
    if not found:
        raise ArchiveError("The file is empty")


def read_text(source: Any, *, is_inline: Callable[[str], bool], what: str = "results") -> str:
    """The text of `source`: a path (a str that `is_inline` does not take for the text
    itself), bytes, a str, or a file-like object such as an upload."""
    if isinstance(source, Path) or (isinstance(source, str) and not is_inline(source)):
        path = Path(source)
        if not path.is_file():
            raise ArchiveError(f"No such file: {path}")
        source = path.read_bytes()
    elif hasattr(source, "getvalue"):
        source = source.getvalue()
    elif hasattr(source, "read"):
        source = source.read()
    if isinstance(source, (bytes, bytearray)):
        try:
            return bytes(source).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ArchiveError(f"Not a text file: {exc}") from None
    if isinstance(source, str):
        return source
    raise ArchiveError(f"Cannot read {what} from a {type(source).__name__}")


def _looks_like_json(text: str) -> bool:
    return text.lstrip().startswith(("{", "["))


def describe_partial(pages: Sequence[Page]) -> str | None:
    """None when the pages are complete (the last has no NextToken), else what they are."""
    if not pages or not pages[-1].get("NextToken"):
        return None
    n = len(pages)
    return (f"{'page 1' if n == 1 else f'pages 1-{n}'} of a longer job: the last page still holds a NextToken, "
            "so later detections are missing (fetch the rest with that NextToken, or load all pages in order)")
