"""Which language and locale to answer someone in: their /lang choice, their client, a default."""

from __future__ import annotations

from typing import Protocol

from bot.core.domain import Lang, Who
from bot.i18n.translator import Translator, negotiate, translator


class Preferences(Protocol):
    """What language negotiation needs from the user store."""

    def get_lang(self, user_id: int) -> Lang | None: ...

    def set_lang(self, user_id: int, lang: Lang) -> None: ...


class Languages:
    """Shared by the router and the question engine; holds no state of its own."""

    def __init__(self, prefs: Preferences, default_lang: Lang = "en") -> None:
        self._prefs = prefs
        self._default_lang = default_lang

    def chosen(self, user_id: int) -> Lang | None:
        """The language the user picked with /lang, if any."""
        return self._prefs.get_lang(user_id)

    def choose(self, user_id: int, lang: Lang) -> None:
        self._prefs.set_lang(user_id, lang)

    def translator_for(self, who: Who) -> Translator:
        lang, locale = negotiate(
            self._prefs.get_lang(who.user_id), who.language_code, self._default_lang
        )
        return translator(lang, locale)

    def translator_for_lang(self, who: Who, lang: Lang) -> Translator:
        """The translator for ``lang``, keeping the user's region for formats when it fits."""
        return translator(lang, negotiate(lang, who.language_code, self._default_lang)[1])
