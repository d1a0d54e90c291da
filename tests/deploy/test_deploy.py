"""The deployment files in deploy/ hold together: the systemd unit, the Dockerfile, compose.yaml.

No Docker engine runs here: the `docker` client is installed, but there is no daemon to talk to
(and no compose or buildx plugin), so `docker build` is never run. Instead the Dockerfile is
parsed, its checks are asserted, and its build is reproduced without a container: a fresh
virtual environment, the package installed non-editable (`pip install .`) from a copy of exactly
the files the Dockerfile copies (filtered by deploy/Dockerfile.dockerignore), then the bot run
from an unrelated directory with the environment the image sets. That test takes 15-20 s
(pip resolves from the configured indexes or PyPI), well under the 90 s budget for the default
run, so it is not gated.

`systemd-analyze verify` and `systemd-analyze security --offline` check the unit when
systemd-analyze is installed; those tests are skipped otherwise.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import time
import tomllib
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath

import pytest
import yaml

from bot.cli import EXIT_CATALOG, EXIT_CONTENT, EXIT_LOCKED, EXIT_STORE, EXIT_USAGE
from tests import timetravel
from tests.conftest import REPO

DEPLOY = REPO / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
DOCKERIGNORE = DEPLOY / "Dockerfile.dockerignore"
COMPOSE = DEPLOY / "compose.yaml"
UNIT = DEPLOY / "partnerbrief.service"
UNIT_EXEC_START = "/opt/partnerbrief/venv/bin/python -m bot run"


# --- Dockerfile parsing -----------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    stage: int  # index of the FROM this instruction belongs to; -1 before the first FROM
    keyword: str  # upper case
    args: str


def dockerfile_instructions(path: Path = DOCKERFILE) -> list[Instruction]:
    """Instructions with continuation lines joined and comments dropped (also inside
    continuations, as BuildKit does)."""
    instructions: list[Instruction] = []
    stage = -1
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        keyword, _, args = (pending + line).partition(" ")
        pending = ""
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        instructions.append(Instruction(stage, keyword, args.strip()))
    assert not pending, "the Dockerfile ends inside a continuation line"
    return instructions


def exec_form(args: str) -> list[str]:
    assert args.startswith("["), f"not in exec (JSON) form: {args}"
    value = json.loads(args)
    assert isinstance(value, list)
    return [str(v) for v in value]


def env_of(instructions: list[Instruction], stage: int) -> dict[str, str]:
    """ENV of one stage; KEY=VALUE pairs, shell-quoted values allowed."""
    env: dict[str, str] = {}
    for ins in instructions:
        if ins.stage == stage and ins.keyword == "ENV":
            for word in shlex.split(ins.args):
                key, sep, value = word.partition("=")
                assert sep, f"use ENV KEY=VALUE: {ins.args}"
                env[key] = value
    return env


def copies(instructions: list[Instruction], stage: int) -> list[tuple[dict[str, str], list[str]]]:
    """(flags, [sources..., destination]) of each COPY in a stage."""
    out = []
    for ins in instructions:
        if ins.stage == stage and ins.keyword in ("COPY", "ADD"):
            assert ins.keyword == "COPY", "use COPY, not ADD"
            words = exec_form(ins.args) if ins.args.startswith("[") else shlex.split(ins.args)
            flags = dict(w[2:].partition("=")[::2] for w in words if w.startswith("--"))
            out.append((flags, [w for w in words if not w.startswith("--")]))
    return out


def final_stage(instructions: list[Instruction]) -> int:
    return max(ins.stage for ins in instructions)


def last(instructions: list[Instruction], keyword: str, stage: int) -> Instruction:
    found = [i for i in instructions if i.keyword == keyword and i.stage == stage]
    assert found, f"no {keyword} in stage {stage}"
    return found[-1]


def workdir(instructions: list[Instruction], stage: int) -> PurePosixPath:
    found = [i for i in instructions if i.keyword == "WORKDIR" and i.stage == stage]
    return PurePosixPath(found[-1].args) if found else PurePosixPath("/")


def healthcheck_command(instructions: list[Instruction]) -> list[str]:
    args = last(instructions, "HEALTHCHECK", final_stage(instructions)).args
    _, cmd, command = args.partition("CMD ")
    assert cmd, f"HEALTHCHECK without CMD: {args}"
    return exec_form(command.strip())


# --- .dockerignore matching (the subset of Docker's rules the allow-list uses) ----------------


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + pattern[i : end + 1], end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def dockerignore_rules(path: Path = DOCKERIGNORE) -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line.lstrip("!").strip().strip("/")
        rules.append((negate, _pattern_regex(pattern)))
    return rules


def ignored(relative: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts = relative.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    result = False
    for negate, regex in rules:
        if any(regex.fullmatch(p) for p in prefixes):
            result = not negate
    return result


def context_files(source: str) -> list[str]:
    """Files of the repository under a COPY source, as the build context would send them."""
    rules = dockerignore_rules()
    base = REPO / source
    paths = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
    names = [p.relative_to(REPO).as_posix() for p in paths]
    return [n for n in names if not ignored(n, rules)]


def copy_like_docker(sources: list[str], dest: Path) -> None:
    """COPY semantics for the sources in the context: a directory's contents, or files."""
    for source in sources:
        src = (REPO / source).resolve()
        assert src.is_relative_to(REPO), f"COPY source outside the context: {source}"
        relative_base = src.relative_to(REPO)
        for name in context_files(source):
            inside = Path(name).relative_to(relative_base) if src.is_dir() else Path(src.name)
            target = dest / inside
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, target)


# --- systemd unit parsing ---------------------------------------------------------------------


def unit_settings(path: Path = UNIT) -> dict[str, list[str]]:
    """`Section.Key` -> values in order (systemd allows repeated keys)."""
    settings: dict[str, list[str]] = {}
    section = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, sep, value = line.partition("=")
        assert sep, f"not a Key=value line: {raw}"
        settings.setdefault(f"{section}.{key.strip()}", []).append(value.strip())
    return settings


def unit_environment(settings: dict[str, list[str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for value in settings.get("Service.Environment", []):
        for word in shlex.split(value):
            key, _, val = word.partition("=")
            env[key] = val
    return env


def unit_with_exec_start(tmp_path: Path, executable: str) -> Path:
    """A copy of the unit whose ExecStart binary exists here (verify checks that it does)."""
    text = UNIT.read_text(encoding="utf-8")
    line = f"ExecStart={UNIT_EXEC_START}"
    assert line in text, "the committed unit must keep the documented ExecStart"
    copy = tmp_path / UNIT.name
    copy.write_text(text.replace(line, f"ExecStart={executable} -m bot run"), encoding="utf-8")
    return copy


def require_systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        pytest.skip("systemd-analyze is not installed here: the unit is not verified by systemd")
    return found


# --- systemd unit -----------------------------------------------------------------------------


def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    """`systemd-analyze verify` reports nothing about the unit: no unknown key, no bad value.

    verify exits 0 even for "Unknown key … ignoring", so any line naming the unit fails too.
    """
    analyze = require_systemd_analyze()
    unit = unit_with_exec_start(tmp_path, sys.executable)
    result = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    complaints = [line for line in output.splitlines() if UNIT.name in line]
    assert not complaints, output


def test_the_unit_sandbox_stays_tight(tmp_path: Path) -> None:
    """The offline security review rates the unit's exposure 2.0 or lower ("OK")."""
    analyze = require_systemd_analyze()
    unit = unit_with_exec_start(tmp_path, sys.executable)
    result = subprocess.run(
        [analyze, "security", "--offline=yes", "--threshold=20", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr


def test_the_unit_does_not_restart_on_configuration_errors() -> None:
    """A broken configuration stops the service instead of a restart loop: every exit code
    of `python -m bot` that a restart cannot fix is in RestartPreventExitStatus."""
    settings = unit_settings()
    assert settings["Service.ExecStart"] == [UNIT_EXEC_START]
    assert settings["Service.Restart"] == ["on-failure"]
    prevented = {
        int(code) for v in settings["Service.RestartPreventExitStatus"] for code in v.split()
    }
    assert prevented == {EXIT_USAGE, EXIT_LOCKED, EXIT_CATALOG, EXIT_CONTENT, EXIT_STORE}
    assert settings["Service.KillSignal"] == ["SIGTERM"]
    # The bot exits within 10 s of SIGTERM; systemd must wait at least that long.
    assert int(settings["Service.TimeoutStopSec"][0].rstrip("s")) > 10


def test_the_unit_keeps_its_data_in_the_state_directory() -> None:
    """BOT_DATA_DIR is the StateDirectory, the only place the sandbox lets the bot write."""
    settings = unit_settings()
    env = unit_environment(settings)
    assert settings["Service.ProtectSystem"] == ["strict"]
    (state,) = settings["Service.StateDirectory"]
    assert env["BOT_DATA_DIR"] == f"/var/lib/{state}"
    assert env["BOT_CONTENT_DIR"].startswith("/opt/partnerbrief/")
    assert settings["Service.EnvironmentFile"] == ["/etc/partnerbrief/env"]
    for key in ("NoNewPrivileges", "MemoryDenyWriteExecute", "LockPersonality", "PrivateTmp"):
        assert settings[f"Service.{key}"] == ["yes"], key


# --- Dockerfile -------------------------------------------------------------------------------


def test_every_stage_builds_on_python_311_slim() -> None:
    """Both stages use the same python:3.11-slim base, so the copied venv's interpreter
    symlinks resolve in the runtime image."""
    instructions = dockerfile_instructions()
    args = {}
    for ins in instructions:
        if ins.keyword == "ARG" and ins.stage == -1:
            name, _, default = ins.args.partition("=")
            args[name] = default
    bases = []
    for ins in instructions:
        if ins.keyword == "FROM":
            image = ins.args.split()[0]
            for name, default in args.items():
                image = image.replace(f"${{{name}}}", default).replace(f"${name}", default)
            bases.append(image)
    assert len(bases) >= 2
    assert set(bases) == {"python:3.11-slim"}


def test_the_image_runs_the_bot_as_a_non_root_user() -> None:
    """The final stage switches to an unprivileged user before its command."""
    instructions = dockerfile_instructions()
    user = last(instructions, "USER", final_stage(instructions)).args
    name = user.split(":")[0]
    assert name not in ("root", "0"), user
    assert exec_form(last(instructions, "CMD", final_stage(instructions)).args) == [
        "python",
        "-m",
        "bot",
        "run",
    ]


def test_the_image_sets_its_environment_and_data_volume() -> None:
    """Data in the /data volume, content named explicitly, unbuffered logs, no .pyc writes."""
    instructions = dockerfile_instructions()
    final = final_stage(instructions)
    env = env_of(instructions, final)
    assert env["BOT_DATA_DIR"] == "/data"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["BOT_HTTP_PORT"] == "8080"
    volumes = last(instructions, "VOLUME", final).args
    assert "/data" in (exec_form(volumes) if volumes.startswith("[") else volumes.split())


def test_the_image_has_the_catalogs_and_the_content() -> None:
    """The build stage copies bot/ with its compiled catalogs (package data) and the final
    stage copies content/ where BOT_CONTENT_DIR points."""
    instructions = dockerfile_instructions()
    build = next(i.stage for i in instructions if i.keyword == "FROM" and "AS build" in i.args)
    sources = [s for _flags, words in copies(instructions, build) for s in words[:-1]]
    copied = {name for source in sources for name in context_files(source)}
    catalogs = sorted(REPO.glob("bot/locales/*/LC_MESSAGES/*.mo"))
    assert catalogs, "no compiled catalog in bot/locales"
    for mo in catalogs:
        assert mo.relative_to(REPO).as_posix() in copied, mo
    assert {"pyproject.toml", "README.md"} <= copied  # README.md: the package's readme
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert "locales/*/LC_MESSAGES/*.mo" in pyproject["tool"]["setuptools"]["package-data"]["bot"]

    final = final_stage(instructions)
    env = env_of(instructions, final)
    content = [words for flags, words in copies(instructions, final) if "from" not in flags]
    assert [w[:-1] for w in content] == [["content/"]], content
    assert PurePosixPath(content[0][-1]) == PurePosixPath(env["BOT_CONTENT_DIR"])
    for yaml_file in sorted((REPO / "content").glob("*.yaml")):
        assert yaml_file.relative_to(REPO).as_posix() in context_files("content/"), yaml_file


def test_the_build_context_leaves_out_secrets_and_local_state() -> None:
    """Dockerfile.dockerignore sends no .env, virtual environment, data or git history."""
    rules = dockerignore_rules()
    for name in (".env", ".env.example", ".venv/bin/python", "data/facts.json", ".git/HEAD"):
        assert ignored(name, rules), name
    for name in ("bot/__pycache__/cli.cpython-311.pyc", "partnerbrief.egg-info/PKG-INFO"):
        assert ignored(name, rules), name
    for name in ("pyproject.toml", "bot/cli.py", "content/facts.yaml"):
        assert not ignored(name, rules), name


# --- compose.yaml -----------------------------------------------------------------------------


def test_compose_builds_the_image_and_keeps_data_in_a_named_volume() -> None:
    """The bot service builds deploy/Dockerfile from the repository root, reads ../.env, pins
    the data directory to its volume and restarts unless stopped."""
    compose = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    bot = compose["services"]["bot"]
    context = (COMPOSE.parent / bot["build"]["context"]).resolve()
    assert context == REPO
    assert (context / bot["build"]["dockerfile"]).resolve() == DOCKERFILE
    assert bot["env_file"] == ["../.env"]
    assert bot["restart"] == "unless-stopped"
    instructions = dockerfile_instructions()
    image_env = env_of(instructions, final_stage(instructions))
    # environment: wins over env_file, whose example sets BOT_DATA_DIR=./data.
    for key in ("BOT_DATA_DIR", "BOT_CONTENT_DIR", "BOT_HTTP_PORT"):
        assert str(bot["environment"][key]) == image_env[key], key
    volume, _, target = bot["volumes"][0].partition(":")
    assert target == image_env["BOT_DATA_DIR"]
    assert volume in compose["volumes"]
    assert bot["healthcheck"]["test"] == ["CMD", *healthcheck_command(instructions)]


def test_compose_documents_the_optional_services() -> None:
    """The Ollama and self-hosted Bot API services are there, commented out, with the URLs
    the bot must be given to reach them; PostgreSQL starts only with its profile, so the
    embedded store stays the default."""
    text = COMPOSE.read_text(encoding="utf-8")
    compose = yaml.safe_load(text)
    # A newcomer's `docker compose up` starts the embedded bot alone.
    assert {name for name, svc in compose["services"].items() if not svc.get("profiles")} == {
        "bot"
    }
    postgres = compose["services"]["postgres"]
    assert postgres["profiles"] == ["postgres", "replicas"]
    assert "postgres" in compose["volumes"]
    assert "DATABASE_URL=postgresql://partnerbrief:…@postgres:5432/partnerbrief" in text
    assert "LLM_BASE_URL=http://ollama:11434/v1" in text
    assert "TELEGRAM_API_BASE_URL=http://telegram-bot-api:8081/bot" in text
    assert re.search(r"^\s*#\s*image: ollama/ollama", text, re.MULTILINE)
    assert re.search(r"^\s*#\s*image: aiogram/telegram-bot-api", text, re.MULTILINE)


# --- the health check command -----------------------------------------------------------------


class _Probe(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()
        self.wfile.write(b"ok\n")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def probe_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Probe)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def _probe(command: list[str], port: int) -> int:
    assert command[0] == "python"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "BOT_HTTP_PORT": str(port),
        **timetravel.child_env(),
    }
    result = subprocess.run(
        [sys.executable, *command[1:]], env=env, capture_output=True, text=True, timeout=30
    )
    return result.returncode


def test_the_health_check_passes_on_200_and_fails_otherwise(
    probe_server: ThreadingHTTPServer,
) -> None:
    """The HEALTHCHECK command (python's urllib, no curl in slim) exits 0 when /healthz on
    BOT_HTTP_PORT answers 200, and non-zero on 503 or when nothing listens."""
    command = healthcheck_command(dockerfile_instructions())
    port = probe_server.server_address[1]
    _Probe.status = 200
    assert _probe(command, port) == 0
    _Probe.status = 503
    try:
        assert _probe(command, port) != 0
    finally:
        _Probe.status = 200
    closed = ThreadingHTTPServer(("127.0.0.1", 0), _Probe)
    free_port = closed.server_address[1]
    closed.server_close()
    assert _probe(command, free_port) != 0


# --- the image's command, from a fresh non-editable install -----------------------------------


def _image_path(root: Path, container_path: str) -> Path:
    return root / container_path.lstrip("/")


@pytest.mark.real_clock
def test_the_image_command_runs_from_a_fresh_non_editable_install(tmp_path: Path) -> None:
    """The image's command runs from a fresh virtual environment built the way the
    Dockerfile builds it.

    The build stage's COPY instructions are replayed (through the dockerignore rules) into a
    source directory, the package is installed with `pip install .` into a new venv at the
    image's venv path (mapped under tmp_path), content/ is copied where the final stage puts
    it, and the bot runs from an unrelated working directory with the image's ENV. This proves
    that catalogs and content are found from an installed, non-editable package.
    """
    instructions = dockerfile_instructions()
    build = next(i.stage for i in instructions if i.keyword == "FROM" and "AS build" in i.args)
    final = final_stage(instructions)
    build_runs = " ".join(i.args for i in instructions if i.stage == build and i.keyword == "RUN")
    assert "pip install ." in build_runs and "install -e" not in build_runs, build_runs

    source = tmp_path / "src"
    for _flags, words in copies(instructions, build):
        dest = workdir(instructions, build) / words[-1]
        copy_like_docker(words[:-1], source / dest.relative_to(workdir(instructions, build)))

    root = tmp_path / "image"
    venv_copy = [w for flags, w in copies(instructions, final) if flags.get("from") == "build"]
    assert len(venv_copy) == 1 and len(venv_copy[0]) == 2, venv_copy
    venv_in_image = venv_copy[0][0].rstrip("/")
    venv = _image_path(root, venv_in_image)
    for flags, words in copies(instructions, final):
        if "from" not in flags:
            copy_like_docker(words[:-1], _image_path(root, words[-1]))

    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHONSAFEPATH")
        and not k.startswith(("BOT_", "TELEGRAM_", "LLM_"))
    }
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=clean, timeout=120)
    install = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", "."],
        cwd=source,
        env=clean,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]

    env = dict(clean)
    for key, value in env_of(instructions, final).items():
        if key == "PATH":
            value = value.replace("$PATH", clean.get("PATH", "/usr/bin:/bin"))
            value = ":".join(
                str(_image_path(root, p)) if p.startswith(venv_in_image) else p
                for p in value.split(":")
            )
        elif value.startswith("/"):
            value = str(_image_path(root, value))
        env[key] = value
    _image_path(root, env_of(instructions, final)["BOT_DATA_DIR"]).mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    python = shutil.which("python", path=env["PATH"])
    assert python is not None and Path(python).parent == venv / "bin", python

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [python, *args], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120
        )

    where = run(
        "-c",
        "import bot, bot.i18n.translator, bot.tg.app; bot.i18n.translator.check_catalogs(); "
        "print(bot.__file__); print(bot.i18n.translator.LOCALES_DIR)",
    )
    assert where.returncode == 0, where.stderr
    for line in where.stdout.splitlines():
        # The installed copy, not the checkout.
        assert Path(line).resolve().is_relative_to(venv.resolve()), line

    helped = run("-m", "bot", "--help")
    assert helped.returncode == 0, helped.stderr
    assert "run" in helped.stdout

    brief = run("-m", "bot", "brief", "--lang", "fr")
    assert brief.returncode == 0, brief.stderr
    assert "Sources" in brief.stdout

    checked = run("-m", "bot", "content", "check")
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith(env["BOT_CONTENT_DIR"]), checked.stdout

    # The final stage's own smoke test: the RUN lines after USER (those before it create the
    # user and need root), with the same environment.
    final_stage_instructions = [i for i in instructions if i.stage == final]
    user_at = [i.keyword for i in final_stage_instructions].index("USER")
    smoke = [i.args for i in final_stage_instructions[user_at:] if i.keyword == "RUN"]
    assert smoke, "no smoke test after USER in the final stage"
    for command in smoke:
        assert command.startswith("python -m bot"), command
        ran = subprocess.run(
            ["/bin/sh", "-c", command],
            cwd=elsewhere,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert ran.returncode == 0, ran.stderr


def test_the_replicas_profile_runs_three_webhook_replicas_on_postgresql_behind_nginx() -> None:
    """Optional profile "replicas": PostgreSQL, three replicas of the image in webhook mode on
    it (DATABASE_URL from ../.env), each with its own spill volume, and nginx mounting the
    committed config."""
    compose = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    services = compose["services"]
    replicas = [f"replica-{n}" for n in (1, 2, 3)]
    for name in ("balancer", *replicas):
        assert services[name]["profiles"] == ["replicas"], name
    assert "replicas" in services["postgres"]["profiles"]
    for name in replicas:
        env = services[name]["environment"]
        assert services[name]["env_file"] == ["../.env"]  # DATABASE_URL, the webhook's URL
        assert env["BOT_WEBHOOK_PORT"] == "8443"
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert len({services[name]["volumes"][0] for name in replicas}) == 3
    mount = services["balancer"]["volumes"][0].split(":")[0]
    config = (COMPOSE.parent / mount).read_text(encoding="utf-8")
    for name in replicas:
        assert f"server {name}:8443" in config


def test_the_balancer_config_spreads_posts_over_the_replicas(tmp_path: Path) -> None:
    """nginx (Debian's, when installed) with the committed config, the replicas' names
    pointed at three local HTTP servers: six POSTs go round robin, two to each."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    servers = []
    for _ in range(3):
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    listen = _free_port()
    site = (REPO / "deploy" / "nginx" / "replicas.conf").read_text(encoding="utf-8")
    for n, server in enumerate(servers, start=1):
        site = site.replace(f"replica-{n}:8443", f"127.0.0.1:{server.server_port}")
    site = site.replace("listen 8443;", f"listen 127.0.0.1:{listen};")
    (tmp_path / "site.conf").write_text(site, encoding="utf-8")
    (tmp_path / "nginx.conf").write_text(
        f"""worker_processes 1;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log;
events {{}}
http {{
  access_log off;
  client_body_temp_path {tmp_path}/body;
  proxy_temp_path {tmp_path}/proxy;
  include {tmp_path}/site.conf;
}}
""",
        encoding="utf-8",
    )
    conf = str(tmp_path / "nginx.conf")
    checked = subprocess.run([nginx, "-t", "-c", conf], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    subprocess.run([nginx, "-c", conf], check=True, timeout=30)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                answers = [
                    urllib.request.urlopen(
                        urllib.request.Request(
                            f"http://127.0.0.1:{listen}/hook", data=b"{}", method="POST"
                        ),
                        timeout=5,
                    ).read()
                    for _ in range(6)
                ]
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
    finally:
        subprocess.run([nginx, "-c", conf, "-s", "stop"], timeout=30, check=False)
        for server in servers:
            server.shutdown()
            server.server_close()
    ports = sorted(int(a) for a in answers)
    assert ports == sorted(s.server_port for s in servers for _ in range(2))


class _Hook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        body = str(self.server.server_address[1]).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
