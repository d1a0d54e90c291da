"""The seed map (content/seed_map.yaml): each paragraph of the seed article, mapped to the facts
that carry its claims or to the reason it carries none.

A paragraph is a non-empty line of the seed file, numbered from 1 in reading order. The check
is a pure function of the files it reads; it returns the problems as ``ContentError`` values.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.content.loader import ContentError

SEED_MAP_FILE = "seed_map.yaml"
_ELLIPSIS = re.compile(r"\s*(?:\.\.\.|…)\s*$")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Paragraph:
    number: int  # 1-based, counting non-empty lines only
    line: int  # 1-based line of the seed file
    text: str


def paragraphs(seed_text: str) -> list[Paragraph]:
    """The seed's paragraphs: its non-empty lines, in order."""
    found: list[Paragraph] = []
    for line, text in enumerate(seed_text.splitlines(), 1):
        if text.strip():
            found.append(Paragraph(len(found) + 1, line, text.strip()))
    return found


def seed_path(map_path: Path, root: Path) -> Path | None:
    """The seed file the map names (relative paths are from ``root``, the repository), or None
    when the map cannot be read or names none."""
    try:
        document = yaml.safe_load(map_path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return None
    seed = document.get("seed") if isinstance(document, dict) else None
    if not isinstance(seed, str) or not seed.strip():
        return None
    path = Path(seed.strip())
    return (path if path.is_absolute() else root / path).resolve()


def check_seed_map(map_path: Path, facts_path: Path, root: Path) -> list[ContentError]:
    """Every problem with the seed map: unreadable map, a seed paragraph it does not map (or a
    quote that does not match its paragraph), an entry with neither facts nor a reason, a fact
    id that facts.yaml does not define. When the seed file is absent, only the map itself and
    its fact ids are checked (see ``seed_path``)."""
    error = _Errors(map_path)
    entries = _entries(map_path, error)
    if entries is None:
        return error.found
    fact_ids = _fact_ids(facts_path)
    if fact_ids is None:
        error(1, f"cannot read fact ids from {facts_path}: fact ids not checked")
    mapped: dict[int, tuple[int, str]] = {}  # paragraph number -> (map line, starts)
    for entry in entries.value:
        if not isinstance(entry, yaml.MappingNode):
            error(_line(entry), "every paragraph entry must be a mapping")
            continue
        _check_entry(entry, fact_ids, mapped, error)
    _check_against_seed(map_path, root, mapped, error)
    return error.found


def _entries(map_path: Path, error: _Errors) -> yaml.SequenceNode | None:
    """The map's 'paragraphs' list, or None when the map cannot be read that far."""
    root_node = _compose(map_path, error)
    if root_node is None:
        return None
    if not isinstance(root_node, yaml.MappingNode):
        error(_line(root_node), "the seed map must be a mapping with 'seed' and 'paragraphs'")
        return None
    top = _mapping(root_node)
    if not _is_text(top.get("seed")):
        error(_line(root_node), "missing 'seed': the seed article's path from the repository")
    entries = top.get("paragraphs")
    if not isinstance(entries, yaml.SequenceNode):
        error(_line(entries or root_node), "'paragraphs' must be a list")
        return None
    return entries


def _check_against_seed(
    map_path: Path, root: Path, mapped: dict[int, tuple[int, str]], error: _Errors
) -> None:
    """Compare the mapped paragraphs with the seed article, when it is there."""
    path = seed_path(map_path, root)
    if path is None or not path.is_file():
        return  # skipped: the caller says so (the map and its fact ids were checked)
    try:
        seed_text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        error(1, f"cannot read the seed article: {exc}", path)
        return
    _compare(paragraphs(seed_text), mapped, path, error)


def _check_entry(
    entry: yaml.MappingNode,
    fact_ids: set[str] | None,
    mapped: dict[int, tuple[int, str]],
    error: _Errors,
) -> None:
    fields = _mapping(entry)
    line = _line(entry)
    _record_paragraph(fields, line, mapped, error)
    for item in _entry_fact_nodes(fields, line, error):
        if not isinstance(item, yaml.ScalarNode) or not item.value.strip():
            error(_line(item), "a fact id must be a non-empty string")
        elif fact_ids is not None and item.value not in fact_ids:
            error(_line(item), f"unknown fact {item.value!r} (not in facts.yaml)")


def _record_paragraph(
    fields: dict[str, yaml.Node],
    line: int,
    mapped: dict[int, tuple[int, str]],
    error: _Errors,
) -> None:
    """'n' and 'starts': the paragraph an entry maps, recorded in ``mapped`` the first time."""
    number = _integer(fields.get("n"))
    if number is None or number < 1:
        error(line, "'n' must be a paragraph number (1, 2, ...)")
    elif number in mapped:
        error(line, f"paragraph {number} is mapped twice (also at line {mapped[number][0]})")
    starts = fields.get("starts")
    if not _is_text(starts):
        error(line, "missing 'starts': a short quote of how the paragraph begins")
    if number is not None and number >= 1 and number not in mapped:
        mapped[number] = (_line(starts) if starts else line, _scalar(starts))


def _entry_fact_nodes(fields: dict[str, yaml.Node], line: int, error: _Errors) -> list[Any]:
    """'facts' and 'left_out': the entry's fact id nodes; an entry needs one or the other."""
    facts = fields.get("facts")
    left_out = fields.get("left_out")
    if facts is not None and not isinstance(facts, yaml.SequenceNode):
        error(_line(facts), "'facts' must be a list of fact ids")
        facts = None
    if left_out is not None and not _is_text(left_out):
        error(_line(left_out), "'left_out' must be a one-line reason")
        left_out = None
    ids: list[Any] = facts.value if facts is not None else []
    if not ids and left_out is None:
        n = fields.get("n")
        error(line, f"paragraph {n.value if n else '?'} has neither 'facts' nor 'left_out'")
    return ids


def _compare(
    seed: list[Paragraph], mapped: dict[int, tuple[int, str]], path: Path, error: _Errors
) -> None:
    for paragraph in seed:
        entry = mapped.get(paragraph.number)
        if entry is None:
            error(
                paragraph.line,
                f"paragraph {paragraph.number} is not in {SEED_MAP_FILE} "
                f"(it starts {_quote(paragraph.text)})",
                path,
            )
            continue
        line, starts = entry
        quote = _normal(_ELLIPSIS.sub("", starts))
        if quote and not _normal(paragraph.text).startswith(quote):
            error(
                line,
                f"paragraph {paragraph.number}: 'starts' {_quote(starts)} does not match the "
                f"seed, whose paragraph {paragraph.number} starts {_quote(paragraph.text)}",
            )
    for number in sorted(set(mapped) - {p.number for p in seed}):
        error(
            mapped[number][0],
            f"paragraph {number} does not exist: the seed has {len(seed)} paragraphs",
        )


# ---- YAML with line numbers ------------------------------------------------------------------


@dataclass
class _Errors:
    """Collects errors; they point at the seed map unless another file is named."""

    default: Path
    found: list[ContentError] = field(default_factory=list)

    def __call__(self, line: int, message: str, path: Path | None = None) -> None:
        self.found.append(ContentError(path or self.default, line, message))


def _compose(path: Path, error: _Errors) -> yaml.Node | None:
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except FileNotFoundError:
        error(1, "file is missing")
        return None
    except yaml.MarkedYAMLError as exc:
        error(exc.problem_mark.line + 1 if exc.problem_mark else 1, f"invalid YAML: {exc.problem}")
        return None
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        error(1, f"unreadable: {exc}")
        return None
    if node is None:
        error(1, "the seed map is empty")
    return node


def _mapping(node: yaml.MappingNode) -> dict[str, yaml.Node]:
    return {str(key.value): value for key, value in node.value}


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _is_text(node: yaml.Node | None) -> bool:
    return (
        isinstance(node, yaml.ScalarNode)
        and node.tag == "tag:yaml.org,2002:str"
        and bool(str(node.value).strip())
    )


def _scalar(node: yaml.Node | None) -> str:
    return str(node.value) if isinstance(node, yaml.ScalarNode) else ""


def _integer(node: yaml.Node | None) -> int | None:
    if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:int":
        try:
            return int(node.value)
        except ValueError:
            return None
    return None


def _fact_ids(facts_path: Path) -> set[str] | None:
    try:
        document = yaml.safe_load(facts_path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return None
    items = document.get("facts") if isinstance(document, dict) else None
    if not isinstance(items, list):
        return None
    return {str(item["id"]) for item in items if isinstance(item, dict) and "id" in item}


def _normal(text: str) -> str:
    """Compared loosely: Unicode form, apostrophes and runs of spaces do not matter."""
    text = unicodedata.normalize("NFC", text).replace("’", "'").replace("‘", "'")
    return _SPACES.sub(" ", text).strip()


def _quote(text: str, width: int = 50) -> str:
    """The opening words of ``text``, cut at a word boundary."""
    text = _normal(text)
    if len(text) <= width:
        return f"“{text}”"
    return f"“{text[:width].rsplit(' ', 1)[0]}…”"
