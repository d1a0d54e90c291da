"""Whether an item concerns the subject, in the store's own words, in English or French.

The parties are the entities most of the facts name (OpenAI and Microsoft today). The
subject is the partnership itself, or one party with what the store is about:

- *subject terms*: the store's other entities (less those the lexicon calls foreign), its
  topics' names and aliases in both languages, and the lexicon's words for stakes, revenue
  share, the IPO, datacenters and Stargate, the AGI clause, the restructuring, valuation...
  "OpenAI files for an IPO", "SoftBank invests in OpenAI" are news for us;
- *partnership words*: deal, agreement, talks, contract, partnership, and the cloud (Azure,
  compute): each party has deals and clouds of its own, so these count only when both
  parties are named. "Microsoft et OpenAI renégocient leur partenariat" is news for us,
  "OpenAI signs deal with Disney" and "Microsoft Azure outage" are not;
- words the subject shares with everyday business news (pay, file, keep, revenue, list,
  exclusive...) count for nothing alone: "Microsoft pays $20 million to settle" is not news
  for us, though "revenue share" and "introduction en bourse" are.

Two parties with nothing of the subject ("Microsoft brings OpenAI's model to Copilot") are
not news for us either.
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
# Each party has deals, contracts and a cloud of its own: these say "the partnership" only
# when both parties are named.
PARTNERSHIP_CONCEPTS = ("negotiation", "cloud")
PARTNERSHIP_WORDS = ("pact", "pacte", "alliance", "ties", "relationship", "relation")
# Single words the subject's vocabulary (made for readers' questions) shares with everyday
# business news; phrases holding them ("revenue share", "go public") still count.
GENERIC = frozenset(
    [
        "pay",
        "pays",
        "paid",
        "paying",
        "payment",
        "payments",
        "verse",
        "verser",
        "versera",
        "versement",
        "versements",
        "filer",
        "refiler",
        "file",
        "filed",
        "filing",
        "submitted",
        "submission",
        "soumis",
        "depose",
        "deposer",
        "depot",
        "dossier",
        "paperwork",
        "list",
        "listed",
        "listing",
        "entrer",
        "rentre",
        "rentrer",
        "rentrera",
        "buy",
        "purchase",
        "achat",
        "achats",
        "acheter",
        "commit",
        "commits",
        "committed",
        "engage",
        "engagee",
        "keep",
        "keeps",
        "kept",
        "retain",
        "retains",
        "garde",
        "garder",
        "gardera",
        "conserve",
        "conserver",
        "revient",
        "revenir",
        "appartient",
        "belongs",
        "holds",
        "holding",
        "own",
        "owns",
        "owned",
        "shares",
        "actions",
        "capital",
        "slice",
        "value",
        "worth",
        "priced",
        "vaut",
        "valent",
        "limit",
        "limite",
        "ceiling",
        "verify",
        "verifies",
        "verified",
        "verifier",
        "verifie",
        "verification",
        "declare",
        "declared",
        "declaration",
        "declarer",
        "tranche",
        "trancher",
        "money",
        "cash",
        "argent",
        "revenue",
        "revenues",
        "revenus",
        "revenu",
        "recettes",
        "partage",
        "exclusive",
        "exclusif",
        "exclusivity",
        "exclusivite",
        "oblige",
        "obligatoire",
        "introduction",
    ]
)
_PARTY = "party:"
_TERM = "term"
_PARTNERSHIP = "partnership"
_MIN_ALIAS = 3  # "ms" for Microsoft would match every "Ms." of a press feed


def _specific(term: str) -> bool:
    """Whether a term says the subject by itself: a phrase, or a word not in GENERIC."""
    tokens = words(fold(term))
    return len(tokens) > 1 or (bool(tokens) and tokens[0] not in GENERIC)


class Relevance:
    def __init__(
        self,
        parties: Mapping[str, Sequence[str]],
        terms: Iterable[str],
        partnership: Iterable[str] = (),
    ) -> None:
        phrases = [
            (alias, _PARTY + name) for name, aliases in parties.items() for alias in aliases
        ]
        weak = {fold(w) for w in partnership}
        phrases += [(term, _TERM) for term in terms if _specific(term) and fold(term) not in weak]
        phrases += [(word, _PARTNERSHIP) for word in partnership]
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
        partnership = list(PARTNERSHIP_WORDS)
        for concept in SUBJECT_CONCEPTS:
            for term in lexicon.concepts.get(concept, ()):
                tokens = words(fold(term))
                # "a mis", "put into", "own": words every article uses, whatever its subject.
                shortest = _MIN_ALIAS if len(tokens) == 1 else _MIN_ALIAS + 1
                if any(len(t) >= shortest and t not in empty for t in tokens):
                    if concept in PARTNERSHIP_CONCEPTS:
                        partnership.append(term)
                    else:
                        terms.append(term)
        return cls(parties, terms, partnership)

    def matched(self, lines: Sequence[str]) -> tuple[str, ...]:
        """The lines that make the item relevant, or () when it is not."""
        parties: set[str] = set()
        term = partnership = False
        found: list[str] = []
        for line in lines:
            labels = self._matcher.labels(words(fold(line)))
            if not labels:
                continue
            found.append(line)
            for label in labels:
                if label.startswith(_PARTY):
                    parties.add(label)
                elif label == _PARTNERSHIP:
                    partnership = True
                else:
                    term = True
        if (parties and term) or (len(parties) >= 2 and partnership):
            return tuple(found)
        return ()
