"""Catalogs, locale negotiation and Babel formatting of every number and date users see."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import (
    format_date,
    format_skeleton,
    format_time,
    format_timedelta,
    get_date_format,
)
from babel.numbers import (
    format_compact_currency,
    format_compact_decimal,
    format_currency,
    format_decimal,
    format_percent,
    get_currency_symbol,
)
from babel.support import NullTranslations, Translations

from bot.config import SUPPORTED_LANGS
from bot.core.domain import Figure, Lang

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
DOMAIN = "messages"
_COMPACT_FROM = 1_000_000


def mark(context: str, message: str) -> str:
    """Marks a message with context for extraction (keyword ``mark:1c,2``); translates nothing."""
    return message


# The "of currency" phrase for every currency content/ may use: "de dollars", "d'euros".
OF_CURRENCY = {
    "USD": mark("of currency", "USD"),
    "EUR": mark("of currency", "EUR"),
}


class CatalogMissing(RuntimeError):
    """A compiled catalog is absent: users would silently get English."""


class _CompactFixLocale(Locale):
    """Works around Babel choosing "1 milliards": its exact-one compact patterns ("1") only
    hold "mille" in French, and for other magnitudes Babel falls back to the plural "other"
    instead of "one". Filling the gaps from "one" gives "1 milliard", "1 million".
    """

    @property
    def compact_decimal_formats(self) -> Any:
        formats = super().compact_decimal_formats
        return {
            style: (
                {**by_plural, "1": {**by_plural.get("one", {}), **by_plural["1"]}}
                if "1" in by_plural
                else by_plural
            )
            for style, by_plural in formats.items()
        }


_DateStyle = Literal["full", "long"]
_DAY_FIELD = re.compile(r"(?<![d'])d(?![d'])")


@cache
def _first_of_month_pattern(style: _DateStyle, locale: str) -> str:
    """The locale's date pattern with the French ordinal for the first of the month.

    CLDR writes "1 décembre 2026", but written French says "1er décembre 2026" (and only for
    the first: "2 décembre"). Babel patterns take quoted literals, so the day field becomes
    ``d'er'``.
    """
    pattern = str(get_date_format(style, locale=locale).pattern)
    if Locale.parse(locale).language != "fr":
        return pattern
    return _DAY_FIELD.sub("d'er'", pattern, count=1)


def _day_pattern(day: dt.date, style: _DateStyle, locale: str) -> str:
    if day.day == 1:
        return _first_of_month_pattern(style, locale)
    return str(get_date_format(style, locale=locale).pattern)


@dataclass(frozen=True)
class Translator:
    """Messages and formats for one language and one formatting locale (fr, fr_CA, en_GB…)."""

    lang: Lang
    locale: str
    catalog: NullTranslations

    def gettext(self, message: str) -> str:
        return self.catalog.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.catalog.ngettext(singular, plural, n)

    def pgettext(self, context: str, message: str) -> str:
        return str(self.catalog.pgettext(context, message))

    # ---- numbers and dates, always through Babel ------------------------------------------

    def date(self, day: dt.date) -> str:
        return _long_date(day, self.locale)

    def month(self, year: int, month: int) -> str:
        return format_skeleton("yMMMM", dt.date(year, month, 1), locale=self.locale)

    def moment(self, instant: dt.datetime, zone: str) -> str:
        """A weekday, date and time in ``zone``: 'jeudi 26 novembre 2026, 07:30'."""
        local = instant.astimezone(ZoneInfo(zone))
        day = format_date(
            local.date(), _day_pattern(local.date(), "full", self.locale), locale=self.locale
        )
        return self.gettext("{date} at {time}").format(
            date=day, time=format_time(local, format="short", locale=self.locale)
        )

    def duration(self, span: dt.timedelta) -> str:
        """A wait, rounded to its largest unit: '2 hours', '2 heures'."""
        return format_timedelta(span, threshold=1.5, locale=self.locale)

    def clock_time(self, at: dt.time) -> str:
        return format_time(at, format="short", locale=self.locale)

    def year(self, year: int) -> str:
        return format_skeleton("y", dt.date(year, 1, 1), locale=self.locale)

    def number(self, value: float) -> str:
        return format_decimal(value, locale=self.locale)

    def percent(self, fraction: float) -> str:
        # Without quantization 0.325 stays "32.5%" instead of rounding to "32%".
        return format_percent(fraction, locale=self.locale, decimal_quantization=False)

    def money(self, amount: float, currency: str) -> str:
        if amount < _COMPACT_FROM:
            return format_currency(amount, currency, locale=self.locale)
        compact = format_compact_decimal(
            amount, format_type="long", fraction_digits=1, locale=_compact_locale(self.locale)
        )
        # Translators: a large amount of money, e.g. "$13 billion" / "13 milliards de dollars".
        # {currency} is the "of currency" phrase below; {symbol} is the currency symbol.
        template = self.gettext("{symbol}{amount}")
        return template.format(
            amount=compact,
            symbol=get_currency_symbol(currency, locale=self.locale),
            currency=self.pgettext("of currency", currency),
        )

    def money_short(self, amount: float, currency: str) -> str:
        """A compact amount for a chart's axis: "150 Md $US", "$150B"."""
        return format_compact_currency(
            amount, currency, format_type="short", fraction_digits=1, locale=self.locale
        )

    def figure(self, figure: Figure) -> str:
        """The figure as the reader reads it; remembered (see _figure_text)."""
        return _figure_text(self, figure)

    def format_figure(self, figure: Figure) -> str:
        """The figure through Babel, every time."""
        value = figure.value
        if figure.kind == "money" and figure.currency:
            return self.money(float(value), figure.currency)
        if figure.kind == "percent":
            return self.percent(float(value))
        if figure.kind == "year":
            return self.year(int(value))
        if figure.kind == "date":
            return self.date(dt.date.fromisoformat(str(value)))
        if figure.kind == "month":
            year, month = str(value).split("-")
            return self.month(int(year), int(month))
        return self.number(float(value) if isinstance(value, float) else int(value))


# Briefings, answers and cards format the same few hundred figures and dates for every reader:
# through Babel each took 40-120 us (a locale parse, pattern lookups), 5% of the bot's CPU under
# bench/soak.py. The results depend only on the value, the locale and the catalog (the
# Translator), never on content or time, so nothing needs invalidating; the bounds keep
# unusual locales and a changing library from growing the caches without limit.
@lru_cache(maxsize=8192)
def _figure_text(tr: Translator, figure: Figure) -> str:
    return tr.format_figure(figure)


@lru_cache(maxsize=4096)
def _long_date(day: dt.date, locale: str) -> str:
    return format_date(day, _day_pattern(day, "long", locale), locale=locale)


@cache
def _compact_locale(locale: str) -> Locale:
    return _CompactFixLocale.parse(locale)


@cache
def _catalog(lang: str) -> NullTranslations:
    return Translations.load(str(LOCALES_DIR), [lang], domain=DOMAIN)


def check_catalogs() -> None:
    """Fail loudly at start-up when a compiled catalog is missing.

    Translations.load returns an empty NullTranslations instead of raising, which would
    quietly serve English to French users.
    """
    for lang in SUPPORTED_LANGS:
        catalog = _catalog(lang)
        if lang != "en" and (not isinstance(catalog, Translations) or not catalog._catalog):
            mo = LOCALES_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.mo"
            raise CatalogMissing(
                f"the {lang} message catalog did not load from {mo}; "
                "run `pybabel compile -d bot/locales -D messages`"
            )


def translator(lang: Lang, locale: str | None = None) -> Translator:
    return Translator(lang, locale or lang, _catalog(lang))


def negotiate(
    stored: str | None, language_code: str | None, default: Lang = "en"
) -> tuple[Lang, str]:
    """Pick the language and the formatting locale for a user.

    The stored /lang choice wins, then Telegram's language_code (fr-CA -> fr); the region is
    kept for number and date formats when it matches the chosen language.
    """
    parsed = _parse_locale(language_code)
    if stored in SUPPORTED_LANGS:
        lang: Lang = "fr" if stored == "fr" else "en"
    elif parsed is not None and parsed.language in SUPPORTED_LANGS:
        lang = "fr" if parsed.language == "fr" else "en"
    else:
        lang = default
    if parsed is not None and parsed.language == lang and parsed.territory:
        return lang, f"{parsed.language}_{parsed.territory}"
    return lang, lang


@lru_cache(maxsize=512)  # a Telegram language_code per update; a handful of distinct ones
def _parse_locale(code: str | None) -> Locale | None:
    if not code:
        return None
    cleaned = code.strip().replace("_", "-")
    if not cleaned or len(cleaned) > 35:
        return None
    try:
        return Locale.parse(cleaned.lower(), sep="-")
    except (ValueError, UnknownLocaleError):
        return None


def lang_of(value: str | None) -> Lang | None:
    """A user's explicit language word (fr, en, français, english…), or None."""
    if value is None:
        return None
    key = value.strip().lower()
    if key in ("fr", "francais", "français", "french", "fra", "fre"):
        return "fr"
    if key in ("en", "english", "anglais", "eng"):
        return "en"
    return None
