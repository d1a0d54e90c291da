"""The curated retrieval lexicon (content/lexicon.yaml): concepts, entities, stopwords, cues;
and the reader questions per fact (content/asked.yaml)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.content.asked import ReaderQuestions, load_asked
from bot.content.loader import ContentError, ContentInvalid
from bot.core.text import fold

LEXICON_FILE = "lexicon.yaml"
CUE_KINDS = (
    "quantity",
    "money",
    "share",
    "time",
    "why",
    "event",
    "injection",
    "question",
    "source",
    "who",
    "total",
    "said",
)


@dataclass(frozen=True)
class Payment:
    """Words that say who paid whom in a question: paying words ("invested", "a mis"), then
    the words before a payee ("in", "dans") and before a payer not named first ("by", "de")."""

    pays: tuple[str, ...]
    to: tuple[str, ...]
    by: tuple[str, ...]


@dataclass(frozen=True)
class Holding:
    """Words that make a question about one company's share *in* another a stake question
    ("la part de msft ds oai", "microsoft's % in openai"): share words, then the words right
    before the company held."""

    shares: tuple[str, ...]
    within: tuple[str, ...]


@dataclass(frozen=True)
class Lexicon:
    concepts: dict[str, tuple[str, ...]]
    entity_aliases: dict[str, tuple[str, ...]]
    foreign_entities: tuple[str, ...]
    stopwords: frozenset[str]
    cues: dict[str, tuple[str, ...]]
    # Subjects beside ours that questions about our companies drift into (share prices,
    # earnings, headcount, the weather): a question about one is out of scope, as one about
    # a foreign company is, unless a fact covers it.
    foreign_topics: tuple[str, ...] = ()
    # Reader questions per fact id (content/asked.yaml), indexed with their fact.
    asked: dict[str, ReaderQuestions] = field(default_factory=dict)
    # Foreign companies that are also clouds OpenAI may now use: named beside another cloud
    # word ("can openai sell on google cloud?"), they ask about the partnership's terms.
    rival_clouds: tuple[str, ...] = ()
    # Product -> its maker, both folded entity names: a fact naming the maker answers for
    # the product ("can openai leave azure?" is answered by what Microsoft agreed to).
    products: dict[str, str] = field(default_factory=dict)
    payment: Payment = field(default_factory=lambda: Payment((), (), ()))
    # A company's own takings, and the words that make them a shared amount instead.
    takings: tuple[str, ...] = ()
    takings_shared: tuple[str, ...] = ()
    holding: Holding = field(default_factory=lambda: Holding((), ()))
    # Phrases in which a company's name is a common word ("openai's for-profit arm" is no
    # Arm): its words there name no company.
    not_names: tuple[str, ...] = ()


def _terms(value: Any, where: str, errors: list[str]) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        errors.append(f"{where} must be a list of non-empty strings")
        return ()
    return tuple(fold(v) for v in value)


def _term_lists(
    data: dict[str, Any], key: str, names: tuple[str, ...], errors: list[str]
) -> tuple[tuple[str, ...], ...]:
    """The term lists ``names`` of the mapping ``key`` (each empty when missing)."""
    raw = data.get(key) or {}
    if not isinstance(raw, dict):
        errors.append(f"'{key}' must be a mapping of {', '.join(names[:-1])} and {names[-1]}")
        raw = {}
    return tuple(_terms(raw.get(name, []), f"'{key}.{name}'", errors) for name in names)


def load_lexicon(content_dir: Path) -> Lexicon:
    path = content_dir / LEXICON_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ContentInvalid([ContentError(path, 1, f"cannot read lexicon: {exc}")]) from None
    errors: list[str] = []
    if not isinstance(data, dict):
        data = {}
        errors.append("the lexicon must be a mapping")
    concepts_raw = data.get("concepts") or {}
    aliases_raw = data.get("entity_aliases") or {}
    cues_raw = data.get("cues") or {}
    for name, value in (
        ("concepts", concepts_raw),
        ("entity_aliases", aliases_raw),
        ("cues", cues_raw),
    ):
        if not isinstance(value, dict):
            errors.append(f"'{name}' must be a mapping")
    concepts = {str(k): _terms(v, f"concept {k!r}", errors) for k, v in dict(concepts_raw).items()}
    aliases = {str(k): _terms(v, f"entity {k!r}", errors) for k, v in dict(aliases_raw).items()}
    cues = {str(k): _terms(v, f"cue {k!r}", errors) for k, v in dict(cues_raw).items()}
    if set(cues) != set(CUE_KINDS):
        errors.append(f"'cues' must define exactly {', '.join(CUE_KINDS)}")
    foreign = _terms(data.get("foreign_entities"), "'foreign_entities'", errors)
    stopwords = _terms(data.get("stopwords"), "'stopwords'", errors)
    topics = _terms(data.get("foreign_topics", []), "'foreign_topics'", errors)
    rivals = _terms(data.get("rival_clouds", []), "'rival_clouds'", errors)
    if not set(rivals) <= set(foreign):
        errors.append("'rival_clouds' must all be foreign_entities")
    products_raw = data.get("products") or {}
    if not isinstance(products_raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and k.strip() and v.strip()
        for k, v in products_raw.items()
    ):
        errors.append("'products' must map product names to their makers' names")
        products_raw = {}
    products = {fold(k): fold(v) for k, v in products_raw.items()}
    payment = Payment(*_term_lists(data, "payment", ("pays", "to", "by"), errors))
    takings, shared = _term_lists(data, "takings", ("words", "shared"), errors)
    holding = Holding(*_term_lists(data, "holding", ("shares", "within"), errors))
    not_names = _terms(data.get("not_names", []), "'not_names'", errors)
    if errors:
        raise ContentInvalid([ContentError(path, 1, message) for message in errors])
    return Lexicon(
        concepts,
        aliases,
        foreign,
        frozenset(stopwords),
        cues,
        topics,
        load_asked(content_dir),
        rivals,
        products,
        payment,
        takings,
        shared,
        holding,
        not_names,
    )
