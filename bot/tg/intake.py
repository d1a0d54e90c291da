"""The newsroom's feed poller as a job: each tick polls the feeds that are due."""

from __future__ import annotations

import logging

from bot.tg.context import BotContext

log = logging.getLogger(__name__)
# Feeds have intervals of minutes (content/feeds.yaml); a tick a minute finds each due
# within a minute of its time, and costs nothing when none is.
TICK_SECONDS = 60.0


async def poll_feeds(context: BotContext) -> None:
    intake = context.services.intake
    if intake is None:
        return
    report = await intake.poll_due()
    if report.polled:
        log.info(
            "feeds polled: %d, new stories %d, new links %d, failing %d",
            report.polled,
            report.new_stories,
            report.new_links,
            report.errors,
        )
