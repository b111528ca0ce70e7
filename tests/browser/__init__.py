"""Real-browser end-to-end tests: Playwright for Python drives Debian's Chromium on `python -m webapp`."""
