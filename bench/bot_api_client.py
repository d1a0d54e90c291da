"""CPU per Bot API call of each HTTP client the bot could send its JSON calls with.

    python -m bench.bot_api_client [--requests 5000]

Each client sends the same sendMessage (HTML text and an inline keyboard, as the bot's replies
carry) one after another to the Bot API double, which runs in a child process so that its CPU is
not counted; this process's CPU time (``time.process_time()``) is read around each call. Clients:

* ``httpx``: PTB's HTTPXRequest, form-encoded parameters (what PTB does out of the box);
* ``aiohttp``: bot/tg/aiorequest.py, JSON bodies (what the bot uses);
* ``http11``: the hand-written keep-alive client the bot used before aiohttp, measured only
  where bot/tg/http11.py still exists (branch soak-speed).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import multiprocessing
import statistics
import time
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.request import HTTPXRequest, RequestData
from telegram.request._requestparameter import RequestParameter

from bot.tg.aiorequest import AiohttpRequest
from tests.support.botapi_double import BotApiDouble

CHAT = 42
Call = Callable[[], Awaitable[tuple[int, bytes]]]


def serve_double(conn: Connection) -> None:
    with BotApiDouble(record_calls=False) as double:
        double.send_text(CHAT, "hello")  # the chat exists once its user wrote
        conn.send((double.token, double.base_url))
        conn.recv()


def send_message_data() -> RequestData:
    markup = InlineKeyboardMarkup(
        [[InlineKeyboardButton("Vue d'ensemble", callback_data="overview:fr")]] * 3
    )
    params = {
        "chat_id": CHAT,
        "text": "<b>Microsoft détient ~27 %</b> de l’entité « à but lucratif ».\n" * 6,
        "parse_mode": "HTML",
        "reply_markup": markup,
    }
    return RequestData([RequestParameter.from_input(k, v) for k, v in params.items()])


async def measure(call: Call, requests: int) -> list[float]:
    for _ in range(50):  # warm up: connections opened, caches filled
        status, _ = await call()
        assert status == 200, status
    cpu: list[float] = []
    for _ in range(requests):
        before = time.process_time()
        status, _ = await call()
        cpu.append(time.process_time() - before)
        assert status == 200, status
    return cpu


async def run(base_url: str, token: str, requests: int) -> dict[str, list[float]]:
    url = f"{base_url}{token}/sendMessage"
    data = send_message_data()
    results: dict[str, list[float]] = {}

    httpx_request = HTTPXRequest(connection_pool_size=8)
    await httpx_request.initialize()
    results["httpx"] = await measure(lambda: httpx_request.do_request(url, "POST", data), requests)
    await httpx_request.shutdown()

    aiohttp_request = AiohttpRequest(connection_pool_size=8)
    await aiohttp_request.initialize()
    results["aiohttp"] = await measure(
        lambda: aiohttp_request.do_request(url, "POST", data), requests
    )
    await aiohttp_request.shutdown()

    try:
        http11 = importlib.import_module("bot.tg.http11")
    except ImportError:
        return results
    pool = http11.Http11Pool(8, user_agent=HTTPXRequest.USER_AGENT)
    body = data.json_payload
    results["http11"] = await measure(lambda: pool.request("POST", url, body), requests)
    await pool.aclose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    conn, child = context.Pipe()
    process = context.Process(target=serve_double, args=(child,), name="botapi-double")
    process.start()
    child.close()
    token, base_url = conn.recv()
    try:
        results = asyncio.run(run(base_url, token, args.requests))
    finally:
        conn.send("stop")
        process.join(10)
    figures = {
        name: {
            "mean_ms": round(statistics.fmean(cpu) * 1000, 4),
            "median_ms": round(statistics.median(cpu) * 1000, 4),
            "p95_ms": round(statistics.quantiles(cpu, n=20)[18] * 1000, 4),
        }
        for name, cpu in results.items()
    }
    print(json.dumps({"requests": args.requests, "cpu_per_request": figures}, indent=2))


if __name__ == "__main__":
    main()
