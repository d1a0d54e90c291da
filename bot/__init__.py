"""partnerbrief: sourced briefings on AI partnerships, for Telegram and the terminal."""

__version__ = "0.1.0"
