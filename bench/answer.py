"""Answer latency in process, for the shipped store and synthetic stores of 10k and 100k facts.

    python -m bench.answer [--sizes 10000 100000] [--queries 300] [--builds 3] [--without-asked]

Synthetic facts recombine the shipped facts' sentences with made-up companies, figures and
dates, so the vocabulary and sentence lengths stay realistic; each carries its model fact's
reader questions (content/asked.yaml), about four times the fact's own words, unless
``--without-asked`` (a store of approved newsroom facts, which have none). Questions come from
the evaluation set (tests/eval/questions.yaml), asked through the same QuestionEngine.ask the
bot uses.
Targets on the 2-core reference machine: p99 <= 10 ms at 10k, <= 50 ms at 100k, build <= 5 s.

Each figure comes as wall time and as this process's CPU time (time.process_time): on a machine
shared with other work, wall time also counts the waits for a core, and CPU time is the steadier
of the two. The load average is printed before each store, so a loaded sitting shows as one.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import platform
import random
import statistics
import time

from bot.app.services import build_conversation
from bot.content.lexicon import Lexicon, load_lexicon
from bot.content.loader import load_library
from bot.core.domain import Bilingual, Fact, Figure, Lang, Library, Who
from bot.qa.retrieval.index import FactIndex
from tests.conftest import CONTENT
from tests.eval.test_eval import load_cases

_NAMES = [
    "Arcadia",
    "Borealis",
    "Cobalt",
    "Dynamo",
    "Ember",
    "Fjord",
    "Granite",
    "Helix",
    "Ion",
    "Juniper",
    "Kestrel",
    "Lumen",
    "Monarch",
    "Nimbus",
    "Orion",
    "Pioneer",
]


class _Prefs:
    def get_lang(self, user_id: int) -> Lang | None:
        return None

    def set_lang(self, user_id: int, lang: Lang) -> None:
        """Not used."""


def synthetic(library: Library, size: int, seed: int = 7) -> Library:
    """``size`` facts built from the shipped ones: same sentences, other names and figures."""
    rng = random.Random(seed)
    base = list(library.facts.values())
    facts: dict[str, Fact] = {}
    for i in range(size):
        model = base[i % len(base)]
        name = f"{rng.choice(_NAMES)}{rng.randrange(1000)}"
        figures = tuple(dataclasses.replace(f, value=_jitter(f, rng)) for f in model.figures)
        text = Bilingual(f"{name}: {model.text.fr}", f"{name}: {model.text.en}")
        fact_id = f"{model.topic}-synthetic-{i}"
        facts[fact_id] = dataclasses.replace(
            model,
            id=fact_id,
            text=text,
            figures=figures,
            entities=(*model.entities, name),
            caveat=None,
        )
    return dataclasses.replace(library, facts=facts)


def _jitter(figure: Figure, rng: random.Random) -> float | int | str:
    if figure.kind in ("money", "count"):
        return round(float(figure.value) * rng.uniform(0.5, 2.0), -6)
    if figure.kind == "percent":
        return round(rng.uniform(0.01, 0.6), 3)
    if figure.kind == "year":
        return rng.randrange(2015, 2035)
    if figure.kind == "date":
        return (dt.date(2019, 1, 1) + dt.timedelta(days=rng.randrange(3000))).isoformat()
    if figure.kind == "month":
        return f"{rng.randrange(2019, 2027)}-{rng.randrange(1, 13):02d}"
    return figure.value


def with_asked(lexicon: Lexicon, library: Library, shipped: Library) -> Lexicon:
    """The lexicon with each synthetic fact carrying its model fact's reader questions
    (content/asked.yaml), so that the index holds as many words per fact as the shipped one."""
    base = list(shipped.facts)
    asked = {
        fact_id: lexicon.asked[model]
        for i, fact_id in enumerate(library.facts)
        if (model := base[i % len(base)]) in lexicon.asked
    }
    return dataclasses.replace(lexicon, asked=asked)


def measure(
    library: Library,
    lexicon: Lexicon,
    questions: list[tuple[str, str | None]],
    label: str,
    builds: int,
) -> None:
    # Several builds, because one on a shared 2-core machine can be off by 15 %.
    load = os.getloadavg()[0]
    build_times, build_cpu = [], []
    for _ in range(builds):
        started, cpu = time.perf_counter(), time.process_time()
        index = FactIndex(library, lexicon)
        build_times.append(time.perf_counter() - started)
        build_cpu.append(time.process_time() - cpu)
    build = statistics.median(build_times)
    conversation = build_conversation(lambda: library, _Prefs(), "en", index=lambda: index).engine
    assert conversation is not None
    for question, code in questions[:20]:  # warm caches (stems, typo lookups) as a bot would
        conversation.ask(Who(0, code), question)
    timings, cpu_times = [], []
    for user, (question, code) in enumerate(questions, 1):
        started, cpu = time.perf_counter(), time.process_time()
        conversation.ask(Who(user, code), question)
        timings.append((time.perf_counter() - started) * 1000)
        cpu_times.append((time.process_time() - cpu) * 1000)
    print(
        f"{label:>12}: {len(library.facts):>7} facts  build {build:6.2f} s "
        f"(median of {builds}, max {max(build_times):.2f}; CPU {statistics.median(build_cpu):.2f})"
        f"  p50 {_percentile(timings, 50):6.2f} ms  p99 {_percentile(timings, 99):6.2f} ms"
        f"  CPU p50 {_percentile(cpu_times, 50):5.2f} ms  p99 {_percentile(cpu_times, 99):5.2f} ms"
        f"  ({len(timings)} questions, load {load:.1f})"
    )


def _percentile(values: list[float], p: int) -> float:
    ordered = sorted(values)
    if p == 50:
        return statistics.median(ordered)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--builds", type=int, default=3, help="index builds per store")
    parser.add_argument(
        "--without-asked",
        action="store_true",
        help="synthetic facts without reader questions (a store of approved newsroom facts)",
    )
    args = parser.parse_args()
    library = load_library(CONTENT)
    cases = load_cases()
    questions = [(c["turns"][-1], c.get("language_code")) for c in cases]
    questions = (questions * (args.queries // len(questions) + 1))[: args.queries]
    print(
        f"machine: {platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}"
    )
    lexicon = load_lexicon(CONTENT)
    measure(library, lexicon, questions, "shipped", args.builds)
    for size in args.sizes:
        store = synthetic(library, size)
        expanded = lexicon if args.without_asked else with_asked(lexicon, store, library)
        measure(store, expanded, questions, "synthetic", args.builds)


if __name__ == "__main__":
    main()
