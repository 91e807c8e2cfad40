"""Post pages (``news,{bar},{post_id}.html``): ``var post_article={…}`` -> :class:`PostItem` (raw side).

The 2023+ page embeds a flat object; pre-2021 pages wrapped it as ``{"post": {…}, "rc": 1}``
(guba-site.md §3.2). Source attribution (§3.3) and stock mentions (§3.4) are read from the
``post_content`` HTML fragment.
"""

from __future__ import annotations

import re
from typing import Any

import lxml.etree
import lxml.html

from crawler.items import PostItem, StockMention
from crawler.pages.classify import classify_page, raise_for_kind
from crawler.pages.embedded import extract_js_object, json_bool, json_dict, json_id, json_int, json_str
from crawler.pages.errors import ApiError, LayoutChanged
from crawler.pages.listpage import own_bar_code
from crawler.urls import NotAGubaUrl, parse_post_url

# --- stock mentions -------------------------------------------------------------------------------
# One scan over tags and cashtags keeps mentions in order of appearance across the kinds.
_SCAN_RE = re.compile(
    r"(?P<tag><[A-Za-z][^<>]*>)"
    r"|\$(?P<name>[^$()（）<>\n]{1,40}?)[(（](?P<code>[^$()（）<>\n]{1,24})[)）]\$"
)
_ATTR_RE = re.compile(r"""([A-Za-z_:][-\w:.]*)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")
_KLINE_ALT_RE = re.compile(r"K图\s*([A-Za-z0-9.]{1,16})_\d+")
_DATACODE_RE = re.compile(r"([A-Za-z0-9.]{1,16})[|,](\d{1,4})(?:[|,]|$)")
_MARKETS = "SH|SZ|BJ|HK|US|BK"
_CASH_PREFIX_SEP_RE = re.compile(rf"({_MARKETS})[|:.\-]([A-Za-z0-9.]{{1,16}})", re.IGNORECASE)
_CASH_PREFIX_RE = re.compile(r"(SH|SZ|BJ)(\d{6})|(BK)(\d{4})|(HK)(\d{4,5})", re.IGNORECASE)
_CASH_SUFFIX_RE = re.compile(rf"([A-Za-z0-9]{{1,16}})\.({_MARKETS})", re.IGNORECASE)
_CASH_PLAIN_RE = re.compile(r"[A-Za-z0-9.]{1,16}")


def _attrs(tag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in _ATTR_RE.finditer(tag):
        out.setdefault(m.group(1).lower(), next(g for g in m.groups()[1:] if g is not None))
    return out


def _market_cashtag(code: str, hint: str, name: str | None) -> StockMention:
    hint = hint.upper()
    # A board's code is "BK0896" everywhere the site names it (stockbar_market "BK0896.BK"), and the
    # digits alone mean nothing, so the BK prefix stays in the code; SH/SZ/BJ/HK/US are only markets.
    if hint == "BK" and code.isdigit():
        code = "BK" + code
    return StockMention("cashtag", code, hint, name)


def _cashtag(name: str, code_text: str) -> StockMention | None:
    code_text = code_text.strip()
    name_or_none = name.strip() or None
    m = _CASH_PREFIX_SEP_RE.fullmatch(code_text)
    if m:
        return _market_cashtag(m.group(2), m.group(1), name_or_none)
    m = _CASH_PREFIX_RE.fullmatch(code_text)
    if m:
        hint, code = next((m.group(i), m.group(i + 1)) for i in (1, 3, 5) if m.group(i))
        return _market_cashtag(code, hint, name_or_none)
    m = _CASH_SUFFIX_RE.fullmatch(code_text)
    if m:
        return _market_cashtag(m.group(1), m.group(2), name_or_none)
    if _CASH_PLAIN_RE.fullmatch(code_text):
        return StockMention("cashtag", code_text, None, name_or_none)
    return None


def _tag_mention(tag: str) -> StockMention | None:
    attrs = _attrs(tag)
    if tag[1:4].lower() == "img":
        m = _KLINE_ALT_RE.search(attrs.get("alt", ""))
        if m:
            code = m.group(1)
            hint = None
            nid = re.search(r"nid=(\d+)\." + re.escape(code) + r"(?![A-Za-z0-9])", attrs.get("src", ""))
            if nid:
                hint = nid.group(1)
            else:
                dc = re.fullmatch(r"K\s+[^|]*\|(\d+)\|.*", attrs.get("data-code", ""))
                hint = dc.group(1) if dc else None
            return StockMention("kline", code, hint)
    m = _DATACODE_RE.match(attrs.get("data-code", ""))
    if m:
        return StockMention("datacode", m.group(1), m.group(2))
    return None


def find_stock_mentions(html: str) -> list[StockMention]:
    """Stock mentions in an HTML (or plain-text) fragment, in order of appearance, not de-duplicated.

    - ``kline``: ``<img alt="K图 600519_0">``; market_hint from ``nid=1.600519`` in its src, else the
      middle field of its ``data-code="K 600519|1|1"``.
    - ``datacode``: any tag with ``data-code="600519|1|1"`` (or the legacy ``"601818,1,1"``);
      market_hint = the middle field. The link wrapping a K图 image is one of these, so a K-line block
      yields a ``datacode`` and a ``kline`` mention of the same code (the normaliser de-duplicates).
    - ``cashtag``: ``$贵州茅台(SH600519)$`` -> code ``600519``, hint ``SH``, name ``贵州茅台``; also
      ``(HK|00700)``, ``(00700.HK)``, and bare ``(BABA)`` (no hint). A board keeps its prefix:
      ``$白酒(BK0896)$`` -> code ``BK0896``, hint ``BK``.
    """
    mentions: list[StockMention] = []
    for m in _SCAN_RE.finditer(html):
        if m.group("tag") is not None:
            mention = _tag_mention(m.group("tag"))
        else:
            mention = _cashtag(m.group("name"), m.group("code"))
        if mention is not None:
            mentions.append(mention)
    return mentions


# --- source attribution from the body HTML --------------------------------------------------------
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_FOOTER_SOURCE_RE = re.compile(r"[（(]\s*(?:文章)?来源\s*[:：][^（）()]{1,200}[）)]")


def _fragment(html: str) -> lxml.html.HtmlElement | None:
    """Parse a body fragment under a wrapper element; None for empty or unparsable input."""
    # Depending on its version lxml raises on, or silently drops text around, NUL/control characters
    # and lone surrogates (which JSON "\ud800" escapes produce): remove/replace them first.
    clean = _CONTROL_RE.sub("", html).encode("utf-8", "replace").decode("utf-8")
    if not clean.strip():
        return None
    try:
        return lxml.html.fragment_fromstring(clean, create_parent="div")
    except (lxml.etree.LxmlError, ValueError):
        return None


_WS_RE = re.compile(r"\s+")
# Compiled once: ``element.xpath(string)`` compiles the expression on every call.
_SOURCE_SPAN_XP = lxml.etree.XPath(".//span[contains(concat(' ', normalize-space(@class), ' '), ' source ')]")
_LINK_XP = lxml.etree.XPath(".//a[@href]")


def _text(el: lxml.html.HtmlElement) -> str:
    return _WS_RE.sub(" ", el.text_content()).strip()


def find_attribution(body_html: str) -> tuple[str | None, str | None, str | None]:
    """(header source text, footer source text, [点击查看原文] href) of a post body."""
    root = _fragment(body_html)
    if root is None:
        return None, None, None
    header = None
    for span in _SOURCE_SPAN_XP(root):
        header = _text(span) or None
        if header:
            break
    footer = None
    footers = _FOOTER_SOURCE_RE.findall(_text(root))
    if footers:
        footer = footers[-1]  # the attribution line closes the body; earlier ones are quoted text
    footer_url = None
    for a in _LINK_XP(root):
        if "点击查看原文" in a.text_content():
            footer_url = (a.get("href") or "").strip() or None
    return header, footer, footer_url


# --- the page ---------------------------------------------------------------------------------------


def _bar_from_url(url: str) -> str | None:
    try:
        return parse_post_url(url).bar_code
    except (NotAGubaUrl, ValueError):
        return None


def _unwrap(data: dict[str, Any], url: str) -> dict[str, Any]:
    """The post object of either page generation."""
    if "post_id" not in data and isinstance(data.get("post"), dict):
        if "rc" in data and json_int(data.get("rc")) != 1:
            raise ApiError(f"post_article rc={data.get('rc')!r}: {json_str(data.get('me')) or ''}"[:300], url=url)
        return data["post"]
    return data


def parse_post_page(text: str, *, url: str, expected_post_id: str | None = None) -> PostItem:
    """Parse a post page into a :class:`PostItem` with every raw field filled (normalised fields stay
    empty for the pipelines).

    Raises Blocked (verification shell / login redirect), PostGone (``/error`` URL or error404 shell),
    LayoutChanged (no ``var post_article``, truncated/invalid JSON, no ``post_id``, or a ``post_id``
    other than ``expected_post_id``), ApiError (legacy wrapper with ``rc != 1``). Optional fields that
    are missing or of the wrong type become None/""/False. ``raw`` is the whole ``post_article`` object.
    ``bar_code`` is the post's own bar (:func:`crawler.pages.listpage.own_bar_code`), else the bar of
    ``url``. ``stock_mentions`` come from the title, then the body, then a forwarded post's body.
    """
    raise_for_kind(classify_page(status=200, url=url, text=text), url=url)
    data = extract_js_object(text, "post_article", url=url)
    if data is None:
        raise LayoutChanged("no post_article", url=url)
    post = _unwrap(data, url)
    post_id = json_id(post.get("post_id"))
    if post_id is None:
        raise LayoutChanged("post_article has no post_id", url=url)
    if expected_post_id is not None and post_id != str(expected_post_id).strip():
        raise LayoutChanged(f"post_article.post_id {post_id} != requested {expected_post_id}", url=url)

    user = json_dict(post.get("post_user"))
    guba = json_dict(post.get("post_guba"))
    extend = json_dict(post.get("extend"))
    title = json_str(post.get("post_title")) or ""
    body_html = json_str(post.get("post_content")) or ""
    header_source, footer_source, footer_url = find_attribution(body_html)

    forward_of = json_id(post.get("source_post_id"))
    forward_title = forward_content = forward_author = None
    if forward_of is not None:
        forward_title = json_str(post.get("source_post_title"))
        forward_content = json_str(post.get("source_post_content"))
        forward_author = json_str(post.get("source_post_user_nickname"))

    mentions = find_stock_mentions(title) + find_stock_mentions(body_html)
    if forward_content:
        mentions += find_stock_mentions(forward_content)

    return PostItem(
        post_id=post_id,
        url=url,
        bar_code=own_bar_code(post) or _bar_from_url(url) or "",
        bar_name=json_str(guba.get("stockbar_name")) or json_str(post.get("stockbar_name")),
        title=title,
        body_html=body_html,
        abstract=json_str(post.get("post_abstract")) or "",
        author_id=json_id(user.get("user_id")) or json_id(post.get("user_id")),
        author_name_raw=json_str(user.get("user_nickname")) or json_str(post.get("user_nickname")),
        author_is_majia=json_bool(user.get("user_is_majia", post.get("user_is_majia"))),
        author_deactivated=json_str(json_dict(user.get("user_extendinfos")).get("deactive")) == "1",
        author_user_type=json_int(user.get("user_type")),
        published_raw=json_str(post.get("post_publish_time")),
        last_activity_raw=json_str(post.get("post_last_time")),
        modified_raw=json_str(post.get("post_mod_time")),
        display_raw=json_str(post.get("post_display_time")),
        reads=json_int(post.get("post_click_count")),
        comments=json_int(post.get("post_comment_count")),
        forwards=json_int(post.get("post_forward_count")),
        likes=json_int(post.get("post_like_count")),
        post_type=json_int(post.get("post_type")),
        client=json_str(post.get("post_from")),
        source_id=json_id(post.get("post_source_id")),
        media_name=json_str(extend.get("MediaName")),
        header_source_raw=header_source,
        footer_source_raw=footer_source,
        footer_url=footer_url,
        forward_of=forward_of,
        forward_title=forward_title,
        forward_content_html=forward_content,
        forward_author_name=forward_author,
        ip_region=json_str(post.get("post_ip_address")) or json_str(post.get("post_loc")),
        stock_mentions=mentions,
        raw=data,
    )
