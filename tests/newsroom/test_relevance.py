"""Relevance in the store's words, English and French."""

from __future__ import annotations

import pytest

from bot.content.lexicon import load_lexicon
from bot.core.domain import Library
from bot.newsroom.relevance import Relevance
from tests.conftest import CONTENT


def test_the_parties_are_the_companies_most_facts_name(relevance: Relevance) -> None:
    """OpenAI and Microsoft, from the facts themselves."""
    assert set(relevance.parties) == {"OpenAI", "Microsoft"}


@pytest.mark.parametrize(
    "title",
    [
        "Microsoft and OpenAI sign a new definitive agreement",
        "OpenAI files confidentially for an IPO",
        "SoftBank leads a $40 billion funding round in OpenAI",
        "Microsoft et OpenAI renégocient leur partenariat",
        "OpenAI prépare son introduction en Bourse",
        "Microsoft détient environ 27 % d'OpenAI Group PBC",
    ],
)
def test_items_about_the_subject_are_relevant(relevance: Relevance, title: str) -> None:
    """Two parties, or one party and a subject term, in either language."""
    assert relevance.matched([title]) == (title,)


@pytest.mark.parametrize(
    "title",
    [
        "Microsoft unveils a new Xbox controller",
        "OpenAI launches a ChatGPT app for the Mac",
        "Google invests in Anthropic",
        "Microsoft lance une nouvelle version de Windows",
        "OpenAI a mis à jour ChatGPT",
        "Météo : un week-end pluvieux en Bretagne",
        "Ms Smith talks about the IPO market",
    ],
)
def test_items_beside_the_subject_are_not(relevance: Relevance, title: str) -> None:
    """A party alone, foreign companies, generic words or a Ms. are not the subject."""
    assert relevance.matched([title]) == ()


# Written before the rule was tuned, from the shape of everyday tech news: the parties' other
# business (products, outages, earnings, lawsuits, hires) and other companies' deals, worded
# with the words the subject uses too (deal, cloud, pay, file, keep, revenue, exclusive...).
NEAR_MISSES = [
    "Microsoft Azure outage disrupts Teams and Outlook users",
    "OpenAI signs deal with Disney to bring its characters to Sora",
    "OpenAI strikes a licensing deal with Axel Springer",
    "Microsoft reaches agreement with Activision Blizzard's union",
    "Microsoft cloud revenue beats estimates as Azure grows 39%",
    "Microsoft pays $20 million to settle FTC children's privacy case",
    "OpenAI files a countersuit against Elon Musk",
    "Microsoft keeps Windows 10 security updates for another year",
    "OpenAI buys Jony Ive's hardware startup io",
    "Exclusive: OpenAI hires former Meta executive to run applications",
    "OpenAI's revenue from ChatGPT subscriptions keeps climbing",
    "Microsoft lists new Surface laptops with faster chips",
    "Microsoft brings a new computing course to schools",
    "OpenAI sets a usage limit on its video model",
    "Panne d'Azure : Teams et Outlook inaccessibles pendant des heures",
    "OpenAI signe un accord avec Disney pour Sora",
    "Microsoft conserve le support de Windows 10 une année de plus",
    "OpenAI dépose une plainte contre Elon Musk",
    "Microsoft verse 20 millions de dollars pour clore une enquête",
    "Les revenus du cloud de Microsoft dépassent les attentes",
    "OpenAI rachète la start-up de Jony Ive",
    "Microsoft signe un contrat avec l'armée américaine pour ses casques",
]


@pytest.mark.parametrize("title", NEAR_MISSES)
def test_the_parties_other_business_and_other_deals_are_not_the_subject(
    relevance: Relevance, title: str
) -> None:
    """A party with a word the subject also uses is not news for us without the subject."""
    assert relevance.matched([title]) == ()


@pytest.mark.parametrize(
    "title",
    [
        "Microsoft's stake in OpenAI is now worth $135 billion",
        "OpenAI completes its restructuring into a public benefit corporation",
        "Stargate: OpenAI, Oracle and SoftBank announce five new data center sites",
        "OpenAI to cut the revenue share it pays Microsoft, report says",
        "Microsoft and OpenAI reach a deal over the AGI clause",
        "Microsoft gives up its right of first refusal on OpenAI's compute",
        "OpenAI valued at $500 billion after a secondary share sale",
        "Microsoft and OpenAI announce a new partnership agreement",
        "Microsoft, OpenAI in talks over Azure exclusivity",
        "OpenAI valorisée à 500 milliards de dollars",
        "La clause sur l'AGI au cœur des négociations entre Microsoft et OpenAI",
        "Stargate : OpenAI annonce de nouveaux centres de données au Texas",
        "OpenAI va réduire le partage des revenus avec Microsoft",
        "Microsoft investit 10 milliards de dollars dans OpenAI",
    ],
)
def test_the_subject_is_relevant_whichever_words_say_it(relevance: Relevance, title: str) -> None:
    """Stakes, restructuring, Stargate, revenue share, AGI, valuation, the two parties' deal."""
    assert relevance.matched([title]) == (title,)


def test_only_the_lines_that_name_the_subject_are_kept(relevance: Relevance) -> None:
    """A party in the title and a term further down make one relevant item."""
    lines = [
        "Microsoft shares a new update",
        "The weather was fine.",
        "It concerns the revenue share it receives from OpenAI.",
    ]
    assert relevance.matched(lines) == (lines[0], lines[2])


def test_new_entities_of_the_store_become_subject_terms(library: Library) -> None:
    """An entity the facts start naming is a subject term after a reload."""
    lexicon = load_lexicon(CONTENT)
    before = Relevance.of(library, lexicon)
    assert before.matched(["OpenAI hires Contoso for its chips"]) == ()
    fact = next(iter(library.facts.values()))
    grown = type(library)(
        facts={**library.facts, "extra": type(fact)(**{**fact.__dict__, "id": "extra",
               "entities": ("Contoso",)})},
        sources=library.sources,
        topics=library.topics,
        briefings=library.briefings,
    )  # fmt: skip
    after = Relevance.of(grown, lexicon)
    assert after.matched(["OpenAI hires Contoso for its chips"]) != ()
