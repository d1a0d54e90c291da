"""An editor's figure as typed in the chat: ``money 10 billion USD 2026-01-05``, ``percent 27``,
``year 2030``, ``date 2026-01-05``, ``month 2026-01``, ``count 4``."""

from __future__ import annotations

import datetime as dt
import re

from bot.core.domain import FIGURE_KINDS, Figure

_SCALES = {
    "thousand": 10**3,
    "k": 10**3,
    "million": 10**6,
    "millions": 10**6,
    "m": 10**6,
    "billion": 10**9,
    "billions": 10**9,
    "milliard": 10**9,
    "milliards": 10**9,
    "bn": 10**9,
    "trillion": 10**12,
}
_CURRENCY = re.compile(r"^[A-Za-z]{3}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP"}


class FigureUnreadable(ValueError):
    """The text is not a figure of a known kind."""


def _number(token: str) -> float:
    cleaned = token.replace("\u202f", "").replace("\xa0", "").replace("_", "").rstrip("%")
    if cleaned.count(",") == 1 and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")  # French decimal comma
    try:
        return float(cleaned)
    except ValueError:
        raise FigureUnreadable(token) from None


def _whole(value: float) -> float | int:
    return int(value) if value == int(value) else value


def parse_figure(name: str, text: str) -> Figure:
    tokens = text.split()
    if not tokens or tokens[0].lower() not in FIGURE_KINDS:
        raise FigureUnreadable(text)
    kind, rest = tokens[0].lower(), tokens[1:]
    as_of = None
    if len(rest) > 1 and _DATE.match(rest[-1]):
        as_of = _date(rest.pop())
    if not rest:
        raise FigureUnreadable(text)
    if kind == "money":
        return _money(name, rest, as_of, text)
    if kind == "date":
        if len(rest) != 1 or not _DATE.match(rest[0]):
            raise FigureUnreadable(text)
        return Figure(name, kind, _date(rest[0]).isoformat(), None, as_of)
    if kind == "month":
        if len(rest) != 1 or not _MONTH.match(rest[0]):
            raise FigureUnreadable(text)
        return Figure(name, kind, rest[0], None, as_of)
    if len(rest) != 1:
        raise FigureUnreadable(text)
    value = _number(rest[0])
    if kind == "percent":
        # "27" and "27%" mean 27 %; content/ stores the fraction
        value = value / 100 if value > 1 or rest[0].endswith("%") else value
        return Figure(name, kind, round(value, 6), None, as_of)
    if kind in ("year", "count") and value != int(value):
        raise FigureUnreadable(text)
    return Figure(name, kind, int(value), None, as_of)


def _date(token: str) -> dt.date:
    try:
        return dt.date.fromisoformat(token)
    except ValueError:
        raise FigureUnreadable(token) from None


def _money(name: str, rest: list[str], as_of: dt.date | None, text: str) -> Figure:
    currency = None
    if _CURRENCY.match(rest[-1]) and rest[-1].lower() not in _SCALES:
        currency = rest.pop().upper()
    if rest and rest[0][:1] in _SYMBOLS:
        currency = currency or _SYMBOLS[rest[0][0]]
        rest[0] = rest[0][1:]
    if not rest or not currency or len(rest) > 2:
        raise FigureUnreadable(text)
    amount = _number(rest[0])
    if len(rest) == 2:
        scale = _SCALES.get(rest[1].lower())
        if scale is None:
            raise FigureUnreadable(text)
        amount *= scale
    if amount < 0:
        raise FigureUnreadable(text)
    return Figure(name, "money", _whole(amount), currency, as_of)
