from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.normalize import clean_body, clean_reply_text

FIXTURES = Path(__file__).parent / "fixtures" / "normalize"
REAL_NEWS = (FIXTURES / "news_post_content_600519.html").read_text(encoding="utf-8")


def test_real_news_body() -> None:
    text = clean_body(REAL_NEWS)
    lines = text.split("\n")
    assert lines[0].startswith("7月13日，贵州茅台酒销售有限公司2026年半年市场工作会在茅台会议中心召开")
    assert lines[1].startswith("茅台集团党委书记、董事长陈华出席会议并讲话")
    assert lines[-2] == "茅台酒股份公司相关职能部门负责人，销售公司班子成员及各部门、省区负责人、后勤员工参加会议。"
    assert lines[-1] == "if(x){y();}; edge-case brace text"  # the fixture author's addition is body text
    assert len(lines) == 14  # 13 paragraphs + the appended span
    for gone in ("来源", "中国新闻网", "点击查看原文", "K图", "600519", "webquoteklinepic", "\u3000", "<", "zw_"):
        assert gone not in text, gone
    assert all(line == line.strip() and line for line in lines)


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        (None, ""),
        ("", ""),
        ("  \n ", ""),
        ("股民还是很有钱的", "股民还是很有钱的"),  # real 8-char body
        ("<div>股民还是很有钱的</div>", "股民还是很有钱的"),
        ("<p>　　第一段</p><p>&nbsp;</p><br><br><p>第二段</p>", "第一段\n第二段"),
        ("第一行<br>第二行<br/><br />第三行", "第一行\n第二行\n第三行"),
        ("app line 1\napp line 2\n\n\napp line 3", "app line 1\napp line 2\napp line 3"),  # plain-text app post
        ("<div>a<div>b</div>c</div>", "a\nb\nc"),
        ("<p>a <b>bold</b> and <a href='/x'>link</a> text</p>", "a bold and link text"),
        ("<p>&lt;3 &amp; &quot;quotes&quot; &#20013;&#x6587;</p>", "<3 & \"quotes\" 中文"),
        ("<p>零\u200b宽\ufeff字\u200d符</p>", "零宽字符"),
        ("<p>多　　个\xa0\xa0 空格</p>", "多 个 空格"),
        ("<p>[赞][大笑]好</p>", "[赞][大笑]好"),
        ("<!-- a comment --><p>kept</p>", "kept"),
        # K-line block and stray K-line images / EmImageRemark links
        ("<!-- EM_StockImg_Start --><p><a class='EmImageRemark' href='x'><img alt='K图 600519_0'/>K线</a></p>"
         "<!-- EM_StockImg_End --><p>正文</p>", "正文"),
        ("<p><img src='https://webquoteklinepic.eastmoney.com/GetPic.aspx?nid=0.002941' alt='K图 002941_0'/></p><p>正文</p>",
         "正文"),
        ("<p>前<a class='EmImageRemark' href='x'>图</a>后</p>", "前后"),
        # header / footer
        ("<div id='zw_header'><span class='source'>来源：读创</span></div><div id='zw_body'><p>正文</p></div>"
         "<div id='zw_footer'>（文章来源：读创） <a href='http://finance.eastmoney.com/a/1.html'><b>[点击查看原文]</b></a></div>",
         "正文"),
        # legacy 财富号 footer paragraph (2019 page, S16)
        ("<p>正文</p><p>（来源：券商中国的财富号 2019-01-23 05:31） <a href='http://caifuhao.eastmoney.com/news/20190124053117311720040'>"
         "<b>[点击查看原文]</b></a></p>", "正文"),
        ("<p>正文 <a href='x'>[点击查看原文]</a> 尾巴</p>", "正文 尾巴"),
    ],
)
def test_clean_body(html: str | None, expected: str) -> None:
    assert clean_body(html) == expected


HOSTILE = [
    "<script>alert(1)</script><p>ok</p>",
    "<p>ok</p><script src='//evil/x.js'></script>",
    "<SCRIPT>document.cookie</SCRIPT>ok",
    "<style>p{color:red}</style><p>ok</p>",
    "<iframe src='javascript:alert(1)'>inner</iframe><p>ok</p>",
    "<p onclick='alert(1)'>ok</p>",
    "<img src=x onerror=alert(1)><p>ok</p>",
    "<a href='javascript:alert(1)'>ok</a>",
    "<p>ok<img src=x onerror=\"alert(1)\"",  # unclosed tag at the end
    "<div><p>ok<b>never closed",
    "<p>ok</p><script>never closed alert(1)",
    "&lt;script&gt;alert(1)&lt;/script&gt;<p>ok</p>",  # escaped payload decodes to markup-looking text
    "<svg onload=alert(1)><p>ok</p></svg>",
    "<object data='x.swf'></object><embed src='x'><p>ok</p>",
    "<form action='//evil'><input value='x'><button>press</button></form><p>ok</p>",
    "<noscript><img src=x></noscript>ok",
    "ok\x00\x01\x0b\x1f",
    "<?xml version='1.0' encoding='gbk'?><p>ok</p>",
    "<![CDATA[alert(1)]]><p>ok</p>",
    "<p>ok</p>\ud800",
]


@pytest.mark.parametrize("html", HOSTILE)
def test_hostile_input_gives_text_without_the_payload(html: str) -> None:
    text = clean_body(html)
    assert "ok" in text
    for bad in ("<script", "script>", "onerror", "onclick", "onload", "javascript:", "<iframe", "<svg", "cookie",
                "color:red", "evil", "x.swf", "\x00", "\ud800"):
        assert bad not in text.lower(), bad
    if "&lt;" not in html:  # an escaped payload is the author's visible text: only its tags go
        assert "alert(1)" not in text


def test_megabyte_body() -> None:
    html = "<p>" + "贵州茅台发布公告。" * 120_000 + "</p><script>alert(1)</script>" * 1000
    text = clean_body(html)
    assert len(html) > 1_000_000
    assert text.startswith("贵州茅台发布公告。") and "alert" not in text


def test_deep_nesting_does_not_raise() -> None:
    assert isinstance(clean_body("<div>" * 50_000 + "x" + "</div>" * 50_000), str)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, ""),
        ("", ""),
        ("快了吧 ", "快了吧"),  # real reply_text with trailing space
        ("哈哈拭目以待 ", "哈哈拭目以待"),
        ("[赞][赞] 好\u3000文", "[赞][赞] 好 文"),
        ("\xa0 第一行 \n\n 第二行\u200b ", "第一行\n第二行"),
        ("a\r\nb", "a\nb"),
    ],
)
def test_clean_reply_text(raw: str | None, expected: str) -> None:
    assert clean_reply_text(raw) == expected


def test_stray_angle_bracket_in_prose_keeps_the_text() -> None:
    assert clean_body("<p>市盈率 &lt; 10 的 a 股，&lt;img 之后的文字还在</p>") == "市盈率 < 10 的 a 股， 之后的文字还在"


_HTMLISH = st.text(
    alphabet=st.sampled_from(list("<>/=\"' &;#!-ab pdivscriptimgonerror:javascript\n\u3000\xa0\u200b茅台[]")), max_size=300
)


@given(_HTMLISH)
@settings(max_examples=300, deadline=None)
def test_clean_body_never_raises_and_never_returns_markup(html: str) -> None:
    text = clean_body(html)
    assert isinstance(text, str)
    assert "<script" not in text.lower() and "javascript:" not in text.lower()
    assert "\u3000" not in text and "\u200b" not in text and "\n\n" not in text
    assert text == text.strip()
