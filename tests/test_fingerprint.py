from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipelines.fingerprint import (
    BOILERPLATE_PATTERNS,
    band_keys,
    estimated_jaccard,
    exact_key,
    fingerprint_text,
    is_long_enough,
    minhash_signature,
)
from pipelines.normalize import clean_body

FIXTURES = Path(__file__).parent / "fixtures" / "normalize"
RAW_HTML = (FIXTURES / "news_post_content_600519.html").read_text(encoding="utf-8")
# The real 资讯 post body as clean text, without the fixture author's appended span.
ARTICLE = "\n".join(clean_body(RAW_HTML).split("\n")[:-1])
PARAGRAPHS = ARTICLE.split("\n")
SHORT_ARTICLE = ARTICLE[:600]  # a 600-character article
# Real user posts from the 600519 list page (2026-07-15), unrelated to the article and to each other.
USER_POST_A = (
    "$白酒(BK0896)$注意，明天白酒会迎来大考验！\n五粮液，公布业绩预告：同比增长90+％\n由于去年的特殊情况，这个同比没啥大的参考意义。"
    "公告里也提示了，由于去年的低基数。\n那我们可以参考2024年的数据，2026年的中期利润，大概相当于2024年的47％。\n这下，一下子看出变动来了吧。"
    "\n前几天，舍得酒业公布业绩预告，因为是3线酒企吧，不够权威，没代表性。\n五粮液，这个预告，基本可以代表高端的动..."
)
USER_POST_B = (
    "大家好，我是大白。\n本文看似鸡汤，胜似废话，却是一个月来，本白悟到的真理。\n期待有缘的你，能懂。\n——题记。\n"
    "一、“时候未到”——人间清醒papi酱\n最近你们有没有刷到papi酱的访谈？太精彩了！\n在窦文涛的访谈节目《自然光》中，\n"
    "谈及本科毕业四年没有任何收入时她是怎么过来的，\n她说：“我老公养我，我觉得是理所应当的，养我是他的福气，我不是挣不到钱，只是还没到挣钱的时候。”"
)
BOILERPLATE_TAIL = "\n（文章来源：中国新闻网）\n[点击查看原文]\n免责声明：本文仅供参考，不构成投资建议，据此操作风险自担。\n股市有风险，投资需谨慎。"


def to_fullwidth(text: str) -> str:
    """ASCII punctuation/digits/letters -> full-width forms, as some reposts have them."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def to_halfwidth_punct(text: str) -> str:
    table = str.maketrans({"，": ",", "。": ".", "：": ":", "；": ";", "（": "(", "）": ")", "“": '"', "”": '"', "、": ","})
    return text.translate(table)


def test_article_fixture_is_what_the_tests_think() -> None:
    assert len(PARAGRAPHS) == 13
    assert len(SHORT_ARTICLE) == 600
    assert len(ARTICLE) > 1800


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("", ""),
        ("Ｈｅｌｌｏ，Ｗｏｒｌｄ！１２３", "helloworld123"),
        ("Hello, World! 123", "helloworld123"),
        ("  茅台 \n\u3000涨停了！！！", "茅台涨停了"),
        ("正文\n（文章来源：中国新闻网）", "正文"),
        ("正文 (文章来源:中新网) [点击查看原文]", "正文"),
        ("正文（来源：券商中国的财富号 2019-01-23 05:31） [点击查看原文]", "正文"),
        ("来源：读创\n正文", "正文"),
        ("本文来自: 每经网 2024-05-22\n正文", "正文"),
        ("转自网易财经：正文", "正文"),
        ("K图 600519_0\n正文", "正文"),
        ("正文\nK 600519|1|1", "正文"),
        ("正文\n免责声明：本文仅供参考。\n股市有风险，投资需谨慎", "正文"),
        ("正文\n责任编辑：张三", "正文"),
        ("$贵州茅台(SH600519)$ 冲", "贵州茅台sh600519冲"),  # cashtags are content
        ("来源：读创 " + "很长的一行正文" * 10, "来源读创" + "很长的一行正文" * 10),  # not a header line
    ],
)
def test_fingerprint_text(body: str, expected: str) -> None:
    assert fingerprint_text(body) == expected


def test_boilerplate_patterns_are_compiled_and_few() -> None:
    assert 3 <= len(BOILERPLATE_PATTERNS) <= 15
    assert all(isinstance(p, re.Pattern) for p in BOILERPLATE_PATTERNS)


def test_exact_key() -> None:
    key = exact_key(ARTICLE)
    assert re.fullmatch(r"[0-9a-f]{40}", key)
    assert exact_key(ARTICLE + BOILERPLATE_TAIL) == key
    assert exact_key(to_fullwidth(ARTICLE)) == key
    assert exact_key("来源：中国新闻网\n" + ARTICLE.replace("\n", "\n\n")) == key
    assert exact_key(ARTICLE + "。") == key
    assert exact_key(ARTICLE + "补充") != key


def test_signature_shape_and_determinism() -> None:
    sig = minhash_signature(ARTICLE)
    assert len(sig) == 128 and all(isinstance(v, int) and 0 <= v < 2**32 for v in sig)
    assert minhash_signature(ARTICLE) == sig
    assert minhash_signature(ARTICLE, seed=2) != sig
    assert len(minhash_signature(ARTICLE, num_perm=64)) == 64
    assert minhash_signature("") == [2**32 - 1] * 128
    assert minhash_signature("涨") != minhash_signature("跌")


# Pinned values: signatures and keys are stored in MongoDB, so a change here (library upgrade, new hash)
# means FINGERPRINT_VERSION must be bumped and the repost index rebuilt.
def test_signature_and_key_are_stable_across_versions() -> None:
    text = "贵州茅台酒销售有限公司2026年半年市场工作会召开"
    assert minhash_signature(text)[:4] == [153528816, 36181537, 349278590, 1307616553]
    assert exact_key(text) == EXPECTED_KEY


EXPECTED_KEY = __import__("hashlib").sha1("贵州茅台酒销售有限公司2026年半年市场工作会召开".encode()).hexdigest()


KLINE_HTML = (
    '<!-- EM_StockImg_Start --><p style="text-align:center;"><a href="http://quote.eastmoney.com/unify/r/1.600519" '
    'data-code="600519|1|1" class="EmImageRemark"><img src="https://webquoteklinepic.eastmoney.com/GetPic.aspx?nid=1.600519'
    '&imageType=k" alt="K图 600519_0" data-code="K 600519|1|1" /></a></p><!-- EM_StockImg_End -->'
)

SAME_ARTICLE = [
    ("exact-repost", ARTICLE),
    ("header-and-footer", "来源：中国新闻网\n" + ARTICLE + BOILERPLATE_TAIL),
    ("kline-block-text-left-in", "K图 600519_0\n" + ARTICLE + "\nK 600519|1|1"),
    ("kline-block-changed-in-html", clean_body(RAW_HTML.replace("600519", "000858").replace("1.000858", "0.000858"))),
    ("kline-block-markers-missing-in-html", clean_body(RAW_HTML.replace(KLINE_HTML[:40], ""))),
    ("comment-line-before-600-chars", None),
    ("fullwidth", to_fullwidth(ARTICLE)),
    ("halfwidth-punctuation", to_halfwidth_punct(ARTICLE)),
    ("caifuhao-footer", ARTICLE + "（来源：券商中国的财富号 2024-05-22 15:34） [点击查看原文]"),
    ("one-paragraph-dropped", "\n".join(PARAGRAPHS[:-1])),
]


@pytest.mark.parametrize(("name", "variant"), SAME_ARTICLE, ids=[c[0] for c in SAME_ARTICLE])
def test_reposts_are_near_duplicates(name: str, variant: str | None) -> None:
    original = SHORT_ARTICLE if name == "comment-line-before-600-chars" else ARTICLE
    if variant is None:
        variant = "转发一下，这个消息对茅台是利好，大家怎么看？\n" + SHORT_ARTICLE
    a, b = minhash_signature(original), minhash_signature(variant)
    assert estimated_jaccard(a, b) >= 0.8
    assert set(band_keys(a)) & set(band_keys(b))


UNRELATED = [
    ("user-posts", USER_POST_A + BOILERPLATE_TAIL, USER_POST_B + BOILERPLATE_TAIL),
    ("article-vs-user-post", ARTICLE + BOILERPLATE_TAIL, USER_POST_A + BOILERPLATE_TAIL),
    ("paragraphs-of-one-article", "\n".join(PARAGRAPHS[:3]) + BOILERPLATE_TAIL,
     "\n".join(PARAGRAPHS[5:8]) + BOILERPLATE_TAIL),
    ("news-with-same-header-footer", "来源：中国新闻网\n" + PARAGRAPHS[2] + BOILERPLATE_TAIL,
     "来源：中国新闻网\n" + PARAGRAPHS[9] + BOILERPLATE_TAIL),
]


@pytest.mark.parametrize(("name", "x", "y"), UNRELATED, ids=[c[0] for c in UNRELATED])
def test_unrelated_posts_sharing_boilerplate_are_apart(name: str, x: str, y: str) -> None:
    a, b = minhash_signature(x), minhash_signature(y)
    assert estimated_jaccard(a, b) < 0.5
    assert not set(band_keys(a)) & set(band_keys(b))  # fixed seed: deterministic


def test_band_keys() -> None:
    sig = minhash_signature(ARTICLE)
    keys = band_keys(sig)
    assert len(keys) == 32 and len(set(keys)) == 32
    assert all(re.fullmatch(r"\d{1,2}:[0-9a-f]{16}", k) for k in keys)
    assert [k.split(":")[0] for k in keys] == [str(i) for i in range(32)]
    assert band_keys(sig) == keys
    assert len(band_keys(sig, bands=16)) == 16
    # one changed row changes exactly one band key
    changed = list(sig)
    changed[5] += 1
    assert sum(x != y for x, y in zip(band_keys(changed), keys, strict=True)) == 1
    # the same rows in another band give another key
    assert band_keys([1, 2, 1, 2], bands=2)[0].split(":")[1] == band_keys([1, 2, 1, 2], bands=2)[1].split(":")[1]
    assert band_keys([1, 2, 1, 2], bands=2)[0] != band_keys([1, 2, 1, 2], bands=2)[1]


@pytest.mark.parametrize("bands", [0, -1, 129])
def test_band_keys_rejects_impossible_band_counts(bands: int) -> None:
    with pytest.raises(ValueError):
        band_keys([1] * 128, bands=bands)


def test_estimated_jaccard() -> None:
    assert estimated_jaccard([1, 2, 3, 4], [1, 2, 3, 4]) == 1.0
    assert estimated_jaccard([1, 2, 3, 4], [1, 2, 0, 0]) == 0.5
    assert estimated_jaccard([], []) == 0.0
    with pytest.raises(ValueError):
        estimated_jaccard([1, 2], [1])


def test_estimate_tracks_true_jaccard() -> None:
    """The MinHash estimate is within a few standard errors (~0.04 at 128 perms) of the real value."""

    def shingles(text: str) -> set[str]:
        fp = fingerprint_text(text)
        return {fp[i : i + 5] for i in range(len(fp) - 4)}

    x, y = ARTICLE, "\n".join(PARAGRAPHS[:8])
    true = len(shingles(x) & shingles(y)) / len(shingles(x) | shingles(y))
    assert abs(estimated_jaccard(minhash_signature(x), minhash_signature(y)) - true) < 0.15


@pytest.mark.parametrize(
    ("text", "min_chars", "expected"),
    [
        ("涨停！", 80, False),
        ("涨停！", 2, True),
        ("涨停！", 3, False),
        ("　　" + "，" * 200, 1, False),
        (SHORT_ARTICLE, 80, True),
        ("来源：中国新闻网\n（文章来源：中国新闻网）[点击查看原文]", 1, False),
    ],
)
def test_is_long_enough(text: str, min_chars: int, expected: bool) -> None:
    assert is_long_enough(text, min_chars) is expected
