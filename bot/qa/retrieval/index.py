"""The fact index: per-language BM25 with concept, entity, number and answer-type signals.

"Found" is decided by two calibrated thresholds (see ``Thresholds``): the BM25 score of the best
fact, and how much of the question's weight (idf) that fact covers. Words the store has never
seen count against coverage, so a question about something else is declined rather than matched
on its one familiar word.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import itertools
import logging
import math
import re
from collections import defaultdict
from collections.abc import Collection, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache
from typing import Literal

import numpy as np
import numpy.typing as npt
from babel import Locale
from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein, Levenshtein

from bot.content.lexicon import Lexicon
from bot.core.domain import Fact, Figure, Hit, Lang, Library, SearchResult, Status
from bot.core.text import (
    PhraseMatcher,
    Stems,
    fold,
    fold_name,
    numbers,
    stopwords,
    visible,
    words,
)
from bot.qa.retrieval.bm25 import CountsBM25
from bot.qa.retrieval.corpus import TermCounts, count_terms
from bot.qa.retrieval.dictionary import everyday_words

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
_BARE_PERCENT = re.compile(r"(?<!\d)(?<!\d )(?<!\d\u202f)(?<!\d\xa0)%")
_LETTERS = re.compile(r"[^\W\d_]{4,}")
_SENTENCE = re.compile(r"(?<=[.!?;\n])\s+")
_CONCEPT = "§"
_LEXICON: Literal["lexicon"] = "lexicon"  # the lexicon's words, corrected to after the store's
_ENTITY = "@"
_NONE = np.array([], dtype=np.intp)
_QUERIES_KEPT = 64
# Question words whose next word names what is asked ("quelles pertes"; after "how many",
# "combien de" the word after those). "What" and "how" alone are left out: a verb follows them
# as often as not ("what went wrong").
_WHICH_WORDS = frozenset({"quel", "quelle", "quels", "quelles"})
_COUNTING_WORDS = frozenset({"how", "combien"})
_COUNTING = frozenset({"many", "much", "de", "d"})
# "Who", "qui", "which" ask only where a clause starts: after a noun they are relative ("les
# autorités qui surveillent les marchés").
_ASKS_WHO = re.compile(
    r"(?:^|[,;:.!?(]\s*|\b(?:et|and|mais|but|so|alors|donc|ok|bon|genre|pis)\s+)"
    r"(?:who|whom|which|qui)\s+([^\W\d_]+)",
    re.IGNORECASE,
)
_CORRECTIONS_KEPT = 4096  # words looked up for a correction, per index: names recur


@dataclass(frozen=True)
class Thresholds:
    """Decision and ranking knobs, calibrated on the dev split of tests/eval by
    ``python -m bench.calibrate`` (docs/RETRIEVAL.md has the figures)."""

    min_score: float = 0.6
    min_coverage: float = 0.35
    # For a question that wants a figure (an amount, a share, a date); set on the blind dev
    # sets: from 0.55 it declined two of their look-alikes, up to 0.85 it cost no answer.
    min_figure_coverage: float = 0.65
    keep_ratio: float = 0.6  # further facts must score this fraction of the best one
    recency: float = 0.25  # weight of the newest-development prior
    unknown_weight: float = 0.75  # an unseen word weighs this fraction of the rarest word
    bm25_b: float = 0.75  # BM25 length normalisation (the library default)


# (payer, payee), as folded entity names; either may be unknown (None).
Paid = tuple[str | None, str | None] | None


@dataclass(frozen=True)
class Query:
    """A question as the index sees it, in one language."""

    tokens: tuple[str, ...]
    unknown: tuple[str, ...]  # content words the store has never seen
    entities: frozenset[str]
    numbers: frozenset[float]
    wants: frozenset[str]  # figure kinds an answer must carry, empty when any will do
    why: bool = False  # asks for a reason
    event: bool = False  # about a past action ("why did…", "pourquoi a-t-il…"): a premise
    units: tuple[str, ...] = ()  # what coverage is measured on (see FactIndex._coverage)
    injection: bool = False  # tries to override the rules and asks nothing answerable
    context_units: tuple[str, ...] = ()  # from the question a follow-up leans on, half weight
    who: bool = False  # asks which companies or people: facts naming several rank higher
    total: bool = False  # asks for a sum to date ("en tout", "so far"): not the background's
    source: bool = False  # asks who reported something: outlets' reports rank first
    quoted: frozenset[str] = frozenset()  # figure kinds the question quotes ("27 %", "$1bn")
    # Content words no fact's own text holds (reader questions may): what a premise rests on.
    unsourced: tuple[str, ...] = ()
    paid: Paid = None  # who paid whom, when the question asks about a payment
    # The word a question word asks about is one the store has never seen ("which banks",
    # "who sits", "combien de puces"): what is asked is not in the facts, however well the
    # rest of the question matches.
    unheld: bool = False


class _LangIndex:
    """BM25 over one language's documents, plus what coverage needs: idf and term sets.

    With reader questions (content/asked.yaml), ``expanded`` holds each fact's document with its
    questions: BM25 ranks on it, so that a paraphrase reaches its fact; coverage, idf and the
    words the store knows stay on the facts' own documents, so that what is found is still
    decided by what the facts say."""

    def __init__(self, counts: TermCounts, b: float, expanded: TermCounts | None = None) -> None:
        self.bm25 = CountsBM25(b=b)
        self.vocab: dict[str, int] = {}
        self._df = np.zeros(0, dtype=np.int64)
        if counts.terms:  # bm25s cannot index an empty vocabulary (an empty store)
            self.bm25.index_counts(counts)
            self.vocab = self.bm25.vocab_dict
            # bm25s keeps one column of documents per term: its length is the document
            # frequency.
            self._df = np.diff(self.bm25.scores["indptr"])
        self._ranker, self._ranked_vocab = self.bm25, self.vocab
        self._expanded = expanded
        self._expanded_df = self._df
        if expanded is not None and expanded.terms:
            self._ranker = CountsBM25(b=b)
            self._ranker.index_counts(expanded)
            self._ranked_vocab = self._ranker.vocab_dict
            self._expanded_df = np.diff(self._ranker.scores["indptr"])
        self._counts = counts
        self._terms: dict[int, frozenset[str]] = {}
        self.size = counts.size
        self.unseen_idf = math.log(1 + (self.size + 0.5) / 0.5)

    def idf(self, term: str) -> float:
        """Inverse document frequency, the same formula for seen and unseen terms; a term only
        reader questions hold counts the facts whose questions hold it."""
        column = self.vocab.get(term)
        if column is not None:
            df = int(self._df[column])
        else:
            column = self._ranked_vocab.get(term)
            df = 0 if column is None else int(self._expanded_df[column])
        return math.log(1 + (self.size - df + 0.5) / (df + 0.5))

    @property
    def ranked_vocab(self) -> dict[str, int]:
        """The terms BM25 ranks on: the facts' own and their reader questions'."""
        return self._ranked_vocab

    def doc_terms(self, position: int) -> frozenset[str]:
        """The terms coverage finds in a fact: its own document's, and its reader questions'
        words and concepts. Not their names: a question that mentions Microsoft beside an
        OpenAI-only fact does not make the fact about Microsoft."""
        # Built on demand: coverage only ever looks at a question's few best facts.
        terms = self._terms.get(position)
        if terms is None:
            terms = self._counts.doc_terms(position)
            if self._expanded is not None:
                asked = self._expanded.doc_terms(position) - terms
                terms |= {t for t in asked if not t.startswith(_ENTITY)}
            self._terms[position] = terms
        return terms

    def scores(self, tokens: Iterable[str]) -> npt.NDArray[np.float64]:
        known = [t for t in tokens if t in self._ranked_vocab]
        if not known:
            return np.zeros(self.size)
        return np.asarray(self._ranker.get_scores(known), dtype=np.float64)


class FactIndex:
    def __init__(
        self, library: Library, lexicon: Lexicon, thresholds: Thresholds | None = None
    ) -> None:
        self.library = library
        self.lexicon = lexicon
        self.thresholds = thresholds or Thresholds()
        self._skip = {lang: stopwords(lang) | lexicon.stopwords for lang in ("fr", "en")}
        # Chat mixes the languages: a word either language skips carries no subject.
        self._skip_either = self._skip["fr"] | self._skip["en"]
        # Filler phrases ("end up", "du coup"): their words must not reach a concept either.
        self._filler = PhraseMatcher((s, "") for s in lexicon.stopwords if " " in s)
        self._ids = list(library.facts)
        self._positions = {fact_id: i for i, fact_id in enumerate(self._ids)}
        facts = [library.facts[i] for i in self._ids]
        self._topic_labels = {topic.id: topic.label for topic in library.topics}
        self._publisher_names: dict[tuple[str, str | None], str] = {}
        self._surface: dict[Lang, list[str]] = {}
        self._by_length: dict[tuple[Lang | Literal["lexicon"], int], list[str]] = {}
        self._near: dict[tuple[Lang | Literal["lexicon"], int], list[str]] = {}
        self._corrections: dict[tuple[str, Lang], str] = {}
        self._index: dict[Lang, _LangIndex] = {}
        with _no_gc():
            self._build_matchers(facts)
            self._build_signals(facts)
            for lang in ("fr", "en"):
                self._build_language(facts, lang)
        lexicon_words = {
            word
            for group in (
                *lexicon.concepts.values(),
                *lexicon.entity_aliases.values(),
                *lexicon.cues.values(),
                lexicon.stopwords,
            )
            for term in group
            for word in words(term)
        }
        # A misspelt lexicon word is corrected to it as a store word is ("holcing" -> the
        # stake concept's "holding", "caash" -> "cash"): both languages', since chat mixes them.
        # A misspelt function word of five letters or more too ("reeally"), and then dropped.
        self._add_corrections(
            *(w for w in lexicon_words - self._skip_either if len(w) >= 4 and not w.isdigit()),
            *(w for w in self._skip_either if len(w) >= 5),
        )
        # Question words misspelt ("whixh", "qusnd", "poufquoi") would lose their cue.
        self._cue_words = sorted(
            {w for terms in lexicon.cues.values() for t in terms for w in words(t) if len(w) >= 4}
        )
        self._known_words = frozenset(
            lexicon_words
            | set(self._entity_names)
            | set(self._surface["fr"])
            | set(self._surface["en"])
            | self._skip_either
        )

    def _add_corrections(self, *extra: str) -> None:
        """``extra`` words, not the store's, become correction targets of the second rank."""
        store = set(self._surface["fr"]) | set(self._surface["en"])
        for word in sorted(set(extra) - store):
            self._by_length.setdefault((_LEXICON, len(word)), []).append(word)

    # ---- indexing -------------------------------------------------------------------------

    def _build_language(self, facts: list[Fact], lang: Lang) -> None:
        skip, stems = self._skip[lang], self._stems

        def word_terms(distinct: Sequence[str]) -> list[str | None]:
            stemmed = stems.stem_all(distinct, lang)
            return [None if w in skip else s for w, s in zip(distinct, stemmed, strict=True)]

        counts = count_terms(
            (self._document(fact, lang) for fact in facts),
            word_terms,
            self._term_matcher,
            not_names=self._not_names,
            name_mark=_ENTITY,
        )
        expanded = None
        if any(fact.id in self.lexicon.asked for fact in facts):
            expanded = count_terms(
                (self._document(fact, lang, asked=True) for fact in facts),
                word_terms,
                self._term_matcher,
                not_names=self._not_names,
                name_mark=_ENTITY,
            )
        surface = counts.surface
        self._index[lang] = _LangIndex(counts, self.thresholds.bm25_b, expanded)
        self._surface[lang] = sorted(w for w in surface if len(w) >= 4 and not w.isdigit())
        for word in self._surface[lang]:  # in order, so each length's words stay sorted
            self._by_length.setdefault((lang, len(word)), []).append(word)
        self._covered_foreign |= {
            name for name in self.lexicon.foreign_entities if set(words(name)) <= surface
        }

    def _build_matchers(self, facts: list[Fact]) -> None:
        lexicon = self.lexicon
        self._entity_names = self._known_entities(facts)
        # Names are matched as written: Snowball would turn "OpenAI" into "open" in French.
        self._stems = Stems(keep=frozenset(n for n in self._entity_names if " " not in n))
        self._concept_matcher = PhraseMatcher(
            (term, concept) for concept, terms in lexicon.concepts.items() for term in terms
        )
        self._entity_matcher = PhraseMatcher(self._entity_names.items())
        self._not_names = PhraseMatcher((phrase, "") for phrase in lexicon.not_names)
        # Both at once for documents: one pass per fact instead of two.
        self._term_matcher = PhraseMatcher(
            [
                *((term, _CONCEPT + c) for c, terms in lexicon.concepts.items() for term in terms),
                *((alias, _ENTITY + name) for alias, name in self._entity_names.items()),
            ]
        )
        # Words known through a concept, a listed entity alias or a cue are "explained".
        self._explainer = PhraseMatcher(
            (term, "")
            for group in (
                *lexicon.concepts.values(),
                *lexicon.entity_aliases.values(),
                *lexicon.cues.values(),
                # Another cloud named in a cloud question ("sur aws ou google cloud") is what
                # the question is about, not a word the store lacks (foreign() has let it in).
                lexicon.rival_clouds,
            )
            for term in group
        )
        self._cues = {
            kind: PhraseMatcher((term, kind) for term in terms)
            for kind, terms in lexicon.cues.items()
        }
        self._takings = PhraseMatcher((t, "") for t in lexicon.takings)
        self._takings_shared = PhraseMatcher((t, "") for t in lexicon.takings_shared)
        payment = lexicon.payment
        self._pays = PhraseMatcher((term, "") for term in payment.pays)
        self._paid_to = frozenset(tuple(words(t)) for t in payment.to)
        self._paid_by = frozenset(tuple(words(t)) for t in payment.by)
        self._share_words = frozenset(lexicon.holding.shares)
        self._within = frozenset(tuple(words(t)) for t in lexicon.holding.within)
        self._stem_concepts = {lang: self._concepts_by_stem(lang) for lang in ("fr", "en")}
        self._foreign_matcher = PhraseMatcher(
            (e, e) for e in (*lexicon.foreign_entities, *lexicon.foreign_topics)
        )
        self._foreign_words = sorted(
            {
                w
                for term in (*lexicon.foreign_entities, *lexicon.foreign_topics)
                for w in words(term)
                if len(w) >= 4
            }
        )
        # Single words of neighbouring subjects ("employees"): a fact may hold them too.
        self._foreign_topic_words = frozenset(t for t in lexicon.foreign_topics if " " not in t)
        # Named by some fact, so not foreign after all: settled once the texts are read.
        self._covered_foreign: set[str] = set()
        self._queries: dict[tuple[str, Lang], Query] = {}
        self._reasons: dict[Lang, npt.NDArray[np.float64]] = {}
        self._kind_factors: dict[tuple[frozenset[str], float], npt.NDArray[np.float64]] = {}

    def _concepts_by_stem(self, lang: Lang) -> dict[str, str]:
        """Stem -> concept for the lexicon's one-word terms, so that an inflection the lexicon
        does not list ("owning", "exclusively") reaches the concept of the forms it lists. A
        stem shared by two concepts says nothing and is left out."""
        by_stem: dict[str, set[str]] = {}
        for concept, terms in self.lexicon.concepts.items():
            for term in terms:
                folded = words(fold(term))
                if len(folded) == 1 and len(folded[0]) >= 4:
                    by_stem.setdefault(self._stems.stem(folded[0], lang), set()).add(concept)
        return {stem: c.pop() for stem, c in by_stem.items() if len(c) == 1}

    def _build_signals(self, facts: list[Fact]) -> None:
        """Per-fact arrays and inverted lists, so that a question costs no loop over facts."""
        self._topics = np.array([f.topic for f in facts])
        # Per topic, the facts' positions: a question's topic boosts touch only those facts,
        # where comparing every fact's topic string cost a millisecond at 100,000 facts.
        self._topic_positions = _inverted((f.topic,) for f in facts)
        self._background = np.where(self._topics == "context", 0.85, 1.0)
        self._background_ids = frozenset(
            fact_id
            for fact_id, factor in zip(self._ids, self._background, strict=True)
            if factor < 1.0
        )
        self._build_entity_signals(facts)
        self._build_source_signals(facts)
        self._number_positions = _inverted(
            frozenset(itertools.chain.from_iterable(map(_figure_numbers, f.figures)))
            for f in facts
        )
        self._build_kind_signals(facts)
        self._authority = _authority(facts)
        self._prior = self._recency(facts) * self._authority * _currency(facts)
        # The prior without the authority, for questions about who said it (_source_prior).
        self._unofficial_prior = self._prior / self._authority
        # A report attributed to an outlet: what a "who reported it?" question presumes.
        self._attributed = np.array([f.attribution_id is not None for f in facts])
        self._reported = np.where(self._attributed, 1.5, 1.0)

    def _build_entity_signals(self, facts: list[Fact]) -> None:
        """Each fact's canonical entities: how many, and which facts name each one."""
        names = self._entity_names
        # Each spelling resolved once: the same companies recur across thousands of facts.
        spellings = set(itertools.chain.from_iterable(f.entities for f in facts))
        canonical = {e: names.get(fold_name(e), fold_name(e)) for e in spellings}
        fact_entities = [frozenset(map(canonical.__getitem__, f.entities)) for f in facts]
        self._entity_counts = np.array([len(e) for e in fact_entities], dtype=np.float64)
        self._many_named = 1.0 + 0.04 * self._entity_counts  # what a "who" question favours
        self._entity_positions = _inverted(fact_entities)

    def _build_source_signals(self, facts: list[Fact]) -> None:
        """Which facts each outlet reported (as their source or the report they cite), for
        outlets no fact is about: a question naming one asks what it said."""
        sources = self.library.sources
        subjects = set(self._entity_positions)
        names = {
            s.id: name
            for s in sources.values()
            if (name := fold_name(s.publisher)) not in subjects
        }
        positions: dict[str, list[int]] = {}
        for position, fact in enumerate(facts):
            for source in (fact.source_id, fact.attribution_id):
                outlet = names.get(source) if source is not None else None
                if outlet is not None:
                    positions.setdefault(outlet, []).append(position)
        self._outlet_positions = {n: np.unique(p) for n, p in positions.items()}

    def _build_kind_signals(self, facts: list[Fact]) -> None:
        """The figure kinds each fact carries, and a mask of facts per quantity or time kind."""
        kinds = [frozenset(fig.kind for fig in f.figures) for f in facts]
        self._kinds = kinds
        kind_positions = _inverted(kinds)
        self._kind_masks = {}
        for kind in _QUANTITY_KINDS | _TIME_KINDS:
            mask = self._kind_masks[kind] = np.zeros(len(facts), dtype=bool)
            mask[kind_positions.get(kind, _NONE)] = True

    def _recency(self, facts: list[Fact]) -> npt.NDArray[np.float64]:
        """Among facts that answer equally well, the most recent development comes first."""
        known = [_event_date(f, self.library) for f in facts]
        # An undated claim must not pass for news: it ranks as the oldest dated one. (With no
        # dated fact at all every age is zero, whatever the default.)
        oldest = min((d for d in known if d is not None), default=dt.date.min)
        dates = [oldest if d is None else d for d in known]
        newest = max(dates, default=oldest)
        age_days = np.array([(newest - d).days for d in dates], dtype=np.float64)
        recency: npt.NDArray[np.float64] = 1.0 + self.thresholds.recency * np.exp(
            -age_days / 180.0
        )
        return recency

    def _known_entities(self, facts: list[Fact]) -> dict[str, str]:
        """Folded spelling -> canonical folded entity name; publishers count as entities."""
        # Each spelling folded once, in order of first mention: the same companies recur
        # across thousands of facts.
        spellings = dict.fromkeys(itertools.chain.from_iterable(f.entities for f in facts))
        names = {name: name for name in map(fold_name, spellings)}
        for source in self.library.sources.values():
            publisher = fold_name(source.publisher)
            names.setdefault(publisher, publisher)
            # Readers call an outlet by its initials ("the FT wrote…"), as its own masthead does.
            initials = _initials(publisher)
            if initials is not None:
                names.setdefault(initials, publisher)
        for canonical, aliases in self.lexicon.entity_aliases.items():
            for alias in aliases:
                names[alias] = fold(canonical)
        return names

    def _publishers(self, source_id: str, attribution_id: str | None) -> str:
        """The publishers' names a fact cites, joined; the same pairs recur across facts."""
        key = (source_id, attribution_id)
        names = self._publisher_names.get(key)
        if names is None:
            sources = self.library.sources
            names = self._publisher_names[key] = " ".join(
                sources[s].publisher for s in key if s is not None and s in sources
            )
        return names

    def _document(self, fact: Fact, lang: Lang, *, asked: bool = False) -> str:
        """What the index reads for a fact: its text, names, sources, caveat and topic, and
        the reader questions of content/asked.yaml (document expansion)."""
        values = {f.name: _figure_words(f, lang) for f in fact.figures}
        parts = [
            fact.text.get(lang).format_map(values),
            " ".join(fact.entities),
            self._publishers(fact.source_id, fact.attribution_id),
        ]
        if fact.caveat is not None:
            parts.append(fact.caveat.get(lang).format_map(values))
        topic = self._topic_labels.get(fact.topic)
        if topic is not None:
            parts.append(topic.get(lang))
        questions = self.lexicon.asked.get(fact.id) if asked else None
        if questions is not None:
            parts.extend(questions.get(lang))
        return " ".join(parts)

    def _explained(self, tokens: list[str]) -> set[str]:
        return {word for phrase, _ in self._explainer.find(tokens) for word in phrase}

    # ---- questions ------------------------------------------------------------------------

    def query(self, question: str, lang: Lang) -> Query:
        """The question as the index reads it; the last few readings are kept, since a search
        and the answer's direct line (qa/deciding.py) read the same question."""
        key = (question, lang)
        known = self._queries.get(key)
        if known is None:
            known = self._queries[key] = self._read(question, lang)
            if len(self._queries) > _QUERIES_KEPT:
                del self._queries[next(iter(self._queries))]
        return known

    def _read(self, question: str, lang: Lang) -> Query:
        typed = self._mended(words(fold(question)), lang)
        tokens = _without(typed, self._filler)
        corrected = self._corrected(tokens, lang)
        stems = [self._stems.stem(w, lang) for w in corrected]
        seen = tokens + corrected
        explained = self._explained(seen)
        labels = self._concept_matcher.labels(seen)
        by_stem = self._stem_concepts[lang]
        for word, stem in zip(corrected, stems, strict=True):
            if word not in explained and stem in by_stem:
                explained.add(word)
                labels.append(by_stem[stem])
        unknown = self._unknown(corrected, stems, explained, lang)
        unsourced = self._unknown(corrected, stems, explained, lang, facts_only=True)
        if "revenue_share" not in labels and self._holds(tokens, question):
            # The share asked for is a stake: its share word is then explained, not a word a
            # revenue fact's "part de ses revenus" would cover.
            labels.append("stake")
            explained |= self._share_words
        concepts = [_CONCEPT + c for c in dict.fromkeys(labels)]
        entities = frozenset(self._entity_matcher.labels(self._as_named(seen)))
        entity_tokens = [_ENTITY + e for e in sorted(entities)]
        units = self._units(concepts + entity_tokens, corrected, stems, explained, lang)
        cues = {kind: matcher.matches(tokens) for kind, matcher in self._cues.items()}
        if cues["time"] and _when_is_a_clause(tokens, self._cues["time"].find(tokens)):
            cues["time"] = False
        # "En tout" and "so far" are filler to ranking, not to what is asked.
        cues["total"] = self._cues["total"].matches(typed)
        # A percent sign with no number asks for a share ("msft % in oai"); with one, it quotes.
        cues["share"] = cues["share"] or _BARE_PERCENT.search(question) is not None
        asks = "?" in question or cues["question"]
        wants = _wanted_kinds(cues)
        if wants and self._asks_what_was_said(tokens):
            wants = frozenset()
        return Query(
            tuple(concepts + entity_tokens + stems),
            unknown,
            entities,
            frozenset(numbers(question)),
            wants,
            why=cues["why"],
            event=cues["event"] or _french_perfect(tokens, entities),
            units=units,
            injection=cues["injection"] and not asks,
            who=cues["who"],
            total=cues["total"],
            source=cues["source"],
            quoted=_quoted_kinds(question, tokens),
            unsourced=unsourced,
            paid=self._payment(tokens),
            unheld=self._asks_of_unknown(question, tokens, frozenset(unknown), lang),
        )

    def background_for(self, query: Query) -> frozenset[str]:
        """The background facts, unless the question asks about history (or quotes a figure,
        which a background fact may hold): what the ranking holds back, for later stages."""
        if _CONCEPT + "history" in query.tokens or (query.numbers and not query.total):
            return frozenset()
        return self._background_ids

    def spelled(self, question: str, lang: Lang) -> str:
        """The question with the words the index corrects written as corrected ("Satrgate"
        -> "stargate"), for readers of the text such as the semantic model."""
        known = self._known_words

        def respelled(match: re.Match[str]) -> str:
            word = fold(match.group(0))
            if word in known or not word.isalpha():
                return match.group(0)
            cue = self._cue_word(word)
            return cue if cue != word else self._correct(word, lang)

        return _LETTERS.sub(respelled, question)

    def _mended(self, tokens: list[str], lang: Lang) -> list[str]:
        """Words split or glued by a phone or a dictation: "micro soft", "open a i", "in vest"
        are joined when together they make a word of the store and one part is no word of it
        (or a lone letter); in French, "lipo", "dopenai" lose the elided article a missing
        apostrophe glued on."""
        known, skip = self._known_words, self._skip_either
        french = lang == "fr"

        def content(word: str) -> bool:
            return len(word) >= 3 and word in known and word not in skip

        def fragment(word: str) -> bool:
            return word not in known or (len(word) == 1 and word != "a")

        tokens = [self._cue_word(t) if t not in known else t for t in tokens]
        mended: list[str] = []
        at = 0
        while at < len(tokens):
            for size in (3, 2):
                parts = tokens[at : at + size]
                joined = "".join(parts)
                if len(parts) == size and content(joined) and any(map(fragment, parts)):
                    mended.append(joined)
                    at += size
                    break
            else:
                word = tokens[at]
                glued = french and len(word) >= 4 and word[0] in "ld" and word[1] in "aeiouh"
                mended.append(
                    word[1:] if glued and not content(word) and content(word[1:]) else word
                )
                at += 1
        return mended

    def _asks_what_was_said(self, tokens: list[str]) -> bool:
        """ "What does the article say about how much…", "que dit l'article sur combien…":
        a saying word within five words after "what"."""
        said = {word for phrase, _ in self._cues["said"].find(tokens) for word in phrase[:1]}
        return any(
            t in _WHAT and said.intersection(tokens[i + 1 : i + 6]) for i, t in enumerate(tokens)
        )

    def _holds(self, tokens: list[str], question: str) -> bool:
        """Whether the question asks what one company holds in another: a share word (or a
        bare %), one company named right after a ``within`` word, another named as well."""
        if not (_BARE_PERCENT.search(question) or self._share_words.intersection(tokens)):
            return False
        mentions = self._mentions(tokens)
        held = {
            name
            for start, _, name in mentions
            if any(_ends(tokens, start, w) for w in self._within)
        }
        return any(held - {name} for _, _, name in mentions)

    def _asks_of_unknown(
        self, question: str, tokens: list[str], unknown: frozenset[str], lang: Lang
    ) -> bool:
        """Whether the word right after a question word ("quelles pertes", "combien de
        puces", "who sits") is one the store has never seen: it names what is asked."""
        if not unknown:
            return False
        skip = self._skip[lang]
        focuses = [fold(match.group(1)) for match in _ASKS_WHO.finditer(question)]
        for at, token in enumerate(tokens[:-1]):
            if token in _COUNTING_WORDS and tokens[at + 1] in _COUNTING and at + 2 < len(tokens):
                focuses.append(tokens[at + 2])
            elif token in _WHICH_WORDS:
                focuses.append(tokens[at + 1])
        # Three letters or fewer are mostly chat abbreviations ("yrs", "ppl"), not names.
        return any(
            len(f) > 3 and f not in skip and self._correct(f, lang) in unknown for f in focuses
        )

    def _cue_word(self, word: str) -> str:
        """The cue word one edit from ``word``, a word of no list or fact ("qusnd" is
        "quand"); a four-letter word only with two letters swapped ("muhc", not "mach")."""
        return _one_edit_to(word, self._cue_words)

    def _payment(self, tokens: list[str]) -> Paid:
        """Who paid whom, when the question says so: the company named before the first paying
        word paid, unless a payer word names another after it ("openai's investment from
        microsoft"); the company after a payee word ("in", "dans"), or right after the verb
        ("paying microsoft"), was paid."""
        phrases = {phrase for phrase, _ in self._pays.find(tokens)}
        verb = next(
            (
                (i, i + len(p))
                for i in range(len(tokens))
                for p in phrases
                if _starts(tokens, i, p)
            ),
            None,
        )
        if verb is None:
            return None
        before: list[tuple[int, str]] = []
        after: list[tuple[int, str]] = []
        for start, end, name in self._mentions(tokens):
            (before if end <= verb[0] else after).append((start, name))
        payer = before[-1][1] if before else None
        payee = None
        for start, name in (m for m in after if m[0] >= verb[1]):
            if any(_ends(tokens, start, w) for w in self._paid_by):
                payer, payee = name, payee or (before[-1][1] if before else None)
            elif payee is None and (
                start == verb[1] or any(_ends(tokens, start, w) for w in self._paid_to)
            ):
                payee = name
        if payer is None and payee is None:
            return None
        return payer, payee

    def _mentions(self, tokens: list[str]) -> list[tuple[int, int, str]]:
        """Each company named in the tokens: where it starts and ends, and its canonical name."""
        tokens = self._as_named(tokens)
        found, i = [], 0
        while i < len(tokens):
            for size in (4, 3, 2, 1):
                name = self._entity_names.get(" ".join(tokens[i : i + size]))
                if name is not None:
                    found.append((i, i + size, name))
                    i += size
                    break
            else:
                i += 1
        return found

    def _as_named(self, tokens: list[str]) -> list[str]:
        """``tokens``, with a company's name blanked where a ``not_names`` phrase makes it a
        common word ("openai's for-profit arm"), so that it names no company there."""
        found = self._not_names.find(tokens)
        if not found:
            return tokens
        named = list(tokens)
        for phrase, _ in found:
            for start in _starts_of(tokens, phrase):
                for at in range(start, start + len(phrase)):
                    if tokens[at] in self._entity_names:
                        named[at] = ""
        return named

    def pays_as_asked(self, query: Query, fact_id: str) -> bool:
        """Whether the fact's amounts include one paid as the question says (by whom, to
        whom), when it asks for an amount: $500 billion of datacenters is no answer to "how
        much did Oracle invest in Microsoft?". A fact with no amount is not in question."""
        if query.paid is None or "money" not in query.wants:
            return True
        amounts = [f for f in self.library.facts[fact_id].figures if f.kind == "money"]
        if not amounts:
            return True
        payer, payee = query.paid
        return any(
            (payer is None or payer in self._parties(f.paid_by))
            and (payee is None or payee in self._parties(f.paid_to))
            for f in amounts
        )

    def _parties(self, name: str | None) -> set[str]:
        """A payer or payee as questions name it: the company, and its maker for a product
        (what is paid to Azure is paid to Microsoft)."""
        if name is None:
            return set()
        company = self._entity_names.get(fold_name(name), fold_name(name))
        maker = self.lexicon.products.get(company)
        return {company} if maker is None else {company, maker}

    def _corrected(self, tokens: list[str], lang: Lang) -> list[str]:
        """The question's content words, misspellings corrected."""
        content = [w for w in tokens if w not in self._skip[lang]]
        # Words the lexicon knows are never "corrected" into a neighbour ("entrer" -> "entre").
        known = self._explained(tokens)
        skip = self._skip[lang]
        corrected = (w if w in known else self._correct(w, lang) for w in content)
        # A word one letter from a function word is a misspelt function word ("sttill",
        # "thoes"), and says no more than one: it is dropped, neither a subject nor unknown.
        return [c for c in corrected if c not in skip]

    def _unknown(
        self,
        corrected: list[str],
        stems: list[str],
        explained: set[str],
        lang: Lang,
        *,
        facts_only: bool = False,
    ) -> tuple[str, ...]:
        """Content words that neither the store's vocabulary (with its reader questions, unless
        ``facts_only``) nor the lexicon knows."""
        index = self._index[lang]
        vocab = index.vocab if facts_only else index.ranked_vocab
        return tuple(
            w
            for w, s in zip(corrected, stems, strict=True)
            # Single letters (tag names, initials) say nothing a question could be about.
            if s not in vocab and not w.isdigit() and w not in explained and len(w) > 1
        )

    def _units(
        self,
        labels: list[str],
        corrected: list[str],
        stems: list[str],
        explained: set[str],
        lang: Lang,
    ) -> tuple[str, ...]:
        """What coverage is measured on: the concepts and entities (``labels``), then the
        stems of the words they do not explain, each once."""
        vocab = self._index[lang].ranked_vocab
        # Coverage counts a concept or entity once, not again through its words' stems, so a
        # fact does not win merely for sharing the question's surface form.
        plain = [
            stem for word, stem in zip(corrected, stems, strict=True) if word not in explained
        ]
        units = labels + [stem for stem in plain if stem in vocab]
        return tuple(dict.fromkeys(units))

    def _correct(self, word: str, lang: Lang) -> str:
        """A misspelt word becomes the closest word the store knows ("Micorsoft")."""
        # Four letters or fewer: one edit away from too many real words ("bold" -> "told").
        if (
            len(word) < 5
            or word.isdigit()
            or self._stems.stem(word, lang) in self._index[lang].vocab
        ):
            return word
        # One edit (a transposition counts as one) up to eight letters, two beyond: closer
        # than that, real words collide ("atteint" is not a typo of "attente").
        limit = 1 if len(word) <= 8 else 2
        key = (word, lang)
        corrected = self._corrections.get(key)
        if corrected is None:
            # The store's own words first; the lexicon's only when none is that close, so a
            # word the facts hold wins a tie ("openi" is "openai", not the lexicon's "open").
            corrected = self._closest(word, lang, limit)
            if corrected is None and word not in everyday_words():
                # An everyday word is no typo of the lexicon's ("print" is not "point").
                corrected = self._closest(word, _LEXICON, limit)
            corrected = corrected or word
            self._corrections[key] = corrected
            if len(self._corrections) > _CORRECTIONS_KEPT:
                del self._corrections[next(iter(self._corrections))]
        return corrected

    def _closest(self, word: str, tier: Lang | Literal["lexicon"], limit: int) -> str | None:
        near = self._near_lengths(tier, len(word), limit)
        # Levenshtein first, bit-parallel and several times faster: a word within `limit`
        # Damerau-Levenshtein edits is within twice that many Levenshtein edits (a
        # transposition is two substitutions), and the survivors keep their order.
        close = process.extract(
            word, near, scorer=Levenshtein.distance, score_cutoff=2 * limit, limit=None
        )
        candidates = [near[i] for i in sorted(i for _, _, i in close)]
        match = process.extractOne(
            word, candidates, scorer=DamerauLevenshtein.distance, score_cutoff=limit
        )
        return None if match is None else str(match[0])

    def _near_lengths(self, lang: Lang | Literal["lexicon"], length: int, limit: int) -> list[str]:
        """The store's words whose length is within ``limit`` of ``length``, in the order of
        ``_surface``: no other word can be within ``limit`` edits, and the same order keeps
        the same match among equals. Scanning the whole vocabulary for each misspelt word
        cost 2 ms a word at 100,000 facts."""
        key = (lang, length)
        near = self._near.get(key)
        if near is None:
            lengths = range(length - limit, length + limit + 1)
            # Sorted runs, merged by one sort: the order of _surface.
            near = self._near[key] = sorted(
                itertools.chain.from_iterable(self._by_length.get((lang, n), []) for n in lengths)
            )
        return near

    def asks_for_source(self, question: str) -> bool:
        """ "who reported that?", "qui l'affirme ?": about the last answer, not a new topic."""
        tokens = words(fold(question))
        # Short, or nothing but the cue and a word or two ("et ça vient d'où, ce chiffre ?"):
        # a question with its own subject ("who reported the $13bn?") is searched instead.
        content = [t for t in tokens if t not in self._skip_either]
        return (
            (len(tokens) <= 6 or len(content) <= 2)
            and self._cues["source"].matches(tokens)
            and not self._cues["injection"].matches(tokens)
        )

    def result_for(self, fact_ids: tuple[str, ...]) -> SearchResult:
        """These facts as a found result, for answers that repeat a previous one."""
        hits = tuple(Hit(f, 1.0, 1.0) for f in fact_ids if f in self.library.facts)
        return SearchResult(hits, bool(hits), "ok" if hits else "empty")

    def foreign(self, question: str) -> list[str]:
        """Companies or people the question names that no fact covers."""
        known = self._known_words
        tokens = [t if t in known else self._foreign_spelling(t) for t in words(fold(question))]
        listed = [
            e for e in self._foreign_matcher.labels(tokens) if e not in self._covered_foreign
        ]
        rivals = self.lexicon.rival_clouds
        if rivals and any(e in rivals for e in listed):
            others = [t for t in tokens if t not in rivals]
            if "cloud" in self._concept_matcher.labels(others):
                listed = [e for e in listed if e not in rivals]
        mentions = self._mentions(tokens)
        named = self._unknown_names(question) + self._coordinated_unknowns(tokens, mentions)
        if self._own_takings(question, tokens, mentions):
            named.append("takings")
        return list(dict.fromkeys(listed + named))

    def _foreign_spelling(self, word: str) -> str:
        """The word of a foreign name or subject one edit from ``word`` ("mistraal", "titok",
        "shaare price"), for a word no list, fact or dictionary knows ("monte" is no "meta");
        four letters only if two are swapped."""
        if word in everyday_words():
            return word
        return _one_edit_to(word, self._foreign_words)

    def _held_topics(self, names: list[str], question: str, lang: Lang) -> bool:
        """Whether every foreign name is a neighbouring subject's word that a fact holds beside
        another word of the question: "et du côté des employés et du public ?" asks what the
        fact on expectations says of employees; "how many employees does openai have?" has no
        other word, and stays out of scope."""
        topics = self._foreign_topic_words
        if not all(name in topics for name in names):
            return False
        index = self._index[lang]
        stems = {self._stems.stem(name, lang) for name in names}
        others = {t for t in self.query(question, lang).units if t[0] not in (_CONCEPT, _ENTITY)}
        others -= stems
        if not others or not stems <= index.vocab.keys():
            return False
        holding = np.flatnonzero(np.all([index.scores([s]) > 0 for s in stems], axis=0))
        return any(others & index.doc_terms(int(p)) for p in holding)

    def _own_takings(
        self, question: str, tokens: list[str], mentions: list[tuple[int, int, str]]
    ) -> bool:
        """Asks for a figure of one company's own takings ("openai's revenue in 2025"), not of
        what it shares: no fact holds a company's revenue."""
        if not self._takings.matches(tokens) or self._takings_shared.matches(tokens):
            return False
        cues = self._cues
        figure = any(cues[k].matches(tokens) for k in ("quantity", "money", "share"))
        if not (figure or _YEAR.search(question)):
            return False
        return len({name for *_, name in mentions}) < 2

    def _unknown_names(self, question: str) -> list[str]:
        """Capitalised words inside a sentence that nothing in the store or lexicon knows:
        most likely a company or person the facts do not cover ("TikTok")."""
        names = []
        for match in _NAME.finditer(self._without_injection(visible(question))):
            word = fold(match.group(0))
            if word and " " not in word and self._new_name(word):
                names.append(word)
        return names

    def _new_name(self, word: str) -> bool:
        """Unknown to the store and the lexicon, and no misspelt known word ("Micorsoft")."""
        return word not in self._known_words and not any(
            self._correct(word, lang) != word for lang in ("fr", "en")
        )

    def _coordinated_unknowns(
        self, tokens: list[str], mentions: list[tuple[int, int, str]]
    ) -> list[str]:
        """Words nothing in the store knows, joined to a company it does ("oracle et tiktok",
        "microsoft and inflection"): most likely another company, even written in lower case."""
        names = []
        for start, end, _ in mentions:
            for joint, other in ((end, end + 1), (start - 1, start - 2)):
                if not (0 <= other < len(tokens)) or tokens[joint] not in _JOINTS:
                    continue
                word = tokens[other]
                if len(word) < 3 or word.isdigit() or not self._new_name(word):
                    continue
                # A word of the reader questions ("ou seulement") is no new name either.
                if any(
                    self._stems.stem(word, lang) in self._index[lang].ranked_vocab
                    for lang in ("fr", "en")
                ):
                    continue
                names.append(word)
        return names

    def _without_injection(self, question: str) -> str:
        """The question without its sentences that try to override the rules: the name an
        injection gives the bot ("you are now FreeGPT") is no company the reader asks about."""
        sentences = _SENTENCE.split(question)
        injection = self._cues["injection"]
        return " ".join(s for s in sentences if not injection.matches(words(fold(s))))

    def search(
        self,
        question: str,
        lang: Lang,
        *,
        topic_hint: str | None = None,
        context: str | None = None,
        k: int = 3,
        previous: tuple[str, ...] = (),
    ) -> SearchResult:
        """Rank facts for ``question`` asked in ``lang``; ``context`` is a previous question
        whose words help a short follow-up ("and the founders?"); ``previous`` are the facts
        the follow-up's earlier question was answered with.

        A message of several sentences that is not answered whole is answered by its first
        question the facts answer: "how much has Microsoft put in? also, is msft a buy?" gets
        the investment, and the stock tip no fact holds is not what the reader is refused."""
        question = visible(question)
        if context is not None:
            swapped = self._with_other_company(question, context, lang)
            if swapped is not None:
                # "Et celle de microsoft ?" after the foundation's stake: the same question
                # about another company, asked whole.
                result = self._search(swapped, lang, topic_hint, None, k, ())
                if result.found:
                    return result
        whole = self._search(question, lang, topic_hint, context, k, previous)
        if whole.found:
            return whole
        for part in self._questions_within(question):
            result = self._search(part, lang, topic_hint, None, k, ())
            if result.found:
                return result
        return whole

    def _with_other_company(self, question: str, context: str, lang: Lang) -> str | None:
        """The earlier question with its first company replaced by the one a follow-up names
        and nothing else ("and softbank?"), or None."""
        query = self.query(question, lang)
        own = [u for u in query.units if not u.startswith(_ENTITY)]
        if own or query.unknown or len(query.entities) != 1:
            return None
        (company,) = query.entities
        earlier = words(fold(context))
        mentions = [m for m in self._mentions(earlier) if m[2] != company]
        if not mentions or company in {m[2] for m in self._mentions(earlier)}:
            return None
        start, end, _ = mentions[0]
        rest = " ".join([*earlier[:start], *earlier[end:]])
        if not self.query(rest, lang).units:
            # Nothing was asked of the company but itself ("c'est quoi stargate"): "et
            # microsoft dans tout ça ?" asks about the two together.
            return None
        return " ".join([*earlier[:start], company, *earlier[end:]])

    def _questions_within(self, message: str) -> list[str]:
        """The questions of a message of several sentences, each alone, unless a sentence
        that asks nothing names a company or subject the facts do not cover: "Mistral has a
        deal too. How much did they invest?" is about Mistral, which the question alone is not."""
        sentences = [s for s in _SENTENCE.split(message) if s.strip()]
        if len(sentences) < 2:
            return []
        cues = self._cues
        asking = []
        for sentence in sentences:
            tokens = _without(words(fold(sentence)), self._filler)
            if cues["injection"].matches(tokens):
                continue
            if "?" in sentence or self._opens_a_question(tokens):
                asking.append(sentence)
            elif self.foreign(sentence):
                return []
        return asking

    def _opens_a_question(self, tokens: list[str]) -> bool:
        """Whether the sentence starts with a question word, after chatter ("ok so how much"):
        "mistral has a deal too" holds "has" but asks nothing."""
        openings = {phrase for phrase, _ in self._cues["question"].find(tokens)}
        for at, word in enumerate(tokens):
            if any(tuple(tokens[at : at + len(p)]) == p for p in openings):
                return True
            if word not in self._skip_either:
                return False
        return False

    def _search(
        self,
        question: str,
        lang: Lang,
        topic_hint: str | None,
        context: str | None,
        k: int,
        previous: tuple[str, ...],
    ) -> SearchResult:
        foreign = self.foreign(question)
        if foreign and not self._held_topics(foreign, question, lang):
            return SearchResult((), False, "foreign")
        query = self.query(question, lang)
        if query.injection:
            return SearchResult((), False, "injection")
        if not query.tokens and not query.entities and context is None:
            return SearchResult((), False, "empty")
        query, ranked = self._rank(query, lang, topic_hint, context, previous)
        count = min(max(k * 4, 10), len(ranked))
        if count == 0:
            return SearchResult((), False, "empty")
        candidates = np.argpartition(-ranked, count - 1)[:count]
        order = candidates[np.argsort(-ranked[candidates])]
        topics = self._closest_topics(order, ranked)
        if float(ranked[order[0]]) <= 0:
            return SearchResult((), False, "weak", topics)
        index = self._index[lang]
        hits = self._hits(query, order, ranked, index, k)
        decided = self._decide(query, hits, topics)
        if decided.reason == "other-subject":
            return self._naming_all(query, order, ranked, index, hits[0]) or decided
        if not decided.found or query.unknown:
            return decided
        # Found as ranked; which fact comes first is then also a matter of coverage.
        ranked, order = self._by_coverage(query, order, ranked, index)
        again = self._decide(query, self._hits(query, order, ranked, index, k), topics)
        return again if again.found else decided

    def _rank(
        self,
        query: Query,
        lang: Lang,
        topic_hint: str | None,
        context: str | None,
        previous: tuple[str, ...] = (),
    ) -> tuple[Query, npt.NDArray[np.float64]]:
        """Every fact's score: BM25 times the boosts and the prior. A follow-up keeps its own
        cues; the earlier question (``context``) lends words at half weight, and, unless the
        follow-up names a subject of its own, the facts it was answered with rank higher: "and
        in dollars?" asks another attribute of the same fact."""
        index = self._index[lang]
        scores = index.scores(query.tokens)
        same_subject = False
        if context:
            earlier = self.query(context, lang)
            labels = {t for t in query.tokens if t[0] in (_CONCEPT, _ENTITY)}
            # "and in dollars?" asks more of the same; "and the renegotiation?" moves on, and
            # so does "did they file anything yet?" after the IPO's hurdles: a word of its own.
            said = set(earlier.tokens) | set(earlier.units)
            same_subject = labels <= said and set(query.units) <= said
            scores = scores + 0.5 * index.scores(earlier.tokens)
            query = replace(
                query,
                entities=query.entities | earlier.entities,
                context_units=tuple(u for u in earlier.units if u not in query.units),
            )
        boost = self._boost(query, topic_hint)
        if context and previous and same_subject:
            positions = [self._positions[f] for f in previous if f in self._positions]
            boost[positions] *= 2.5
        if query.why:
            # A reason is asked: facts that state a purpose or a cause say it.
            boost *= self._reason_factor(lang)
        return query, scores * boost * self._source_prior(query)

    def _reason_factor(self, lang: Lang) -> npt.NDArray[np.float64]:
        """1.15 for facts whose text in ``lang`` states a purpose or a cause, else 1; found
        once per index."""
        factor = self._reasons.get(lang)
        if factor is None:
            scores = self._index[lang].scores((_CONCEPT + "purpose", _CONCEPT + "cause"))
            factor = self._reasons[lang] = np.where(scores > 0, 1.15, 1.0)
        return factor

    def _source_prior(self, query: Query) -> npt.NDArray[np.float64]:
        """The prior, unless the question is about who said it: naming an outlet ("what does
        the article say…") asks for its reports, and "who reported…" presumes a report; who
        said it then matters, not how official it is."""
        named = [self._outlet_positions[e] for e in query.entities if e in self._outlet_positions]
        if named:
            prior = self._unofficial_prior.copy()
            for positions in named:
                prior[positions] *= 1.5
            return prior
        if query.source:
            return self._reported
        return self._prior

    def _by_coverage(
        self,
        query: Query,
        order: npt.NDArray[np.intp],
        ranked: npt.NDArray[np.float64],
        index: _LangIndex,
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.intp]]:
        """The best candidates again, each score times the square root of (0.2 + its
        coverage): of two facts that score alike, the one that holds more of what was asked
        comes first ("are the talks still going on or did they close a deal?" → the definitive
        agreement, not a fact about the talks alone). Only once the question is found as
        ranked, and not for one with words the store lacks: re-ranking by coverage finds a fact
        that passes on the known words alone ("how much did Microsoft pay for Activision?",
        "when did Microsoft go public?")."""
        ranked = ranked.copy()
        # Below this share of the best score a fact could not come first even with all the
        # coverage (the factor spans sqrt(0.2) to sqrt(1.2)): its coverage is not computed.
        floor = float(ranked[order[0]]) * math.sqrt(0.2 / 1.2)
        contenders = order[ranked[order] >= floor]
        for position in contenders:
            ranked[position] *= math.sqrt(0.2 + self._coverage(query, int(position), index))
        return ranked, contenders[np.argsort(-ranked[contenders], kind="stable")]

    def _hits(
        self,
        query: Query,
        order: npt.NDArray[np.intp],
        ranked: npt.NDArray[np.float64],
        index: _LangIndex,
        k: int,
    ) -> list[Hit]:
        """The best ``k`` facts in ``order`` that score ``keep_ratio`` of the best, with their
        coverage."""
        best = float(ranked[order[0]])
        hits: list[Hit] = []
        for position in order:
            score = float(ranked[position])
            if score < best * self.thresholds.keep_ratio or len(hits) == k:
                break
            coverage = self._coverage(query, int(position), index)
            hits.append(Hit(self._ids[position], score, coverage))
        return hits

    def _decide(self, query: Query, hits: list[Hit], topics: tuple[str, ...]) -> SearchResult:
        """Found or not: the best hit must clear both thresholds and carry a wanted figure."""
        if query.unheld:
            return SearchResult((), False, "unheld", topics)
        if query.why and query.event and query.unsourced and not query.quoted:
            # "Why did the SEC reject…?": the store cannot confirm what its facts have no word
            # for; a reader question's word ("why did microsoft pull out?") confirms nothing.
            # "Why would OpenAI list?" presumes no event: the facts may give the reason.
            # A quoted figure is the premise instead ("why until 2035?"), and a fact carrying
            # that kind of figure settles it.
            return SearchResult((), False, "premise", topics)
        top = hits[0]
        if top.score < self.thresholds.min_score or top.coverage < self.thresholds.min_coverage:
            return SearchResult(tuple(hits), False, "weak", topics)
        if query.wants and not (self._kinds[self._positions[top.fact_id]] & query.wants):
            return SearchResult((), False, "no-figure", topics)
        if query.wants and top.coverage < self.thresholds.min_figure_coverage:
            # A figure stated is the costliest mistake ("how much did SoftBank put into
            # OpenAI's last round?" is not the venture's $500 billion): the lexical evidence
            # must be stronger, or the semantic second opinion must back it (qa/deciding.py).
            return SearchResult(tuple(hits), False, "weak", topics)
        if not self.names_all(query, top.fact_id):
            return SearchResult((), False, "other-subject", topics)
        if not self.pays_as_asked(query, top.fact_id):
            # The companies asked about, but no amount paid between them: what the question
            # asks is not in the facts (a fact naming them all would not hold it either).
            return SearchResult((), False, "no-figure", topics)
        rest = [h for h in hits[1:] if h.coverage >= self.thresholds.min_coverage / 2]
        return SearchResult((top, *rest), True, "ok", topics)

    def _naming_all(
        self,
        query: Query,
        order: npt.NDArray[np.intp],
        ranked: npt.NDArray[np.float64],
        index: _LangIndex,
        top: Hit,
    ) -> SearchResult | None:
        """When the best fact misses a company the question names, the next candidate that
        names them all and holds as much of the question, even without the figure asked:
        "how much did Microsoft put into Stargate?" is answered by the fact that Microsoft is
        a technology partner, not a funder."""
        for position in order[1:]:
            fact_id = self._ids[position]
            if not self.holds_parties(query, fact_id):
                continue
            coverage = self._coverage(query, int(position), index)
            if coverage < top.coverage:
                return None
            return SearchResult((Hit(fact_id, float(ranked[position]), coverage),), True, "ok")
        return None

    def holds_parties(self, query: Query, fact_id: str) -> bool:
        """Whether the fact names every company asked about and pays as asked: what any fact
        put first must hold."""
        return self.names_all(query, fact_id) and self.pays_as_asked(query, fact_id)

    def names_all(self, query: Query, fact_id: str) -> bool:
        """Whether the fact names every company the question names that some fact does: "when
        did Microsoft go public?" is not answered by OpenAI's filing, nor "how much did Nvidia
        invest in OpenAI?" by Microsoft's investment."""
        position = self._positions[fact_id]
        for entity in query.entities:
            if entity not in self._entity_positions or self._names(entity, position):
                continue
            # A product is its maker's: "openai's compute on azure" is Microsoft's to answer.
            maker = self.lexicon.products.get(entity)
            if maker is None or not self._names(maker, position):
                return False
        return True

    def _names(self, entity: str, position: int) -> bool:
        # The postings are sorted: one binary search, not a set per company at build time.
        positions = self._entity_positions.get(entity, _NONE)
        at = int(np.searchsorted(positions, position))
        return at < len(positions) and positions[at] == position

    def _boost(self, query: Query, topic_hint: str | None) -> npt.NDArray[np.float64]:
        boost = np.ones(len(self._ids))
        # np.add.at rather than boost[positions] += …: the same sums (each list holds a fact
        # once), at half the cost for a company most facts name.
        for entity in query.entities:
            np.add.at(boost, self._entity_positions.get(entity, _NONE), 0.15)
        for number in query.numbers:
            np.add.at(boost, self._number_positions.get(number, _NONE), 0.6)
        if topic_hint:
            np.add.at(boost, self._topic_positions.get(topic_hint, _NONE), 0.3)
        for topic, concept in TOPIC_CONCEPTS.items():
            if _CONCEPT + concept in query.tokens:
                np.add.at(boost, self._topic_positions.get(topic, _NONE), 0.2)
        if query.who:
            boost *= self._many_named
        if query.wants:
            boost *= self._kind_factor(query.wants, 0.3)
        if query.quoted:
            # A figure quoted is a claim to confirm or correct: a fact with a figure of that
            # kind settles it ("only 5 %" -> the fact with the percentages).
            boost *= self._kind_factor(query.quoted, 0.5)
        if query.total:
            # "Microsoft put 1 billion in, in total?": the sum to date, which no background
            # fact holds, even when a figure quoted is one of theirs.
            boost *= np.where(self._background < 1.0, 0.3, 1.0)
        elif _CONCEPT + "history" not in query.tokens and not query.numbers:
            # Background facts answer "what happened before" questions, not current ones.
            boost *= self._background
        return boost

    def _kind_factor(self, kinds: frozenset[str], otherwise: float) -> npt.NDArray[np.float64]:
        """1 for facts carrying a figure of one of ``kinds``, ``otherwise`` for the rest; the
        few combinations questions ask for are each built once per index."""
        key = (kinds, otherwise)
        factor = self._kind_factors.get(key)
        if factor is None:
            carries = np.zeros(len(self._ids), dtype=bool)
            for kind in kinds:
                carries |= self._kind_masks[kind]
            factor = self._kind_factors[key] = np.where(carries, 1.0, otherwise)
        return factor

    def _coverage(self, query: Query, position: int, index: _LangIndex) -> float:
        """Share of the question's weight (idf) found in the fact; unseen words weigh most.

        Units are the question's concepts and the stems of words no concept, entity or cue
        explains: "mis sur la table" counts once, as the invest concept.
        """
        weights = {t: index.idf(t) for t in query.units}
        for unit in query.context_units:
            weights[unit] = 0.5 * index.idf(unit)
        for word in query.unknown:
            weights[f"?{word}"] = self.thresholds.unknown_weight * index.unseen_idf
        total = sum(weights.values())
        if total == 0:
            return 0.0
        doc = index.doc_terms(position)
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


_PERCENT = re.compile(r"\d\s*(?:%|pour ?cent|percent|per cent)", re.IGNORECASE)
_MONEY = re.compile(
    r"[$€£]\s*\d|\d\s*(?:[$€£]|milliards?|billions?|bn|mds?|millions?|dollars?|euros?)(?!\w)",
    re.IGNORECASE,
)
_YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")
_SHARE_WORDS = frozenset({"half", "moitie", "majority", "majorite", "tiers", "third", "quart"})


# Words that join two companies' names: "entre Oracle et TikTok", "Microsoft and Inflection".
_JOINTS = frozenset({"and", "et", "or", "ou", "vs", "versus"})


# "What were they arguing over when they sat down…": after another question word, "when"
# opens a clause and asks no time.
_WHAT = frozenset({"what", "whats", "wat", "que", "qu", "quoi", "koi"})
_WHEN = frozenset({"when", "wen", "quand", "qd", "lorsque", "lorsqu"})
_ASKING = frozenset({
    "what", "whats", "how", "which", "who", "whos", "why", "wat",
    "quoi", "koi", "comment", "qui", "ki", "pourquoi", "quel", "quelle", "quels", "quelles",
    "combien", "cmb",
})  # fmt: skip


def _when_is_a_clause(tokens: list[str], time_words: list[tuple[tuple[str, ...], str]]) -> bool:
    """Whether the only time words are a lone "when" that follows another question word."""
    if not all(len(phrase) == 1 and phrase[0] in _WHEN for phrase, _ in time_words):
        return False
    first = next((i for i, t in enumerate(tokens) if t in _WHEN), None)
    return first is not None and bool(_ASKING.intersection(tokens[:first]))


def _one_edit_to(word: str, targets: Sequence[str]) -> str:
    """The first of ``targets`` one edit from ``word`` (a transposition counts as one), or
    ``word``; a word of four letters only with two of them swapped, shorter never: one edit
    from a short word reaches too many others."""
    if len(word) < 4 or word.isdigit():
        return word
    match = process.extractOne(word, targets, scorer=DamerauLevenshtein.distance, score_cutoff=1)
    if match is None:
        return word
    target = str(match[0])
    return target if len(word) > 4 or sorted(target) == sorted(word) else word


def _starts(tokens: list[str], at: int, phrase: tuple[str, ...]) -> bool:
    return tuple(tokens[at : at + len(phrase)]) == phrase


def _ends(tokens: list[str], at: int, phrase: tuple[str, ...]) -> bool:
    """Whether ``phrase`` comes right before position ``at``."""
    return at >= len(phrase) and tuple(tokens[at - len(phrase) : at]) == phrase


def _initials(name: str) -> str | None:
    """ "ft" for "financial times": the initials of a name of two to four plain words."""
    parts = [w for w in name.split(" ") if w != "the"]
    if not 2 <= len(parts) <= 4 or not all(w.isalpha() for w in parts):
        return None
    return "".join(w[0] for w in parts)


# French perfect tense, folded: "a" then (after an adverb) a past participle ("a rejeté", "a
# déjà validé", "a vendu"); "à" folds to "a" too, so what follows must read as a participle.
_PARTICIPLE = re.compile(r"[a-z]{2,}(?:e|es|ee|ees|u|us|is|it)")
_ADVERBS = frozenset({"deja", "bien", "vraiment", "finalement", "jamais", "pas", "enfin", "aussi"})


def _french_perfect(tokens: list[str], entities: frozenset[str]) -> bool:
    """Whether the folded question has "a" + past participle; a company's name ("à openai")
    is none."""
    named = {w for e in entities for w in e.split()}
    for at, word in enumerate(tokens[:-1]):
        if word != "a":
            continue
        following = tokens[at + 1 : at + 3]
        verb = following[1] if following[0] in _ADVERBS and len(following) > 1 else following[0]
        if _PARTICIPLE.fullmatch(verb) and verb not in named and verb not in _DETERMINERS:
            return True
    return False


# Words after "à" that the participle endings would take for one ("à une", "à cause de").
# fmt: off
_DETERMINERS = frozenset({
    "une", "ses", "ces", "des", "les", "cette", "notre", "votre", "leurs", "quelle", "quelles",
    "tous", "plus", "eux", "elle", "elles", "celle", "celles", "quelque", "chaque", "partir",
    "propos", "cause", "peine", "nouveau", "venir", "titre", "hauteur",
})
# fmt: on


def _quoted_kinds(question: str, tokens: list[str]) -> frozenset[str]:
    """The kinds of figure the question itself states: a share, an amount, a year."""
    kinds = set()
    if _PERCENT.search(question) or _SHARE_WORDS.intersection(tokens):
        kinds.add("percent")
    if _MONEY.search(question):
        kinds.add("money")
    if _YEAR.search(question):
        kinds |= {"year", "date"}
    return frozenset(kinds)


def _without(tokens: list[str], phrases: PhraseMatcher) -> list[str]:
    """``tokens`` with every occurrence of the matched phrases taken out."""
    found = phrases.find(tokens)
    if not found:
        return tokens
    keep = [True] * len(tokens)
    for phrase, _ in found:
        for start in _starts_of(tokens, phrase):
            keep[start : start + len(phrase)] = [False] * len(phrase)
    return [t for t, k in zip(tokens, keep, strict=True) if k]


def _starts_of(tokens: list[str], phrase: tuple[str, ...]) -> Iterator[int]:
    """Every position where ``phrase`` occurs in ``tokens``, overlapping ones included."""
    size = len(phrase)
    return (s for s in range(len(tokens) - size + 1) if tuple(tokens[s : s + size]) == phrase)


def _wanted_kinds(cues: dict[str, bool]) -> frozenset[str]:
    """The figure kinds the question's cues ask for: a share, a quantity, a time."""
    wants: set[str] = set()
    if cues["money"]:
        wants |= {"money"}
    elif cues["share"]:
        wants |= {"percent"}
    elif cues["quantity"]:
        wants |= _QUANTITY_KINDS
    if cues["time"]:
        wants |= _TIME_KINDS
    return frozenset(wants)


def _authority(facts: list[Fact]) -> npt.NDArray[np.float64]:
    """What a company states on the record outranks what the press reports it said."""
    return np.array(
        [1.15 if f.status in (Status.ANNOUNCED, Status.CONFIRMED) else 1.0 for f in facts]
    )


def _currency(facts: list[Fact]) -> npt.NDArray[np.float64]:
    """Overtaken facts stay findable but yield to current ones on the same question."""
    return np.array(
        [0.7 if f.status in (Status.SUPERSEDED, Status.DENIED) else 1.0 for f in facts]
    )


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic collector: building allocates millions of small acyclic objects, and
    its passes over them cost a fifth of the build at 100,000 facts."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _inverted(
    per_fact: Iterable[Collection[Hashable]],
) -> Mapping[object, npt.NDArray[np.intp]]:
    """Value -> positions of the facts that carry it (sorted)."""
    return _Postings(per_fact)


class _Postings(Mapping[object, npt.NDArray[np.intp]]):
    """Value -> positions of the facts that carry it, sorted: every value's positions are one
    slice of a single array, taken when asked for (an array per value cost 0.1 s at 100,000
    facts, most of them for figures no question quotes)."""

    def __init__(self, per_fact: Iterable[Collection[Hashable]]) -> None:
        sets = list(per_fact)
        # Numbered in order of first occurrence by the dictionary itself, all in C.
        value_ids: defaultdict[Hashable, int] = defaultdict(itertools.count().__next__)
        ids = np.fromiter(
            map(value_ids.__getitem__, itertools.chain.from_iterable(sets)), dtype=np.intp
        )
        lengths = np.fromiter(map(len, sets), dtype=np.intp, count=len(sets))
        positions = np.repeat(np.arange(len(sets), dtype=np.intp), lengths)
        # Grouped by value with one stable sort, so each group keeps the facts' order.
        self._positions = positions[np.argsort(ids, kind="stable")]
        self._bounds = np.zeros(len(value_ids) + 1, dtype=np.intp)
        np.cumsum(np.bincount(ids, minlength=len(value_ids)), out=self._bounds[1:])
        self._ids: dict[Hashable, int] = dict(value_ids)

    def __getitem__(self, value: object) -> npt.NDArray[np.intp]:
        i = self._ids[value]
        return self._positions[self._bounds[i] : self._bounds[i + 1]]

    def __contains__(self, value: object) -> bool:
        return value in self._ids

    def __iter__(self) -> Iterator[object]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)


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


_SCALES = {
    "fr": ((1e9, "milliards"), (1e6, "millions")),
    "en": ((1e9, "billion"), (1e6, "million")),
}


@cache
def _month_names(lang: Lang) -> dict[int, str]:
    return dict(Locale.parse(lang).months["format"]["wide"])


def _figure_words(figure: Figure, lang: Lang) -> str:
    """A figure as words for indexing only: what users see goes through Babel (i18n.py), but
    formatting 200,000 figures with Babel would dominate the index build."""
    value = figure.value
    if figure.kind == "money":
        amount = float(value)
        for scale, word in _SCALES[lang]:
            if amount >= scale:
                return f"{amount / scale:g} {word} {figure.currency or ''}"
        return f"{amount:g} {figure.currency or ''}"
    if figure.kind == "percent":
        return f"{float(value) * 100:g} %"
    if figure.kind in ("date", "month"):
        parts = str(value).split("-")
        return f"{parts[0]} {_month_names(lang)[int(parts[1])]}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _figure_numbers(figure: Figure) -> tuple[float, ...]:
    """The values a question could quote for this figure: 13e9 is also "13 (billion)"."""
    value = figure.value
    if figure.kind == "percent":
        return (round(float(value) * 100, 6),)
    if figure.kind == "money":
        amount = float(value)
        return (amount, *(round(amount / scale, 6) for scale in (1e9, 1e6) if amount >= scale))
    if figure.kind in ("count", "year"):
        return (float(value),)
    if figure.kind in ("date", "month"):
        return (float(str(value)[:4]),)
    return ()
