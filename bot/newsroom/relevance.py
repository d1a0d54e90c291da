"""Whether an item concerns the subject, in the store's own words, in English or French.

The parties are the entities most of the facts name (OpenAI and Microsoft today); the subject
terms are the store's other entities (less those the lexicon calls foreign), its topics'
names and aliases in both languages, and the lexicon's words for what the partnership is
about (stakes, revenue share, the IPO, datacenters, the AGI clause, the renegotiation...).
An item is relevant when it names two parties, or one party and a subject term: "Microsoft
releases a new Xbox" is not news for us, "Microsoft et OpenAI renégocient" is.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from bot.content.lexicon import Lexicon
from bot.core.domain import Library
from bot.core.text import PhraseMatcher, fold, stopwords, words

# An entity named by at least this share of the facts is a party to the subject.
PARTY_SHARE = 0.2
# The lexicon's concepts that say what the partnership is about (content/lexicon.yaml).
SUBJECT_CONCEPTS = (
    "stake",
    "invest",
    "revenue_share",
    "ipo",
    "datacenter",
    "cloud",
    "agi",
    "negotiation",
    "restructuring",
    "rofr",
    "public_capital",
    "value",
    "cap",
    "commitment",
)
_PARTY = "party:"
_TERM = "term"
_MIN_ALIAS = 3  # "ms" for Microsoft would match every "Ms." of a press feed


class Relevance:
    def __init__(self, parties: Mapping[str, Sequence[str]], terms: Iterable[str]) -> None:
        phrases = [
            (alias, _PARTY + name) for name, aliases in parties.items() for alias in aliases
        ]
        phrases += [(term, _TERM) for term in terms]
        self._matcher = PhraseMatcher(phrases)
        self.parties = tuple(parties)

    @classmethod
    def of(cls, library: Library, lexicon: Lexicon) -> Relevance:
        named = Counter(entity for fact in library.facts.values() for entity in fact.entities)
        least = max(1, int(PARTY_SHARE * len(library.facts)))
        foreign = set(lexicon.foreign_entities)
        parties: dict[str, list[str]] = {}
        terms: list[str] = []
        for entity, count in named.items():
            spellings = [entity, *lexicon.entity_aliases.get(entity, ())]
            spellings = [s for s in spellings if len(fold(s)) >= _MIN_ALIAS]
            if count >= least:
                parties[entity] = spellings
            elif fold(entity) not in foreign:
                terms += spellings
        for topic in library.topics:
            terms += [topic.id, topic.label.en, topic.label.fr, *topic.aliases]
        empty = stopwords("en") | stopwords("fr") | lexicon.stopwords
        for concept in SUBJECT_CONCEPTS:
            for term in lexicon.concepts.get(concept, ()):
                tokens = words(fold(term))
                # "a mis", "put into", "own": words every article uses, whatever its subject.
                shortest = _MIN_ALIAS if len(tokens) == 1 else _MIN_ALIAS + 1
                if any(len(t) >= shortest and t not in empty for t in tokens):
                    terms.append(term)
        return cls(parties, terms)

    def matched(self, lines: Sequence[str]) -> tuple[str, ...]:
        """The lines that make the item relevant, or () when it is not."""
        parties: set[str] = set()
        term = False
        found: list[str] = []
        for line in lines:
            labels = self._matcher.labels(words(fold(line)))
            if not labels:
                continue
            found.append(line)
            for label in labels:
                if label.startswith(_PARTY):
                    parties.add(label)
                else:
                    term = True
        if len(parties) >= 2 or (parties and term):
            return tuple(found)
        return ()
