"""Spiders: which URLs, in what order, which callback. No selectors here (they live in crawler.pages)."""
