"""Benchmarks of the Guba crawler (``make bench`` / ``python -m bench [NAME ...]``).

Every benchmark prints one JSON line per figure and never asserts on time: each figure is a comparison made
inside one run (the full crawl against a bare spider on the same pages, a small store against a large one),
so it holds on a noisy or slow machine. See ``bench/README.md``.
"""
