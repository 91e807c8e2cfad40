"""Scale-out on scrapy-redis (placeholder: being written)."""

from __future__ import annotations

from typing import Any


class RedisAddon:
    """Switches scheduling and deduplication to scrapy-redis when REDIS_URL is set."""

    def update_settings(self, settings: Any) -> None:
        return None
