"""Post bodies (HTML) and reply texts -> clean plain text.

Bodies are stored as text with one paragraph per line. The raw HTML stays in ``body_html``; these rules
only decide what a reader (and the dedup fingerprint) sees.
"""

from __future__ import annotations

import re
import threading
from typing import Final

from lxml import etree
from lxml import html as lxml_html

# The K-line picture Guba inserts into news bodies; remove it as a block, markers included.
_KLINE_BLOCK_RE: Final = re.compile(r"<!--\s*EM_StockImg_Start\s*-->.*?<!--\s*EM_StockImg_End\s*-->", re.S | re.I)
# C0 controls (except tab/newline/CR) and lone surrogates make libxml2 refuse the input.
_CONTROL_RE: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_ZERO_WIDTH_RE: Final = re.compile(r"[\u200b-\u200d\u2060\ufeff\u00ad]")
# U+3000 (the usual paragraph indent), nbsp and the other typographic spaces all become plain spaces.
_SPACE_RE: Final = re.compile(r"[ \t\r\f\v\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")
# Last line of defence: an escaped payload in the source ("&lt;script&gt;") decodes to markup-looking
# text; nobody reading a post needs it, and a consumer that renders text unescaped must not get it.
# Attributes are only taken up to a ">" on the same line, so a stray "<" in prose cannot eat the text.
_HOSTILE_TEXT_RE: Final = re.compile(
    r"<\s*/?\s*(?:script|iframe|style|object|embed|svg|img|link|meta|base|form|frame|frameset)\b(?:[^<>\n]{0,300}>)?"
    r"|\bon[a-z]{3,20}\s*=|\b(?:javascript|vbscript)\s*:",
    re.I,
)

# Removed with everything inside: code, and fallback content a browser would not show as page text.
_DROP_TREE_TAGS: Final = (
    "script", "style", "iframe", "frame", "frameset", "object", "applet", "noscript", "template", "head",
    "title", "meta", "link", "base", "select", "textarea",
)
# Removed but their children kept: libxml2 does not know several of these are empty (``<embed>``), so
# following paragraphs can end up inside them.
_UNWRAP_TAGS: Final = (
    "embed", "svg", "math", "form", "input", "button", "audio", "video", "canvas", "source", "param", "track",
    "picture",
)
_BLOCK_TAGS: Final = frozenset(
    {
        "p", "div", "br", "li", "ul", "ol", "tr", "table", "tbody", "thead", "tfoot", "h1", "h2", "h3", "h4",
        "h5", "h6", "blockquote", "section", "article", "header", "footer", "pre", "hr", "dd", "dt", "dl",
        "figure", "figcaption", "center", "aside", "nav", "main", "address",
    }
)
_READ_MORE: Final = "点击查看原文"
# What is left of a footer paragraph once its [点击查看原文] link is gone: the 来源 note or nothing.
_FOOTER_LEFTOVER_RE: Final = re.compile(r"^\s*[(（]?\s*(?:文章)?来源\s*[:：][^)）]*[)）]?\s*$|^\s*$")


def _normalise_lines(text: str) -> str:
    text = _ZERO_WIDTH_RE.sub("", text)
    lines = (_SPACE_RE.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


def _remove(el: etree._Element) -> None:
    """Remove an element but keep its tail text (the text after it belongs to the parent)."""
    parent = el.getparent()
    if parent is None:
        return
    tail = el.tail
    if tail:
        prev = el.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(el)


# Compiled once: ``element.xpath(string)`` compiles the expression on every call.
_HEADER_FOOTER_XP: Final = etree.XPath(".//*[@id='zw_header' or @id='zw_footer']")
_IMAGE_REMARK_XP: Final = etree.XPath(".//*[contains(concat(' ', normalize-space(@class), ' '), ' EmImageRemark ')]")
_KLINE_IMG_XP: Final = etree.XPath(".//img[starts-with(normalize-space(@alt), 'K图')]")
_READ_MORE_XP: Final = etree.XPath(f".//a[contains(., '{_READ_MORE}')]")


def _strip_boilerplate(root: etree._Element) -> None:
    for el in list(root.iter(*_DROP_TREE_TAGS)):
        if el.getparent() is not None:  # not already gone with an ancestor
            _remove(el)
    for el in list(root.iter(*_UNWRAP_TAGS)):
        if el is not root:
            el.drop_tag()
    # zw_header is the 来源 line (kept structured in header_source_raw); zw_footer is 文章来源 + the link.
    for xpath in (_HEADER_FOOTER_XP, _IMAGE_REMARK_XP, _KLINE_IMG_XP):
        for el in xpath(root):
            _remove(el)
    for link in _READ_MORE_XP(root):
        block = link.getparent()
        _remove(link)
        # A legacy 财富号 footer is a <p> holding "（来源：X的财富号 …）" and the link: drop the whole <p>.
        if (
            block is not None
            and block is not root
            and block.tag in _BLOCK_TAGS
            and _FOOTER_LEFTOVER_RE.match(block.text_content() or "")
        ):
            _remove(block)


def _text_with_breaks(root: etree._Element) -> str:
    """Text of the tree with a line break around every block element (iterative: no recursion limit)."""
    parts: list[str] = []
    for event, el in etree.iterwalk(root, events=("start", "end")):
        if not isinstance(el.tag, str):  # comments / processing instructions that survived parsing
            if event == "end" and el.tail:
                parts.append(el.tail)
            continue
        block = el.tag in _BLOCK_TAGS
        if event == "start":
            if block:
                parts.append("\n")
            if el.text:
                parts.append(el.text)
        else:
            if block:
                parts.append("\n")
            if el.tail and el is not root:
                parts.append(el.tail)
    return "".join(parts)


def _fallback_text(html: str) -> str:
    # Used only if libxml2 rejects the input outright: crude, but never raises and never keeps tags.
    text = re.sub(r"<(script|style|iframe)\b.*?(</\1\s*>|$)", " ", html, flags=re.S | re.I)
    text = re.sub(r"<!--.*?(-->|$)", " ", text, flags=re.S)
    text = re.sub(r"<\s*(br|/p|/div|p|div)\b[^>]*>", "\n", text, flags=re.I)
    text = re.sub(r"<[^>]*>?", " ", text)
    import html as html_lib

    return html_lib.unescape(text)


_PARSERS = threading.local()


def _parser() -> lxml_html.HTMLParser:
    # One parser per thread (building one costs more than parsing a short body; lxml parsers must not be
    # shared between threads).
    parser: lxml_html.HTMLParser | None = getattr(_PARSERS, "parser", None)
    if parser is None:
        parser = _PARSERS.parser = lxml_html.HTMLParser(remove_comments=True, remove_pis=True, encoding="utf-8")
    return parser


def clean_body(html: str | None) -> str:
    """Plain text of a post body (``post_content`` HTML), one paragraph per line.

    Removed: the K-line block (``<!-- EM_StockImg_Start --> … <!-- EM_StockImg_End -->``, any
    ``EmImageRemark`` link or ``K图`` image), the ``zw_header`` 来源 line, the ``zw_footer`` /
    ``[点击查看原文]`` footer, scripts, styles, iframes, forms and other active content, comments, and
    attributes (so ``onerror=`` / ``javascript:`` URLs never reach the text). ``<p>``, ``<br>``, ``<div>`` and
    other blocks become line breaks; blank lines are dropped; entities are decoded; U+3000, nbsp and other
    typographic spaces become one plain space; zero-width characters are removed; every line is stripped
    (this removes the "　　" paragraph indent). Plain text (app posts with ``\\n``) keeps its line breaks.

    None/empty → ``""``. Hostile or broken input (unclosed tags, control characters, megabyte bodies) gives
    best-effort text and never an exception.
    """
    if not html or not html.strip():
        return ""
    source = _CONTROL_RE.sub("", _KLINE_BLOCK_RE.sub("", html))
    # Plain-text bodies use "\n" for paragraphs; HTML parsing would fold them into spaces.
    source = source.replace("\r\n", "\n").replace("\n", "<br>")
    try:
        root = lxml_html.fragment_fromstring(source.encode("utf-8"), create_parent="div", parser=_parser())
        _strip_boilerplate(root)
        text = _text_with_breaks(root)
    except (etree.LxmlError, ValueError, TypeError):
        text = _fallback_text(source)
    text = _HOSTILE_TEXT_RE.sub(" ", text)
    return _normalise_lines(text)


def clean_reply_text(text: str | None) -> str:
    """Clean a reply's plain text: strip, turn U+3000/nbsp/other spaces into one space, drop zero-width
    characters and blank lines. Emoticon codes such as ``[赞]`` and ``[大笑]`` are kept as written.
    None → ``""``."""
    if not text:
        return ""
    return _normalise_lines(_CONTROL_RE.sub("", text).replace("\r\n", "\n").replace("\r", "\n"))
