"""The fact index: per-language BM25 with concept, entity, number and answer-type signals.

"Found" is decided by two calibrated thresholds (see ``Thresholds``): the BM25 score of the best
fact, and how much of the question's weight (idf) that fact covers. Words the store has never
seen count against coverage, so a question about something else is declined rather than matched
on its one familiar word.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace

import bm25s
import numpy as np
import numpy.typing as npt
from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein

from bot.briefing import fact_text
from bot.domain import Fact, Lang, Library, Status
from bot.i18n import translator
from bot.retrieval.lexicon import Lexicon
from bot.retrieval.text import Stems, find_phrases, fold, numbers, stopwords, words

# bm25s attaches a DEBUG-level handler of its own; its progress lines are noise for operators.
logging.getLogger("bm25s").setLevel(logging.WARNING)

TOPIC_CONCEPTS = {
    "stakes": "stake",
    "revenue": "revenue_share",
    "infrastructure": "datacenter",
    "ipo": "ipo",
}
_QUANTITY_KINDS = frozenset({"money", "percent", "count"})
_TIME_KINDS = frozenset({"year", "date", "month"})
# A capitalised word that does not start a sentence (nor follows a colon or a quote).
_NAME = re.compile(r"(?<![.!?:«\"\n]\s)(?<!^)(?<=\s)[A-Z][A-Za-z0-9&]+")
_CONCEPT = "§"
_ENTITY = "@"


@dataclass(frozen=True)
class Thresholds:
    """Decision and ranking knobs, calibrated on the dev split of tests/eval by
    ``python -m bench.calibrate`` (docs/RETRIEVAL.md has the figures)."""

    min_score: float = 0.6
    min_coverage: float = 0.5
    keep_ratio: float = 0.6  # further facts must score this fraction of the best one
    recency: float = 0.25  # weight of the newest-development prior
    unknown_weight: float = 0.5  # an unseen word weighs this fraction of the rarest word
    bm25_b: float = 0.75  # BM25 length normalisation (the library default)


@dataclass(frozen=True)
class Hit:
    fact_id: str
    score: float
    coverage: float


@dataclass(frozen=True)
class SearchResult:
    hits: tuple[Hit, ...]
    found: bool
    reason: str  # "ok", "empty", "foreign", "weak", "off-topic", "no-figure"
    topics: tuple[str, ...] = ()  # closest topics, for suggestions when declining


@dataclass(frozen=True)
class Query:
    """A question as the index sees it, in one language."""

    tokens: tuple[str, ...]
    unknown: tuple[str, ...]  # content words the store has never seen
    entities: frozenset[str]
    numbers: frozenset[float]
    wants: frozenset[str]  # figure kinds an answer must carry, empty when any will do
    why: bool = False  # asks for a reason, so it presupposes an event
    units: tuple[str, ...] = ()  # what coverage is measured on (see FactIndex._coverage)
    injection: bool = False  # tries to override the rules and asks nothing answerable
    context_units: tuple[str, ...] = ()  # from the question a follow-up leans on, half weight
    who: bool = False  # asks which companies or people: facts naming several rank higher


class _LangIndex:
    def __init__(self, docs: list[list[str]], b: float) -> None:
        self.bm25 = bm25s.BM25(b=b)
        self.bm25.index(docs, show_progress=False)
        self.vocab = set(self.bm25.vocab_dict)
        self.doc_terms = [frozenset(doc) for doc in docs]
        df = Counter(term for doc in self.doc_terms for term in doc)
        n = len(docs)
        self.idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
        self.unseen_idf = math.log(1 + (n + 0.5) / 0.5)

    def scores(self, tokens: Iterable[str]) -> npt.NDArray[np.float64]:
        known = [t for t in tokens if t in self.vocab]
        if not known:
            return np.zeros(len(self.doc_terms))
        return np.asarray(self.bm25.get_scores(known), dtype=np.float64)


class FactIndex:
    def __init__(
        self, library: Library, lexicon: Lexicon, thresholds: Thresholds | None = None
    ) -> None:
        self.library = library
        self.lexicon = lexicon
        self.thresholds = thresholds or Thresholds()
        self._stems = Stems()
        self._ids = list(library.facts)
        facts = [library.facts[i] for i in self._ids]
        self._topics = np.array([f.topic for f in facts])
        self._entity_names = self._known_entities(facts)
        # Names are matched as written: Snowball would turn "OpenAI" into "open" in French.
        self._verbatim = frozenset(name for name in self._entity_names if " " not in name)
        self._fact_entities = [
            frozenset(self._entity_names.get(fold(e), fold(e)) for e in f.entities) for f in facts
        ]
        self._entity_masks = {
            name: np.array([name in ents for ents in self._fact_entities])
            for name in set(self._entity_names.values())
        }
        self._kinds = [frozenset(fig.kind for fig in f.figures) for f in facts]
        self._entity_counts = np.array([len(e) for e in self._fact_entities], dtype=np.float64)
        # Among facts that answer equally well, the most recent development comes first.
        known = [d for d in (_event_date(f, library) for f in facts)]
        # An undated claim must not pass for news: it ranks as the oldest dated one.
        oldest = min((d for d in known if d is not None), default=dt.date.today())
        dates = [oldest if d is None else d for d in known]
        newest = max(dates, default=oldest)
        age_days = np.array([(newest - d).days for d in dates], dtype=np.float64)
        self._recency = 1.0 + self.thresholds.recency * np.exp(-age_days / 180.0)
        # What a company states on the record outranks what the press reports it said.
        self._authority = np.array(
            [1.15 if f.status in (Status.ANNOUNCED, Status.CONFIRMED) else 1.0 for f in facts]
        )
        # Overtaken facts stay findable but yield to current ones on the same question.
        self._currency = np.array(
            [0.7 if f.status in (Status.SUPERSEDED, Status.DENIED) else 1.0 for f in facts]
        )
        self._numbers = [frozenset(_figure_numbers(f)) for f in facts]
        folded_texts = " ".join(fold(f"{f.text.fr} {f.text.en}") for f in facts)
        self._covered_foreign = {
            e for e in lexicon.foreign_entities if f" {e} " in f" {folded_texts} "
        }
        self._surface: dict[Lang, list[str]] = {}
        self._index: dict[Lang, _LangIndex] = {}
        for lang in ("fr", "en"):
            docs, surface = [], set()
            for fact in facts:
                text = self._document(fact, lang)
                surface.update(words(fold(text)))
                docs.append(self._analyze(text, lang))
            self._index[lang] = _LangIndex(docs, self.thresholds.bm25_b)
            self._surface[lang] = sorted(w for w in surface if len(w) >= 4 and not w.isdigit())
        lexicon_words = {
            word
            for group in (
                *lexicon.concepts.values(),
                *lexicon.entity_aliases.values(),
                *lexicon.cues.values(),
                lexicon.stopwords,
            )
            for term in group
            for word in term.split()
        }
        self._known_words = frozenset(
            lexicon_words
            | set(self._entity_names)
            | set(self._surface["fr"])
            | set(self._surface["en"])
            | {w for lang in ("fr", "en") for w in stopwords(lang)}
        )

    # ---- indexing -------------------------------------------------------------------------

    def _known_entities(self, facts: list[Fact]) -> dict[str, str]:
        """Folded spelling -> canonical folded entity name; publishers count as entities."""
        names = {fold(e): fold(e) for f in facts for e in f.entities}
        for source in self.library.sources.values():
            names.setdefault(fold(source.publisher), fold(source.publisher))
        for canonical, aliases in self.lexicon.entity_aliases.items():
            for alias in aliases:
                names[alias] = fold(canonical)
        return names

    def _document(self, fact: Fact, lang: Lang) -> str:
        tr = translator(lang)
        publishers = [
            self.library.sources[s].publisher
            for s in (fact.source_id, fact.attribution_id)
            if s is not None and s in self.library.sources
        ]
        parts = [fact_text(fact, tr), " ".join(fact.entities), " ".join(publishers)]
        if fact.caveat is not None:
            parts.append(fact.caveat.get(lang))
        topic = next((t for t in self.library.topics if t.id == fact.topic), None)
        if topic is not None:
            parts.append(topic.label.get(lang))
        return " ".join(parts)

    def _analyze(self, text: str, lang: Lang, *, extra_concepts: Iterable[str] = ()) -> list[str]:
        folded = fold(text)
        tokens = [_CONCEPT + c for c in self._concepts(folded)]
        tokens += [_CONCEPT + c for c in extra_concepts]
        skip = stopwords(lang) | self.lexicon.stopwords
        tokens += [self._stem(w, lang) for w in words(folded) if w not in skip]
        tokens += [_ENTITY + self._entity_names.get(e, e) for e in self._entities_in(folded)]
        return tokens

    def _entities_in(self, folded: str) -> list[str]:
        """Canonical names of the known entities a text mentions."""
        return sorted(
            {
                canonical
                for alias, canonical in self._entity_names.items()
                if find_phrases(folded, [alias])
            }
        )

    def _stem(self, word: str, lang: Lang) -> str:
        return word if word in self._verbatim else self._stems.stem(word, lang)

    def _concepts(self, folded: str) -> list[str]:
        return [c for c, terms in self.lexicon.concepts.items() if find_phrases(folded, terms)]

    def _concept_words(self, folded: str) -> set[str]:
        """Words the lexicon explains: known through a concept, an entity name or a cue."""
        groups = [
            *self.lexicon.concepts.values(),
            *self.lexicon.entity_aliases.values(),
            *self.lexicon.cues.values(),
        ]
        return {
            word
            for terms in groups
            for phrase in find_phrases(folded, terms)
            for word in phrase.split()
        }

    # ---- questions ------------------------------------------------------------------------

    def query(self, question: str, lang: Lang) -> Query:
        folded = fold(question)
        index = self._index[lang]
        skip = stopwords(lang) | self.lexicon.stopwords
        content = [w for w in words(folded) if w not in skip]
        # Words the lexicon knows are never "corrected" into a neighbour ("entrer" -> "entre").
        known = self._concept_words(folded)
        corrected = [w if w in known else self._correct(w, lang) for w in content]
        stems = [self._stem(w, lang) for w in corrected]
        concept_text = " ".join([folded, *corrected])
        explained = self._concept_words(concept_text)
        unknown = tuple(
            w
            for w, s in zip(corrected, stems, strict=True)
            if s not in index.vocab and not w.isdigit() and w not in explained
        )
        concepts = [_CONCEPT + c for c in self._concepts(concept_text)]
        entities = frozenset(self._entities_in(concept_text))
        entity_tokens = [_ENTITY + e for e in sorted(entities)]
        # Words a concept or entity explains are represented by it alone, so that a fact does
        # not win merely for sharing the question's surface form ("holds" vs "stake").
        plain = [
            stem for word, stem in zip(corrected, stems, strict=True) if word not in explained
        ]
        tokens = concepts + entity_tokens + stems
        units = concepts + entity_tokens + [stem for stem in plain if stem in index.vocab]
        wants: set[str] = set()
        cues = self.lexicon.cues
        if find_phrases(folded, cues["share"]):
            wants |= {"percent"}
        elif find_phrases(folded, cues["quantity"]):
            wants |= _QUANTITY_KINDS
        if find_phrases(folded, cues["time"]):
            wants |= _TIME_KINDS
        asks = "?" in question or bool(find_phrases(folded, cues["question"]))
        who = bool(find_phrases(folded, cues["who"]))
        return Query(
            tuple(tokens),
            unknown,
            entities,
            frozenset(numbers(question)),
            frozenset(wants),
            why=bool(find_phrases(folded, cues["why"])),
            units=tuple(dict.fromkeys(units)),
            injection=bool(find_phrases(folded, cues["injection"])) and not asks,
            who=who,
        )

    def _correct(self, word: str, lang: Lang) -> str:
        """A misspelt word becomes the closest word the store knows ("Micorsoft")."""
        if len(word) < 4 or word.isdigit() or self._stem(word, lang) in self._index[lang].vocab:
            return word
        # One edit (a transposition counts as one) up to eight letters, two beyond: closer
        # than that, real words collide ("atteint" is not a typo of "attente").
        limit = 1 if len(word) <= 8 else 2
        match = process.extractOne(
            word, self._surface[lang], scorer=DamerauLevenshtein.distance, score_cutoff=limit
        )
        return word if match is None else str(match[0])

    def asks_for_source(self, question: str) -> bool:
        """ "who reported that?", "qui l'affirme ?": about the last answer, not a new topic."""
        return bool(find_phrases(fold(question), self.lexicon.cues["source"]))

    def result_for(self, fact_ids: tuple[str, ...]) -> SearchResult:
        """These facts as a found result, for answers that repeat a previous one."""
        hits = tuple(Hit(f, 1.0, 1.0) for f in fact_ids if f in self.library.facts)
        return SearchResult(hits, bool(hits), "ok" if hits else "empty")

    def foreign(self, question: str) -> list[str]:
        """Companies or people the question names that no fact covers."""
        folded = fold(question)
        listed = [
            e
            for e in find_phrases(folded, self.lexicon.foreign_entities)
            if e not in self._covered_foreign
        ]
        return list(dict.fromkeys(listed + self._unknown_names(question)))

    def _unknown_names(self, question: str) -> list[str]:
        """Capitalised words inside a sentence that nothing in the store or lexicon knows:
        most likely a company or person the facts do not cover ("TikTok")."""
        names = []
        for match in _NAME.finditer(question):
            word = fold(match.group(0))
            if not word or " " in word or word in self._known_words:
                continue
            if any(self._correct(word, lang) != word for lang in ("fr", "en")):
                continue  # a misspelt known word ("Micorsoft"), not a new name
            names.append(word)
        return names

    def search(
        self,
        question: str,
        lang: Lang,
        *,
        topic_hint: str | None = None,
        context: str | None = None,
        k: int = 3,
    ) -> SearchResult:
        """Rank facts for ``question`` asked in ``lang``; ``context`` is a previous question
        whose words help a short follow-up ("and the founders?")."""
        if self.foreign(question):
            return SearchResult((), False, "foreign")
        query = self.query(question, lang)
        if query.injection:
            return SearchResult((), False, "injection")
        if not query.tokens and not query.entities and context is None:
            return SearchResult((), False, "empty")
        index = self._index[lang]
        scores = index.scores(query.tokens)
        if context:
            # A follow-up keeps its own cues; the earlier question lends words at half weight.
            earlier = self.query(context, lang)
            scores = scores + 0.5 * index.scores(earlier.tokens)
            query = replace(
                query,
                entities=query.entities | earlier.entities,
                context_units=tuple(u for u in earlier.units if u not in query.units),
            )
        boost = np.ones(len(self._ids))
        for entity in query.entities:
            mask = self._entity_masks.get(entity)
            if mask is not None:
                boost += 0.15 * mask
        if query.numbers:
            boost += 0.6 * np.array([bool(query.numbers & n) for n in self._numbers])
        if topic_hint:
            boost += 0.3 * (self._topics == topic_hint)
        for topic, concept in TOPIC_CONCEPTS.items():
            if _CONCEPT + concept in query.tokens:
                boost += 0.2 * (self._topics == topic)
        if query.who:
            boost *= 1.0 + 0.04 * self._entity_counts
        if query.wants:
            boost *= np.array([1.0 if kinds & query.wants else 0.3 for kinds in self._kinds])
        if _CONCEPT + "history" not in query.tokens and not query.numbers:
            # Background facts answer "what happened before" questions, not current ones.
            boost *= np.where(self._topics == "context", 0.85, 1.0)
        ranked = scores * boost * self._currency * self._recency * self._authority
        order = np.argsort(-ranked)[: max(k * 4, 10)]
        best = float(ranked[order[0]]) if len(order) else 0.0
        topics = self._closest_topics(order, ranked)
        if best <= 0:
            return SearchResult((), False, "weak", topics)
        hits: list[Hit] = []
        for position in order:
            score = float(ranked[position])
            if score < best * self.thresholds.keep_ratio or len(hits) == k:
                break
            coverage = self._coverage(query, int(position), index)
            hits.append(Hit(self._ids[position], score, coverage))
        if query.why and query.unknown:
            # "Why did the SEC reject…?": the store cannot confirm what it has no word for.
            return SearchResult((), False, "premise", topics)
        top = hits[0]
        if top.score < self.thresholds.min_score or top.coverage < self.thresholds.min_coverage:
            return SearchResult(tuple(hits), False, "weak", topics)
        if query.wants and not (self._kinds[self._ids.index(top.fact_id)] & query.wants):
            return SearchResult((), False, "no-figure", topics)
        rest = [h for h in hits[1:] if h.coverage >= self.thresholds.min_coverage / 2]
        return SearchResult((top, *rest), True, "ok", topics)

    def _coverage(self, query: Query, position: int, index: _LangIndex) -> float:
        """Share of the question's weight (idf) found in the fact; unseen words weigh most.

        Units are the question's concepts and the stems of words no concept, entity or cue
        explains: "mis sur la table" counts once, as the invest concept.
        """
        weights = {t: index.idf.get(t, index.unseen_idf) for t in query.units}
        for unit in query.context_units:
            weights[unit] = 0.5 * index.idf.get(unit, index.unseen_idf)
        for word in query.unknown:
            weights[f"?{word}"] = self.thresholds.unknown_weight * index.unseen_idf
        total = sum(weights.values())
        if total == 0:
            return 0.0
        doc = index.doc_terms[position]
        covered = sum(w for t, w in weights.items() if t in doc)
        return covered / total

    def _closest_topics(
        self, order: npt.NDArray[np.intp], ranked: npt.NDArray[np.float64]
    ) -> tuple[str, ...]:
        seen: list[str] = []
        for position in order:
            topic = str(self._topics[position])
            if topic in TOPIC_CONCEPTS and topic not in seen and ranked[position] > 0:
                seen.append(topic)
        return tuple(seen[:2])


def _event_date(fact: Fact, library: Library) -> dt.date | None:
    """When what the fact reports happened, as far as its figures or sources say."""
    for figure in fact.figures:
        if figure.kind == "date":
            return dt.date.fromisoformat(str(figure.value))
    # Not `also`: a seed fact corroborated by a later post did not happen later.
    primary = (fact.source_id, fact.attribution_id)
    published = [
        library.sources[s].published
        for s in primary
        if s is not None and s in library.sources and library.sources[s].published is not None
    ]
    return max((d for d in published if d is not None), default=None)


def _figure_numbers(fact: Fact) -> Iterable[float]:
    for figure in fact.figures:
        value = figure.value
        if figure.kind == "percent":
            yield round(float(value) * 100, 6)
        elif figure.kind in ("money", "count", "year"):
            yield float(value)
            if figure.kind == "money":
                for scale in (1e9, 1e6):
                    if float(value) >= scale:
                        yield round(float(value) / scale, 6)
        elif figure.kind in ("date", "month"):
            yield float(str(value)[:4])
