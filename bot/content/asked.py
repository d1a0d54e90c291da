"""Reader questions per fact (content/asked.yaml): how readers ask, in each language, for what
a fact says. Retrieval indexes them with the fact (document expansion, as doc2query does), so a
question worded unlike the fact's own text still reaches it.

They are retrieval aids, like the lexicon, never shown to a reader and never a source: an
answer still quotes only the fact. A fact without questions is indexed on its text alone (the
newsroom's approved facts start that way).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from bot.content.loader import ContentError, ContentInvalid, _Checker, _Node, _read
from bot.core.domain import Lang
from bot.core.text import fold, words

ASKED_FILE = "asked.yaml"
_LANGS: tuple[Lang, ...] = ("en", "fr")


@dataclass(frozen=True)
class ReaderQuestions:
    """One fact's reader questions, per language."""

    en: tuple[str, ...]
    fr: tuple[str, ...]

    def get(self, lang: Lang) -> tuple[str, ...]:
        return self.fr if lang == "fr" else self.en


def load_asked(
    content_dir: Path, fact_ids: Collection[str] | None = None
) -> dict[str, ReaderQuestions]:
    """content/asked.yaml, validated (and, given ``fact_ids``, checked against them); an absent
    file is no questions at all. Raises ContentInvalid listing every problem."""
    path = content_dir / ASKED_FILE
    if not path.exists():
        return {}
    asked, errors = _parse(path, fact_ids)
    if errors:
        raise ContentInvalid(errors)
    return asked


def check_asked(content_dir: Path, fact_ids: Collection[str]) -> list[ContentError]:
    """Every problem with content/asked.yaml, for ``content check``."""
    path = content_dir / ASKED_FILE
    return _parse(path, fact_ids)[1] if path.exists() else []


def _parse(
    path: Path, fact_ids: Collection[str] | None
) -> tuple[dict[str, ReaderQuestions], list[ContentError]]:
    check = _Checker(path)
    document = _read(path, check)
    entries = document.get("asked") if isinstance(document, _Node) else None
    if not isinstance(entries, _Node):
        if not check.errors:
            check.error(getattr(document, "line", 1), "top-level key 'asked' must be a mapping")
        return {}, check.errors
    asked: dict[str, ReaderQuestions] = {}
    for fact_id, node in entries.items():
        line = node.line if isinstance(node, _Node) else entries.line
        if fact_ids is not None and fact_id not in fact_ids:
            check.error(line, f"unknown fact {fact_id!r} (not in facts.yaml)")
            continue
        if not isinstance(node, _Node) or set(node) != set(_LANGS):
            check.error(line, f"{fact_id}: give exactly 'en' and 'fr', each a list of questions")
            continue
        per_lang = {lang: _questions(node, lang, fact_id, check) for lang in _LANGS}
        asked[fact_id] = ReaderQuestions(en=per_lang["en"], fr=per_lang["fr"])
    return asked, check.errors


def _questions(node: _Node, lang: Lang, fact_id: str, check: _Checker) -> tuple[str, ...]:
    value = node[lang]
    if not isinstance(value, list) or not value:
        check.error(node.line, f"{fact_id}: '{lang}' must be a non-empty list of questions")
        return ()
    seen: set[tuple[str, ...]] = set()
    questions = []
    for question in value:
        if not isinstance(question, str) or not words(fold(question)):
            check.error(node.line, f"{fact_id}: every '{lang}' question must be a non-empty text")
            continue
        key = tuple(words(fold(question)))
        if key in seen:
            check.error(node.line, f"{fact_id}: duplicate '{lang}' question {question!r}")
            continue
        seen.add(key)
        questions.append(question.strip())
    return tuple(questions)
