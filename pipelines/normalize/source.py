"""Where a post comes from: an ordinary user, a news repost, a 财富号 article, a forward or a 问董秘 Q&A.

:data:`OUTLET_ALIASES` is the one table that maps outlet spellings to a canonical name; everything that
compares outlets goes through :func:`canonical_outlet`.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Final, Literal

from crawler.urls import DEFAULT_BASE_URL, caifuhao_url, finance_article_url

SourceKind = Literal["user", "news", "caifuhao", "forward", "qa"]

# canonical outlet -> spellings seen in 来源 lines, MediaName and footers (the canonical name is implied).
# Sister brands of one newsroom are merged (中新网/中新社, 上证报/中国证券网) because a repost of the same
# wire story under either name is the same outlet for dedup and statistics.
OUTLET_ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "新华社": ("新华社", "新华网", "新华社客户端"),
    "人民网": ("人民网", "人民网财经", "人民网-财经频道"),
    "人民日报": ("人民日报", "人民日报客户端"),
    "央视新闻": ("央视新闻", "央视新闻客户端", "CCTV新闻"),
    "央视财经": ("央视财经", "CCTV财经"),
    "中国新闻网": ("中国新闻网", "中新网", "中新社", "中新经纬"),
    "南方都市报": ("南方都市报", "南都", "南都N视频"),
    "第一财经": ("第一财经", "第一财经日报", "一财", "第一财经网"),
    "财联社": ("财联社", "财联社电报"),
    "证券时报": ("证券时报", "证券时报网", "证券时报·e公司", "证券时报e公司", "e公司"),
    "上海证券报": ("上海证券报", "上证报", "中国证券网", "上海证券报·中国证券网"),
    "中国证券报": ("中国证券报", "中证报", "中证网", "中国证券报·中证网"),
    "证券日报": ("证券日报", "证券日报网", "证券日报之声"),
    "经济观察报": ("经济观察报", "经济观察网", "经观"),
    "21世纪经济报道": ("21世纪经济报道", "21财经", "21世纪经济报"),
    "每日经济新闻": ("每日经济新闻", "每经网", "每经", "每日经济"),
    "经济日报": ("经济日报", "中国经济网"),
    "澎湃新闻": ("澎湃新闻", "澎湃", "澎湃新闻网"),
    "界面新闻": ("界面新闻", "界面"),
    "新浪财经": ("新浪财经", "新浪"),
    "网易财经": ("网易财经", "网易"),
    "读创": ("读创", "深圳商报·读创", "读创财经"),
    "中国基金报": ("中国基金报",),
    "东方财富网": ("东方财富网", "东方财富", "东财", "东方财富研究中心"),
}


def _alias_key(text: str) -> str:
    # NFKC makes full-width letters/digits/punctuation agree; case and the separator dot of "证券时报·e公司"
    # spellings vary, so they do not take part in the match.
    return re.sub(r"[\s·•・\-_]", "", unicodedata.normalize("NFKC", text)).lower()


_ALIAS_INDEX: Final[dict[str, str]] = {
    _alias_key(alias): canonical
    for canonical, aliases in OUTLET_ALIASES.items()
    for alias in (canonical, *aliases)
}

# After NFKC: full-width colon -> ":", brackets -> ASCII. Longest prefixes first.
_PREFIX_RE: Final = re.compile(
    r"^(?:本文来源于|本文来源|本文来自|文章来源|信息来源|消息来源|内容来源|来源于|来源|转自|转载自|转载于|摘自|来自)\s*[:]?\s*"
)
_WRAP_RE: Final = re.compile(r"^[(\[【〔<《]\s*(.*?)\s*[)\]】〕>》]$", re.S)
# Trailing author/date bits: "作者：张三", "记者 李四", "2024-05-22 15:34", "2024年5月22日".
_TAIL_RE: Final = re.compile(
    r"(?:\s*(?:作者|记者|编辑|责编|责任编辑|撰文|文|图|通讯员)\s*[:|/]|"
    r"\s*\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}日?|"
    r"\s+\d{1,2}:\d{2}).*$",
    re.S,
)
_CAIFUHAO_RE: Final = re.compile(r"来源\s*[:：]\s*(?P<name>[^()（）:：]{1,40}?的财富号)")
_CAIFUHAO_SOURCE_ID_RE: Final = re.compile(r"^\d{23}$")
_FINANCE_SOURCE_ID_RE: Final = re.compile(r"^\d{18}$")
# A user post that pastes a news story: "来源：读创 …" / "转自网易财经：…" on its first line (S29).
_BODY_SOURCE_RE: Final = re.compile(
    r"^(?:来源\s*[:：]\s*(?P<a>[^\s,，。;；:：!！?？()（）]{1,20})|"
    r"(?:转自|转载自)\s*(?P<b>[^\s,，。;；:：!！?？()（）]{1,20})\s*[:：])"
)


def canonical_outlet(text: str | None) -> str | None:
    """Canonical outlet name for a 来源 line, MediaName or footer, e.g. ``"（文章来源：中新网）"`` → ``"中国新闻网"``.

    Strips wrapping brackets (full- or half-width), ``来源：`` / ``本文来源于:`` / ``本文来自:`` / ``文章来源：``
    style prefixes, whitespace, and trailing author/date bits; then maps known spellings through
    :data:`OUTLET_ALIASES`. Unknown names come back cleaned (NFKC, first whitespace-separated word) rather
    than dropped; None, empty or nothing-left → None. Never raises.
    """
    if not text:
        return None
    s = unicodedata.normalize("NFKC", text).strip()
    for _ in range(3):  # "（文章来源：【新华社】）": unwrap and strip prefixes until stable
        before = s
        m = _WRAP_RE.match(s)
        if m:
            s = m.group(1).strip()
        s = _PREFIX_RE.sub("", s).strip()
        if s == before:
            break
    s = _TAIL_RE.sub("", s).strip(" \t\r\n:;,.。，；|/")
    if not s:
        return None
    known = _ALIAS_INDEX.get(_alias_key(s))
    if known:
        return known
    first = s.split()[0]
    return _ALIAS_INDEX.get(_alias_key(first), first)


def caifuhao_name(footer: str | None) -> str | None:
    """``"X的财富号"`` from a 财富号 footer ``（来源：X的财富号 2024-05-22 15:34）``, else None."""
    if not footer:
        return None
    m = _CAIFUHAO_RE.search(unicodedata.normalize("NFKC", footer))
    return m.group("name").strip() if m else None


def body_outlet(body_text: str) -> str | None:
    """Outlet named on the first non-empty line of a plain-text body (``来源：读创…``, ``转自网易财经：…``)."""
    for line in body_text.splitlines():
        line = line.strip()
        if not line:
            continue
        m = _BODY_SOURCE_RE.match(line)
        if not m:
            return None
        name = m.group("a") or m.group("b")
        # Pasted text often runs on without a separator ("来源：读创记者获悉"): a known outlet at the start wins.
        return _known_prefix(name) or canonical_outlet(name)
    return None


def _known_prefix(text: str) -> str | None:
    key = _alias_key(text)
    best = max((alias for alias in _ALIAS_INDEX if key.startswith(alias)), key=len, default=None)
    return _ALIAS_INDEX[best] if best else None


def _clean_id(value: str | None) -> str | None:
    v = (value or "").strip()
    return None if v in {"", "0"} else v


def normalize_source(
    *,
    post_type: int | None,
    client: str | None,
    media_name: str | None,
    header_source_raw: str | None,
    footer_source_raw: str | None,
    footer_url: str | None,
    source_id: str | None,
    forward_of: str | None,
    body_text: str = "",
) -> dict[str, Any]:
    """Classify where a post comes from.

    Returns ``{"kind", "outlet", "url", "client"}``; ``client`` is passed through unchanged. The first rule
    that applies decides ``kind``:

    1. ``forward`` — ``forward_of`` is a post id (not None/""/"0"); outlet and url None (the forwarded post
       has its own source).
    2. ``qa`` — ``post_type`` 11 (问董秘); outlet and url None.
    3. ``caifuhao`` — ``post_type`` 20 or a 财富号 footer ``（来源：X的财富号 2024-05-22 15:34）``. ``outlet`` is
       ``"X的财富号"`` as written: a creator account is not the outlet X, and keeping the suffix stops a
       财富号 called "新华社" from counting as the agency. ``url`` = ``footer_url``, else
       ``https://caifuhao.eastmoney.com/news/{source_id}`` for a 23-digit ``source_id``.
    4. ``news`` — ``post_type`` 1 or any outlet evidence. ``outlet`` = first non-empty of MediaName >
       header 来源 line > footer 文章来源 (after :func:`canonical_outlet`; in captured pages they agree, and
       MediaName wins because it is structured data rather than text). ``url`` = ``footer_url``, else
       ``http://finance.eastmoney.com/a/{source_id}.html`` for an 18-digit ``source_id``.
    5. ``user`` — otherwise. A user post whose plain-text body starts with ``来源：读创…`` / ``转自网易财经：…``
       stays ``user`` (a person chose to paste it; nothing says Eastmoney's news feed carried it) but gets
       ``outlet`` from that line, so dedup and statistics can still see the outlet.
    """
    result: dict[str, Any] = {"kind": "user", "outlet": None, "url": None, "client": client}
    sid = _clean_id(source_id)
    url = (footer_url or "").strip() or None

    if _clean_id(forward_of):
        result["kind"] = "forward"
        return result
    if post_type == 11:
        result["kind"] = "qa"
        return result

    cfh = caifuhao_name(footer_source_raw)
    if post_type == 20 or cfh:
        result["kind"] = "caifuhao"
        result["outlet"] = cfh
        if url is None and sid and _CAIFUHAO_SOURCE_ID_RE.match(sid):
            url = caifuhao_url(DEFAULT_BASE_URL, sid)
        result["url"] = url
        return result

    outlet = canonical_outlet(media_name) or canonical_outlet(header_source_raw) or canonical_outlet(footer_source_raw)
    if post_type == 1 or outlet:
        result["kind"] = "news"
        result["outlet"] = outlet
        if url is None and sid and _FINANCE_SOURCE_ID_RE.match(sid):
            url = finance_article_url(sid)
        result["url"] = url
        return result

    result["outlet"] = body_outlet(body_text) if body_text else None
    return result
