"""What an incremental run does with a list row, given what the store already knows about that post.

Pure rules (no I/O): the store is read by ``pipelines.watermarks.KnownPosts`` and handed to the spider as
``spider.known_posts``; the spider asks :func:`decide` for every list row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Known:
    """A stored post as an incremental run sees it.

    comments / last_activity_raw: as stored from its post page. replies_first_level / replies_comments: from the
    last time *all* its reply pages were fetched (None: never), with the post's comment count at that time.
    """

    comments: int | None
    last_activity_raw: str | None
    deleted: bool
    replies_first_level: int | None
    replies_comments: int | None


class KnownPostsStore(Protocol):
    def lookup(self, post_ids: list[str]) -> dict[str, Known]: ...

    def watermark(self, board: str, sort: str) -> str | None: ...


@dataclass(frozen=True)
class Decision:
    fetch: bool
    reply_start_page: int  # first replies-API page to fetch (1 = all)
    reason: str  # new, changed, replies_incomplete, reappeared, unchanged


def decide(
    *, comments: int | None, last_activity_raw: str | None, known: Known | None, reply_page_size: int
) -> Decision:
    """Fetch a listed post again only when it is new, changed (comment count or last-activity time moved), or
    its replies were never all fetched. Replies restart at the page holding the first reply not yet stored
    (the API lists replies oldest first)."""
    if known is None:
        return Decision(True, 1, "new")
    if known.deleted:
        return Decision(True, 1, "reappeared")
    start = 1
    if known.replies_first_level is not None and reply_page_size > 0:
        start = known.replies_first_level // reply_page_size + 1
    if known.replies_comments is None or known.replies_comments != known.comments:
        return Decision(True, start, "replies_incomplete")
    moved_count = comments is not None and known.comments is not None and comments != known.comments
    moved_time = bool(last_activity_raw and known.last_activity_raw and last_activity_raw != known.last_activity_raw)
    if moved_count or moved_time:
        return Decision(True, start, "changed")
    return Decision(False, 0, "unchanged")
