"""content/seed_map.yaml maps every paragraph of the seed article, and each kind of planted
error is reported as file:line: message (bot/content/seedmap.py, run by ``content check``)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.content.loader import ContentError
from bot.content.seedmap import SEED_MAP_FILE, check_seed_map, paragraphs, seed_path
from bot.core.domain import Library
from tests.conftest import CONTENT, REPO
from tests.test_cli import run

MAP = CONTENT / SEED_MAP_FILE
SEED = seed_path(MAP, REPO)
needs_seed = pytest.mark.skipif(
    SEED is None or not SEED.is_file(), reason=f"seed article {SEED} not beside the repo"
)


def _entries() -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = yaml.safe_load(MAP.read_text(encoding="utf-8"))["paragraphs"]
    return entries


def _copy(tmp_path: Path, *, with_seed: bool = True) -> tuple[Path, Path | None]:
    """A repository in tmp_path (content/ only) and, optionally, the seed beside it."""
    root = tmp_path / "repo"
    shutil.copytree(CONTENT, root / "content")
    seed = seed_path(root / "content" / SEED_MAP_FILE, root)
    assert seed is not None
    if not with_seed:
        return root, None
    assert SEED is not None
    seed.parent.mkdir(parents=True)
    shutil.copyfile(SEED, seed)
    return root, seed


def _check(root: Path) -> list[ContentError]:
    content = root / "content"
    return check_seed_map(content / SEED_MAP_FILE, content / "facts.yaml", root)


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not found in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(needle)


@needs_seed
def test_the_shipped_map_covers_every_paragraph_and_passes() -> None:
    assert SEED is not None
    seed = paragraphs(SEED.read_text(encoding="utf-8"))
    entries = _entries()
    assert [e["n"] for e in entries] == [p.number for p in seed] == list(range(1, 23))
    for entry in entries:
        assert entry.get("facts") or entry.get("left_out"), entry
    assert check_seed_map(MAP, CONTENT / "facts.yaml", REPO) == []


def test_every_fact_read_in_the_seed_is_mapped_to_a_paragraph(library: Library) -> None:
    mapped = {fact for entry in _entries() for fact in entry.get("facts") or []}
    from_seed = {f.id for f in library.facts.values() if f.source_id == "seed-article"}
    assert from_seed - mapped == set()
    assert mapped <= set(library.facts)


@needs_seed
def test_a_paragraph_the_map_does_not_cover_is_reported_at_its_line(tmp_path: Path) -> None:
    root, seed = _copy(tmp_path)
    assert seed is not None
    _replace(
        seed,
        "Évolution de la dynamique des revenus\n",
        "Évolution de la dynamique des revenus\nUn paragraphe ajouté depuis.\n",
    )
    errors = [str(e) for e in _check(root)]
    # Every later paragraph shifts by one: the quotes catch it, and the last one is unmapped.
    last = _line_of(seed, "La révolution de l’IA")
    assert f"{seed}:{last}: paragraph 23 is not in seed_map.yaml" in "\n".join(errors)
    inserted_at = _line_of(root / "content" / SEED_MAP_FILE, "Une autre couche")
    assert any(
        e.startswith(f"{root / 'content' / SEED_MAP_FILE}:{inserted_at}: paragraph 8: 'starts'")
        and "“Un paragraphe ajouté depuis.”" in e
        for e in errors
    ), errors


@needs_seed
def test_an_entry_removed_from_the_map_is_reported(tmp_path: Path) -> None:
    root, seed = _copy(tmp_path)
    assert seed is not None
    seed_map = root / "content" / SEED_MAP_FILE
    _replace(
        seed_map,
        "  - n: 22\n    starts: \"La révolution de l'IA n'en est qu'à ses débuts\"\n"
        '    left_out: "closing flourish on AI\'s potential; no claim"\n',
        "",
    )
    line = _line_of(seed, "La révolution de l’IA")
    assert [str(e) for e in _check(root)] == [
        f"{seed}:{line}: paragraph 22 is not in seed_map.yaml "
        "(it starts “La révolution de l'IA n'en est qu'à ses débuts,…”)"
    ]


@needs_seed
def test_a_starts_quote_that_does_not_match_its_paragraph_is_reported(tmp_path: Path) -> None:
    root, _ = _copy(tmp_path)
    seed_map = root / "content" / SEED_MAP_FILE
    _replace(
        seed_map, 'starts: "Un point central de discorde', 'starts: "Un point crucial de discorde'
    )
    errors = [str(e) for e in _check(root)]
    line = _line_of(seed_map, "Un point crucial")
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"{seed_map}:{line}: paragraph 4: 'starts' “Un point crucial")
    assert "does not match the seed" in errors[0]


def test_a_mapped_fact_missing_from_facts_yaml_is_reported(tmp_path: Path) -> None:
    # Checked with or without the seed beside the repository.
    root, _ = _copy(tmp_path, with_seed=False)
    seed_map = root / "content" / SEED_MAP_FILE
    _replace(seed_map, "stakes-equity-share-central-issue", "stakes-equity-central-issue")
    line = _line_of(seed_map, "stakes-equity-central-issue")
    assert [str(e) for e in _check(root)] == [
        f"{seed_map}:{line}: unknown fact 'stakes-equity-central-issue' (not in facts.yaml)"
    ]


def test_an_entry_with_neither_facts_nor_a_reason_is_reported(tmp_path: Path) -> None:
    root, _ = _copy(tmp_path, with_seed=False)
    seed_map = root / "content" / SEED_MAP_FILE
    _replace(seed_map, '    left_out: "section heading, no claim"\n', "")
    line = _line_of(seed_map, "- n: 3")
    assert [str(e) for e in _check(root)] == [
        f"{seed_map}:{line}: paragraph 3 has neither 'facts' nor 'left_out'"
    ]


def test_content_check_says_it_skipped_the_seed_but_still_checks_fact_ids(tmp_path: Path) -> None:
    root, _ = _copy(tmp_path, with_seed=False)
    content = root / "content"
    passed = run("content", "check", env={"BOT_CONTENT_DIR": str(content)})
    assert passed.returncode == 0, passed.stderr
    assert passed.stdout.startswith(f"{content}: OK")
    assert "skipped the seed comparison" in passed.stderr
    seed_map = content / SEED_MAP_FILE
    _replace(seed_map, "ipo-challenge-regulation]", "ipo-challenge-regulations]")
    failed = run("content", "check", env={"BOT_CONTENT_DIR": str(content)})
    line = _line_of(seed_map, "ipo-challenge-regulations")
    assert failed.returncode == 5
    assert f"{seed_map}:{line}: unknown fact 'ipo-challenge-regulations'" in failed.stderr
    assert "Traceback" not in failed.stderr


@needs_seed
def test_content_check_compares_with_the_seed_when_it_is_there(tmp_path: Path) -> None:
    root, seed = _copy(tmp_path)
    assert seed is not None
    content = root / "content"
    passed = run("content", "check", env={"BOT_CONTENT_DIR": str(content)})
    assert passed.returncode == 0 and "skipped" not in passed.stderr, passed.stderr
    seed.write_text(seed.read_text(encoding="utf-8") + "\nUne conclusion ajoutée.\n", "utf-8")
    failed = run("content", "check", env={"BOT_CONTENT_DIR": str(content)})
    assert failed.returncode == 5
    line = _line_of(seed, "Une conclusion ajoutée")
    assert f"{seed}:{line}: paragraph 23 is not in seed_map.yaml" in failed.stderr
