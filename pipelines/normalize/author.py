"""Author normalisation: who wrote a post or reply, as a small dict with a ``kind``.

The raw nickname is always kept (``name_raw``) so the rule can be re-run over stored data.
"""

from __future__ import annotations

from typing import Any, Final, Literal

AuthorKind = Literal["user", "official", "anonymous", "deleted"]

# Nicknames Guba shows in place of a cancelled account. Exact matches only.
DELETED_NICKNAMES: Final[frozenset[str]] = frozenset(
    {"该用户已注销", "已注销", "用户已注销", "账号已注销", "该账号已注销", "此用户已注销", "注销用户"}
)

# Placeholder nicknames of people without an account (or hidden ones). Exact matches only: "上海网友"-style
# regional labels are IP regions on replies, not nicknames, so they are not listed.
ANONYMOUS_NICKNAMES: Final[frozenset[str]] = frozenset({"匿名用户", "匿名", "游客", "股吧网友"})

# Eastmoney's own accounts, recognised by exact nickname even when ``user_is_majia`` is missing (it is absent
# from some payloads). Deliberately short: any user may call himself "XX资讯", so a suffix rule alone would
# promote ordinary users; "{bar}资讯" is only trusted when the caller passes the bar name.
OFFICIAL_NICKNAMES: Final[frozenset[str]] = frozenset(
    {"东方财富网", "东方财富", "东方财富资讯", "东方财富创作小助手"}
)

# Ids Guba uses for "no account".
_NO_ID: Final[frozenset[str]] = frozenset({"", "0", "-1", "null", "None"})


def _clean(text: str | None) -> str | None:
    if text is None:
        return None
    cleaned = " ".join(text.replace("\u3000", " ").replace("\xa0", " ").split())
    return cleaned or None


def normalize_author(
    *,
    user_id: str | None,
    nickname: str | None,
    is_majia: bool = False,
    deactivated: bool = False,
    user_type: int | None = None,
    bar_name: str | None = None,
) -> dict[str, Any]:
    """Classify and clean an author.

    Returns ``{"id", "name", "kind", "name_raw"}``:

    - ``deleted``: ``deactivated`` is true or the nickname is a cancelled-account placeholder ("该用户已注销");
      ``name`` is None, ``id`` is kept when there is one (replies of the account can still be linked).
    - ``anonymous``: no usable user id (None, "", "0") or a placeholder nickname ("匿名用户", "游客",
      "股吧网友"); ``id`` is None; ``name`` is the nickname unless it is a placeholder.
    - ``official``: ``is_majia`` (Guba's bar news accounts such as "贵州茅台资讯"), an exact known Eastmoney
      account nickname (:data:`OFFICIAL_NICKNAMES`), or exactly ``f"{bar_name}资讯"`` when ``bar_name`` is
      given (``bar_name`` may carry the "吧" suffix).
    - ``user``: everybody else.

    ``user_type`` is accepted for the record but not used: its values (0 for both majia and ordinary users
    in the captured pages) say nothing reliable about the kind. Odd input never raises; whitespace
    (including U+3000 and nbsp) in the nickname is collapsed; ``name_raw`` is the nickname exactly as given.
    """
    del user_type  # see docstring: no reliable meaning yet
    name = _clean(nickname)
    uid = (user_id or "").strip()
    has_id = uid not in _NO_ID

    if deactivated or (name is not None and name in DELETED_NICKNAMES):
        return {"id": uid if has_id else None, "name": None, "kind": "deleted", "name_raw": nickname}

    official = bool(is_majia) or (name is not None and name in OFFICIAL_NICKNAMES)
    if not official and name is not None and bar_name:
        bar = bar_name.strip()
        bar = bar[:-1] if bar.endswith("吧") else bar
        official = bool(bar) and name == f"{bar}资讯"

    if name is not None and name in ANONYMOUS_NICKNAMES:
        return {"id": None, "name": None, "kind": "anonymous", "name_raw": nickname}
    if not has_id:
        # A majia row without an id would still be an official account; Guba never sends one, so an
        # id-less author is treated as anonymous regardless of flags.
        return {"id": None, "name": name, "kind": "anonymous", "name_raw": nickname}
    return {"id": uid, "name": name, "kind": "official" if official else "user", "name_raw": nickname}
