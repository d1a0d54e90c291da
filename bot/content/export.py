"""Approved facts as content/ YAML: for review in git (``python -m bot content export``) and
for validation, which runs the very checks ``content check`` runs on facts.yaml."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import yaml

from bot.content.loader import ContentError, check_facts_text
from bot.core.domain import Figure, Library, Source
from bot.core.editorial import Approved


def _figure(f: Figure) -> dict[str, Any]:
    spec: dict[str, Any] = {"kind": f.kind}
    if f.kind == "money":
        spec |= {"amount": f.value, "currency": f.currency}
    elif f.kind == "date":
        spec["value"] = dt.date.fromisoformat(str(f.value))
    else:
        spec["value"] = f.value
    if f.as_of is not None:
        spec["as_of"] = f.as_of
    for key in ("paid_by", "paid_to"):
        if (party := getattr(f, key)) is not None:
            spec[key] = party
    return spec


def fact_entry(a: Approved) -> dict[str, Any]:
    """One facts.yaml entry; ``updates``, ``old_status`` and ``approved_at`` say where it came
    from (content check ignores keys it does not know)."""
    fact = a.fact
    entry: dict[str, Any] = {
        "id": fact.id,
        "topic": fact.topic,
        "status": fact.status.value,
        "source": fact.source_id,
        "also": list(fact.also),
        "first_seen": fact.first_seen,
        "updated": fact.updated,
        "entities": list(fact.entities),
        "text_fr": fact.text.fr,
        "text_en": fact.text.en,
    }
    if fact.figures:
        entry["figures"] = {f.name: _figure(f) for f in fact.figures}
    entry["approved_at"] = a.approved_at.isoformat()  # a string: facts.yaml has no instants
    if a.updates:
        entry["updates"] = a.updates
        entry["old_status"] = a.old_status.value if a.old_status else None
    return entry


def source_entry(s: Source) -> dict[str, Any]:
    return {
        "id": s.id,
        "publisher": s.publisher,
        "title": s.title,
        "url": s.url,
        "published": s.published,
        "language": s.language,
    }


def _dump(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)


def export_yaml(approved: Sequence[Approved]) -> str:
    """``sources:`` then ``facts:``, as sources.yaml and facts.yaml write them."""
    sources = [source_entry(s) for a in approved for s in a.sources]
    facts = [fact_entry(a) for a in approved]
    return _dump({"sources": sources}) + "\n" + _dump({"facts": facts})


def check_approved(approved: Sequence[Approved], content: Library) -> list[ContentError]:
    """Every problem ``content check`` would report for these facts beside content/'s."""
    sources = dict(content.sources)
    for a in approved:
        for s in a.sources:
            sources.setdefault(s.id, s)
    text = _dump({"facts": [fact_entry(a) for a in approved]})
    return check_facts_text(text, sources, taken=frozenset(content.facts))[1]
