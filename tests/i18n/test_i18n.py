"""Locale negotiation, Babel formats, and catalogs that are complete and compiled."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Message
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from bot.core.domain import Figure
from bot.i18n.translator import LOCALES_DIR, CatalogMissing, check_catalogs, negotiate, translator
from tests.conftest import REPO


@pytest.mark.parametrize(
    ("stored", "code", "expected"),
    [
        (None, "fr", ("fr", "fr")),
        (None, "fr-CA", ("fr", "fr_CA")),
        (None, "FR-be", ("fr", "fr_BE")),
        (None, "en-GB", ("en", "en_GB")),
        (None, "de", ("en", "en")),
        (None, None, ("en", "en")),
        (None, "not a locale!", ("en", "en")),
        ("fr", "en-US", ("fr", "fr")),
        ("en", "fr-CA", ("en", "en")),
    ],
)
def test_negotiation(stored: str | None, code: str | None, expected: tuple[str, str]) -> None:
    assert negotiate(stored, code) == expected


def test_unsupported_language_falls_back_to_configured_default() -> None:
    assert negotiate(None, "de-DE", default="fr") == ("fr", "fr")


@pytest.mark.parametrize(
    ("locale", "amount", "expected"),
    [
        ("fr", 13e9, "13 milliards de dollars"),
        ("fr", 1e9, "1 milliard de dollars"),
        ("fr", 1.5e9, "1,5 milliard de dollars"),
        ("fr", 500e9, "500 milliards de dollars"),
        ("en", 13e9, "$13 billion"),
        ("en", 1e9, "$1 billion"),
        ("en_GB", 500e9, "US$500 billion"),
    ],
)
def test_large_money_reads_naturally(locale: str, amount: float, expected: str) -> None:
    tr = translator("fr" if locale.startswith("fr") else "en", locale)
    assert tr.money(amount, "USD") == expected


def test_dates_and_small_numbers_follow_the_locale() -> None:
    fr, en = translator("fr"), translator("en")
    day = dt.date(2025, 3, 7)
    assert (fr.date(day), en.date(day)) == ("7 mars 2025", "March 7, 2025")
    assert translator("en", "en_GB").date(day) == "7 March 2025"
    assert fr.number(5000) == "5\u202f000"
    assert fr.figure(Figure("m", "month", "2025-01")) == "janvier 2025"
    assert en.figure(Figure("p", "percent", 0.2)) == "20%"
    assert fr.figure(Figure("y", "year", 2030)) == "2030"


@pytest.mark.parametrize("locale", ["fr", "fr_CA", "fr_CH", "fr_BE"])
def test_the_first_of_the_month_is_written_1er_in_french(locale: str) -> None:
    """Titles, confirmations and digests say "1er décembre", and only on the first."""
    tr = translator("fr", locale)
    first = dt.date(2026, 12, 1)
    assert "1er décembre 2026" in tr.date(first)
    assert "2 décembre 2026" in tr.date(dt.date(2026, 12, 2))
    assert "1er décembre 2026" in tr.moment(
        dt.datetime(2026, 12, 1, 6, 30, tzinfo=dt.UTC), "Europe/Paris"
    )
    assert "1er" not in tr.date(dt.date(2026, 12, 11))
    assert "11 décembre 2026" in tr.date(dt.date(2026, 12, 11))
    assert translator("en").date(first) == "December 1, 2026"
    assert tr.figure(Figure("d", "date", "2025-01-01")).startswith("1er janvier 2025")


def _po(lang: str) -> Path:
    return LOCALES_DIR / lang / "LC_MESSAGES" / "messages.po"


def test_every_message_has_a_french_translation() -> None:
    with _po("fr").open("rb") as handle:
        catalog = read_po(handle)
    missing = [m.id for m in catalog if m.id and not _translated(m)]
    assert missing == []


def test_catalogs_hold_every_message_in_the_code(tmp_path: Path) -> None:
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "pgettext:1c,2",
            "-k",
            "mark:1c,2",
            "--no-location",
            "-o",
            str(pot),
            "bot",
        ],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as handle:
        extracted = {(m.context, str(m.id)) for m in read_po(handle) if m.id}
    with _po("fr").open("rb") as handle:
        translated = {(m.context, str(m.id)) for m in read_po(handle) if m.id}
    assert extracted - translated == set(), "run pybabel extract/update (bot/locales/README.md)"


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_compiled_catalogs_match_their_po(lang: str) -> None:
    with _po(lang).open("rb") as handle:
        po = {_key(m): _forms(m) for m in read_po(handle) if m.id and _translated(m)}
    with (LOCALES_DIR / lang / "LC_MESSAGES" / "messages.mo").open("rb") as handle:
        mo = {_key(m): _forms(m) for m in read_mo(handle) if m.id}
    assert po == mo, "run pybabel compile -d bot/locales -D messages"
    assert any(isinstance(k[1], tuple) for k in po), "plural (ngettext) messages are compared"


def _key(message: Message) -> tuple[str | None, str | tuple[str, ...]]:
    """A message's context and id; a plural's id is its (singular, plural) pair, which read_po
    gives as a tuple and read_mo as a list."""
    ident = message.id
    return message.context, ident if isinstance(ident, str) else tuple(ident)


def _forms(message: Message) -> str | tuple[str, ...]:
    string = message.string
    return string if isinstance(string, str) else tuple(string)


def _translated(message: Message) -> bool:
    string = message.string
    return bool(string) if isinstance(string, str) else all(string)


def test_a_counted_message_agrees_with_its_count_in_both_languages() -> None:
    """French takes the singular for 0 and 1, English for 1 only."""
    fr, en = translator("fr"), translator("en")
    forms = ("{n} feed", "{n} feeds")
    assert [fr.ngettext(*forms, n).format(n=n) for n in (1, 2)] == ["1 flux", "2 flux"]
    assert [en.ngettext(*forms, n).format(n=n) for n in (1, 2)] == ["1 feed", "2 feeds"]
    items = ("{n} item in the feed", "{n} items in the feed")
    assert [fr.ngettext(*items, n).format(n=n) for n in (0, 1, 2)] == [
        "0 article dans le flux",
        "1 article dans le flux",
        "2 articles dans le flux",
    ]
    assert [en.ngettext(*items, n).format(n=n) for n in (0, 1, 2)] == [
        "0 items in the feed",
        "1 item in the feed",
        "2 items in the feed",
    ]


def test_start_up_fails_loudly_without_the_french_catalog(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import bot.i18n.translator as i18n

    monkeypatch.setattr(i18n, "LOCALES_DIR", tmp_path)
    i18n._catalog.cache_clear()
    try:
        with pytest.raises(CatalogMissing, match="fr message catalog"):
            check_catalogs()
    finally:
        i18n._catalog.cache_clear()


@pytest.mark.parametrize("locale", ["en", "en_GB", "fr", "fr_CA"])
def test_remembered_figures_are_what_babel_gives_for_each_locale(locale: str) -> None:
    """The cached figure equals a fresh Babel formatting; another locale gets its own."""
    tr = translator("fr" if locale.startswith("fr") else "en", locale)
    figures = (
        Figure("a", "money", 13_000_000_000, "USD"),
        Figure("b", "percent", 0.325),
        Figure("c", "date", "2026-12-01"),
        Figure("d", "number", 1234567),
    )
    for figure in figures:
        assert tr.figure(figure) == tr.figure(figure) == tr.format_figure(figure)
    other = translator("en" if locale.startswith("fr") else "fr")
    assert other.figure(figures[0]) != tr.figure(figures[0])
    assert tr.date(dt.date(2026, 12, 1)) == tr.figure(figures[2])
