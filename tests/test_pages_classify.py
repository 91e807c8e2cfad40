"""classify_page / is_verification_page / raise_for_kind (guba-site.md §5.1, §3.1)."""

from __future__ import annotations

import pytest

from crawler.pages.classify import PageKind, classify_page, is_verification_page, raise_for_kind
from crawler.pages.errors import Blocked, PostGone

POST = "https://guba.eastmoney.com/news,600519,1743987733.html"
EM_CAPT = '<script src="//cfgpassport2.eastmoney.com/captcha/scripts/em_capt.js"></script>'
VALIDATE = '<script type="module" src="//gbfek.dfcfw.com/deploy/fd_guba_validate/work/assets/validate.js"></script>'


def page(title: str, head: str = "", body: str = "") -> str:
    return f"<!DOCTYPE html><html><head><title>{title}</title>{head}</head><body>{body}</body></html>"


@pytest.mark.parametrize(
    ("url", "status", "text", "want"),
    [
        # the verification shell, under each known title
        (POST, 200, page("身份核实", EM_CAPT + VALIDATE, '<div id="root"></div>'), PageKind.VERIFICATION),
        (POST, 200, page("访问验证", "", '<div id="emcaptcha"></div>'), PageKind.VERIFICATION),
        (POST, 200, page(" 安全验证\n", '<link href="/fd_guba_validate/x.css">'), PageKind.VERIFICATION),
        (POST, 200, page("人机验证", VALIDATE), PageKind.VERIFICATION),
        # false positives the spec warns about
        (POST, 200, page("贵州茅台(600519)股吧", EM_CAPT), PageKind.CONTENT),  # em_capt.js is on every page
        (POST, 200, page("身份核实", EM_CAPT), PageKind.CONTENT),  # title without a validate marker
        (POST, 200, page("贵州茅台吧", VALIDATE), PageKind.CONTENT),  # marker without the title
        (POST, 200, page("验证码_股吧", EM_CAPT, "请拖动下方滑块完成拼图验证"), PageKind.CONTENT),
        (POST, 200, page("身份核实", VALIDATE, '<script>var post_article={"post_id":1};</script>'),
         PageKind.CONTENT),  # the data is there: a slider drawn over a parsable page
        (POST, 200, page("x", "", 'var post_article={"post_content":"error404_page 很抱歉，您访问的帖子不存在"};'),
         PageKind.CONTENT),
        # login
        ("https://passport2.eastmoney.com/pub/login?backurl=x", 200, page("登录"), PageKind.LOGIN),
        ("https://guba.eastmoney.com/login?x=1", 200, page("登录"), PageKind.LOGIN),
        # deleted
        ("https://guba.eastmoney.com/error?type=2", 200, page("东方财富网股吧"), PageKind.DELETED),
        (POST, 200, '<div id="pageContent" class="error404_page">页面不存在</div>', PageKind.DELETED),
        (POST, 200, page("x", '<link href="//gbfek.dfcfw.com/deploy/fd_guba_web2022/work/error404.css"/>'),
         PageKind.DELETED),
        (POST, 200, page("x", "", "很抱歉，您访问的帖子不存在"), PageKind.DELETED),
        (POST, 404, "", PageKind.DELETED),
        # odd input
        ("http://[::1", 200, "", PageKind.CONTENT),
        ("", 200, "", PageKind.CONTENT),
    ],
)
def test_classify_page(url: str, status: int, text: str, want: PageKind) -> None:
    assert classify_page(status=status, url=url, text=text) is want
    assert is_verification_page(text) is (want is PageKind.VERIFICATION and "login" not in url)


@pytest.mark.parametrize(
    ("kind", "error", "blocked_kind"),
    [(PageKind.VERIFICATION, Blocked, "verification"), (PageKind.LOGIN, Blocked, "login"),
     (PageKind.DELETED, PostGone, None)],
)
def test_raise_for_kind(kind: PageKind, error: type[Exception], blocked_kind: str | None) -> None:
    with pytest.raises(error) as info:
        raise_for_kind(kind, url=POST)
    assert getattr(info.value, "url", None) == POST
    if blocked_kind:
        assert getattr(info.value, "kind", None) == blocked_kind


def test_content_does_not_raise() -> None:
    raise_for_kind(PageKind.CONTENT, url=POST)
