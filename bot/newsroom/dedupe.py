"""One story, one candidate: canonical URLs, and near-duplicate titles across outlets.

Titles are compared with rapidfuzz (already a dependency of the question engine): headlines
are ten-odd words, compared against the few hundred stories of the last fortnight, so an
exact edit-distance ratio over all of them takes well under a millisecond. MinHash
(datasketch) estimates Jaccard similarity of shingle sets, which is noisy on strings this
short, and its locality-sensitive index pays off only at millions of documents.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from rapidfuzz import fuzz, process

from bot.core.candidates import Candidate
from bot.core.text import fold

# Query parameters that say how a reader arrived, never which page: dropped from links.
_TRACKING_PREFIXES = ("utm_", "mc_", "pk_", "piwik_", "hsa_", "_hs", "oly_", "vero_")
_TRACKING = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "igshid",
        "ocid", "cmpid", "cmp", "icid", "ito", "ref", "ref_src", "ref_url", "referrer", "src",
        "source", "spm", "xtor", "at_medium", "at_campaign", "at_source", "ns_mchannel",
        "ns_source", "ns_campaign", "ncid", "sr_share", "share", "smid", "rss", "feed",
        "cid", "s_cid", "guccounter", "guce_referrer", "guce_referrer_sig", "mkt_tok",
    }
)  # fmt: skip
_DEFAULT_PORTS = {"http": 80, "https": 443}
# " - Reuters", " | The Verge", " — Le Monde": an outlet's name after the headline.
_OUTLET_SUFFIX = re.compile(r"\s+[-|–—:]\s+([^-|–—]{1,40})$")
TITLE_CUTOFF = 88.0  # token_sort_ratio: same words, a word or two more, any order
TITLE_WINDOW = dt.timedelta(days=14)  # a like headline after that is a new story
_MIN_TITLE_WORDS = 4  # shorter ones ("OpenAI", "Weekly roundup") say too little to match
_TITLE_WORD = re.compile(r"[a-z0-9$%€£]+")
_FIGURE = re.compile(r"\d+")


def canonical_url(link: str, base: str | None = None) -> str:
    """The link as one story's address: absolute, lower-case host without ``www.`` or a
    default port, no fragment, no tracking parameters, the rest of the query sorted."""
    absolute = urljoin(base, link.strip()) if base else link.strip()
    parts = urlsplit(absolute)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().removeprefix("www.")
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host if port in (None, _DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    query = sorted(
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if key.lower() not in _TRACKING and not key.lower().startswith(_TRACKING_PREFIXES)
    )
    path = parts.path or "/"
    if len(path) > 1:
        path = path.rstrip("/") or "/"
    return urlunsplit((scheme, netloc, path, urlencode(query), ""))


def title_key(title: str) -> str:
    """A headline as titles are compared: folded, without an outlet's name after it."""
    stripped = title.strip()
    suffix = _OUTLET_SUFFIX.search(stripped)
    if (
        suffix
        and len(suffix.group(1).split()) <= 4
        and len(stripped[: suffix.start()].split()) >= 4
    ):
        stripped = stripped[: suffix.start()]
    return " ".join(_TITLE_WORD.findall(fold(stripped)))


def _figures(key: str) -> frozenset[str]:
    return frozenset(_FIGURE.findall(key))


class Deduper:
    """Which candidate, if any, an item is already a copy of: by its canonical URL, else by a
    near-identical headline first seen within ``TITLE_WINDOW``."""

    def __init__(self, candidates: Iterable[Candidate]) -> None:
        self._by_url: dict[str, str] = {}
        self._titles: dict[str, tuple[str, dt.datetime]] = {}  # id -> (title key, first seen)
        for candidate in candidates:
            self.add(candidate)

    def add(self, candidate: Candidate) -> None:
        for link in candidate.links:
            self._by_url.setdefault(link.url, candidate.id)
        key = title_key(candidate.title)
        if len(key.split()) >= _MIN_TITLE_WORDS:
            self._titles[candidate.id] = (key, candidate.first_seen)

    def by_url(self, url: str) -> str | None:
        return self._by_url.get(url)

    def by_title(self, title: str, now: dt.datetime) -> str | None:
        key = title_key(title)
        if len(key.split()) < _MIN_TITLE_WORDS:
            return None
        since = now - TITLE_WINDOW
        recent = {cid: k for cid, (k, seen) in self._titles.items() if seen >= since}
        figures = _figures(key)
        for _, _, cid in process.extract(
            key, recent, scorer=fuzz.token_sort_ratio, score_cutoff=TITLE_CUTOFF, limit=5
        ):
            # "$10 billion" and "$20 billion" read alike and are two stories.
            if _figures(recent[cid]) == figures:
                return str(cid)
        return None
