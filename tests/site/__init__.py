"""The replay site: a scriptable local Guba on 127.0.0.1 for end-to-end tests, fault tests and benchmarks.

    from tests.site import ReplaySite, SiteModel

    model = SiteModel.generate(seed=1)
    with ReplaySite(model) as site:
        ...  # crawl site.base_url; site.faults.verification(count=3); model.add_post("600519")

Run alone: ``python -m tests.site [--port N] [--seed S] [--boards 600519:200,usBABA:120]``.
"""

from tests.site.faults import Fault, FaultSet
from tests.site.model import Author, Board, Post, Reply, SiteModel
from tests.site.server import ReplaySite

__all__ = ["Author", "Board", "Fault", "FaultSet", "Post", "ReplaySite", "Reply", "SiteModel"]
