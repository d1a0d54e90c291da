"""Test support code: the Telegram Bot API double used by end-to-end tests and benchmarks."""
