"""The command line prints briefings, checks content, and runs the console without a token."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests import timetravel
from tests.conftest import CONTENT, REPO


def run(
    *args: str, env: dict[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    base = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        **timetravel.child_env(),
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=REPO,
        env={**base, **(env or {})},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_brief_prints_a_sourced_french_briefing() -> None:
    result = run("brief", "--topic", "ipo", "--lang", "fr")
    assert result.returncode == 0, result.stderr
    assert "Sources" in result.stdout and "[1]" in result.stdout
    assert "date non précisée" in result.stdout


def test_brief_rejects_an_unknown_topic() -> None:
    result = run("brief", "--topic", "gossip")
    assert result.returncode == 2 and "unknown topic" in result.stderr


def test_content_check_passes_then_catches_a_planted_error(tmp_path: Path) -> None:
    assert run("content", "check").returncode == 0
    broken = tmp_path / "content"
    shutil.copytree(CONTENT, broken)
    facts = broken / "facts.yaml"
    facts.write_text(
        facts.read_text(encoding="utf-8").replace("topic: ipo", "topic: bourse", 1),
        encoding="utf-8",
    )
    result = run("content", "check", env={"BOT_CONTENT_DIR": str(broken)})
    assert result.returncode == 5
    assert f"{facts}:" in result.stderr and "'topic' must be one of" in result.stderr
    assert "Traceback" not in result.stderr


def test_content_load_is_idempotent(tmp_path: Path) -> None:
    env = {"BOT_DATA_DIR": str(tmp_path)}
    first = run("content", "load", env=env)
    assert first.returncode == 0 and " 0 changed" in first.stdout and "added" in first.stdout
    again = run("content", "load", env=env)
    assert again.stdout.startswith("0 added, 0 changed, 0 removed")


def test_without_a_token_python_m_bot_is_a_console_chat(tmp_path: Path) -> None:
    result = run(
        env={"BOT_DATA_DIR": str(tmp_path), "LANG": "fr_FR.UTF-8"},
        stdin="/brief ipo\n/lang en\n/brief\n",
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.index("Bonjour") < out.index("Sources") < out.index("From now on")
    assert "Why it matters" in out.split("From now on")[1]


def test_run_without_token_explains() -> None:
    result = run("run")
    assert result.returncode == 2 and "TELEGRAM_BOT_TOKEN" in result.stderr


def test_ask_json_contract() -> None:
    """The stable contract used by checks: one JSON object with these exact keys."""
    found = json.loads(run("ask", "--json", "Combien Microsoft a-t-il investi ?").stdout)
    assert set(found) == {
        "answer",
        "lang",
        "scope",
        "found",
        "phrasing",
        "phrasing_reason",
        "citations",
    }
    assert found["lang"] == "fr" and found["found"] is True and found["scope"] == "in"
    # No LLM configured here: the extract, and why.
    assert (found["phrasing"], found["phrasing_reason"]) == ("extract", "not-configured")
    for citation in found["citations"]:
        assert set(citation) == {"n", "fact_id", "publisher", "published", "url"}
        assert isinstance(citation["n"], int)
    declined = json.loads(run("ask", "--json", "--lang", "en", "Who won the World Cup?").stdout)
    assert declined["found"] is False and declined["citations"] == []
    assert declined["scope"] == "out"
    other = json.loads(run("ask", "--json", "How much did Amazon invest in Anthropic?").stdout)
    assert (other["scope"], other["found"]) == ("out", False)
    # About our subject, but not in the facts: in scope, and still not answered.
    unheld = json.loads(run("ask", "--json", "Why did the SEC reject OpenAI's filing?").stdout)
    assert (unheld["scope"], unheld["found"]) == ("in", False)
    assert declined["answer"].startswith("I don't have that in my sources (as of ")


def test_content_export_prints_approved_facts_as_checked_yaml(tmp_path: Path) -> None:
    """An approved fact in the store comes out as content/ YAML that content check accepts."""
    import datetime as dt

    import yaml

    from bot.core.domain import Bilingual, Fact, Figure, Source, Status
    from bot.core.editorial import Approved
    from bot.store.editorial import EditorialStore

    at = dt.datetime(2026, 12, 2, 10, tzinfo=dt.UTC)
    source = Source(
        "ipo-news-c1-src", "Reuters", "OpenAI files", "https://r.example/x", None, "en"
    )
    fact = Fact(
        "ipo-news-c1",
        "ipo",
        Status.REPORTED,
        source.id,
        Bilingual(
            "Selon Reuters, OpenAI vise {year}.", "OpenAI is aiming for {year}, Reuters says."
        ),
        at.date(),
        at.date(),
        (Figure("year", "year", 2027),),
        changed_at=at,
    )
    store = EditorialStore.open(tmp_path)
    store.put_approved(Approved(fact, (source,), "c1", 1, at))
    store.close()
    result = run("content", "export", env={"BOT_DATA_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    facts = yaml.safe_load("facts:" + result.stdout.split("\nfacts:", 1)[1])
    assert facts["facts"][0]["id"] == "ipo-news-c1"
    assert "1 approved facts exported" in result.stderr


def test_content_check_validates_feeds_yaml_with_file_and_line(tmp_path: Path) -> None:
    """A bad URL and a too-short interval in feeds.yaml fail the check at their lines."""
    broken = tmp_path / "content"
    shutil.copytree(CONTENT, broken)
    feeds = broken / "feeds.yaml"
    text = feeds.read_text(encoding="utf-8")
    text = text.replace('url: "https://blogs.microsoft.com/feed/"', 'url: "blogs.microsoft.com"')
    feeds.write_text(text.replace("interval: 60", "interval: 1", 1), encoding="utf-8")
    result = run("content", "check", env={"BOT_CONTENT_DIR": str(broken)})
    assert result.returncode == 5
    lines = text.splitlines()
    bad_url = next(n for n, line in enumerate(lines, 1) if "blogs.microsoft.com" in line) - 1
    assert f"{feeds}:{bad_url}: url must be http(s) with a host" in result.stderr
    assert "'interval' must be at least 5 minutes, got 1" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_store_whose_documents_do_not_read_stops_the_bot_with_exit_code_6(
    tmp_path: Path,
) -> None:
    """The console opens the stores as the bot does: a bad receipts.json is moved aside."""
    data = tmp_path / "data"
    env = {"BOT_DATA_DIR": str(data), "BOT_CONTENT_DIR": str(CONTENT)}
    assert run("content", "load", env=env).returncode == 0
    (data / "receipts.json").write_text(json.dumps({"chats": {"7": {"chat": 7}}}))
    result = run("console", env=env, stdin="/help\n")
    assert result.returncode == 6, result.stderr
    assert "receipts.json: store file is corrupted" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(data.glob("receipts.json.corrupt-*"))
    assert run("console", env=env, stdin="/help\n").returncode == 0


def test_ask_answers_a_paraphrase_only_the_semantic_opinion_backs_unless_it_is_off() -> None:
    """BOT_SEMANTIC=0 leaves the lexical decision alone: a weak paraphrase is then declined."""
    question = (
        "is openai still stuck renting servers only from microsoft or can they shop around now"
    )
    on = json.loads(run("ask", "--json", "--lang", "en", question).stdout)
    off = json.loads(
        run("ask", "--json", "--lang", "en", question, env={"BOT_SEMANTIC": "0"}).stdout
    )
    assert on["found"] is True
    assert on["citations"][0]["fact_id"] == "infrastructure-openai-any-cloud"
    assert (off["scope"], off["found"]) == ("in", False)
