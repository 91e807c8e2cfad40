"""Turn model objects into the bytes Guba serves: list pages, post pages, reply-API JSON, shells.

Shapes copy the real captures in ``/work/shared/fixtures/guba-real/`` (key sets, types, nesting, string
formats); see ``/work/shared/docs/guba-site.md`` §2–§5. Every function is pure: model state in, bytes out.
Callers hold ``model.lock`` while rendering.
"""

from __future__ import annotations

import html
import json
import re
import zlib
from typing import Any

from tests.site.model import Author, Board, Post, Reply, SiteModel

PAGE_SIZE = 80

# Verbatim real error404 shell (alphapulse fixture post_deleted.html, a trimmed copy of the live page).
ERROR_SHELL = (
    '<!DOCTYPE html><html><head><link rel="stylesheet" href="//gbfek.dfcfw.com/deploy/fd_guba_web2022/work/'
    'error404.css"/></head><body class="hlbody"><div id="pageContent" class="error404_page">页面不存在</div>'
    "</body></html>"
).encode()

VERIFICATION_SIZE = 2834  # bytes of the real shell (identical SHA-256 on several 2026 captures)


def _verification_shell() -> bytes:
    # Built from the real 2026-06 excerpt (guba-site.md §5.1). The excerpt's `<script .../>` is written
    # with a closing tag: the excerpt elides parts and a self-closed <script> would swallow the body.
    head = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="UTF-8"/>'
        '<meta name="viewport" content="width=device-width,initial-scale=1.0,maximum-scale=1.0,user-scalable=no"/>'
        "<title>身份核实</title>\n"
        '<meta name="applicable-device" content="mobile"/>\n'
        '<link rel="stylesheet" href="//gbfek.dfcfw.com/deploy/fd_guba_validate/work/assets/validate.css"/>\n'
        '<script src="//cfgpassport2.eastmoney.com/captcha/scripts/em_capt.js"></script>\n'
        '<script type="module" crossorigin="" src="//gbfek.dfcfw.com/deploy/fd_guba_validate/work/assets/'
        'validate.js"></script>\n'
    )
    tail = '</head>\n<body><div id="root"></div></body></html>'
    filler = (
        "<script>window.__validate_env={appId:'guba',scene:'access',captchaId:'emcaptcha',"
        "lang:'zh-CN',ts:0};</script>\n"
    )
    pad = VERIFICATION_SIZE - len((head + filler + tail).encode()) - len("<!--  -->\n")
    return (head + filler + "<!-- " + " " * max(pad, 0) + " -->\n" + tail).encode()


VERIFICATION_SHELL = _verification_shell()

_SCRIPT_CLOSE = re.compile(r"</(script)", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")


def embed_json(obj: Any) -> str:
    """Strict JSON (``ensure_ascii=False``) safe to sit inside ``<script>``: only ``</script`` is escaped
    (as ``<\\/script``, still valid JSON); other markup stays literal, as on the real site."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    return _SCRIPT_CLOSE.sub(r"<\\/\1", text)


def server_time(model: SiteModel) -> str:
    """The ``time`` field: site clock with Guba's 7 fractional digits; deterministic per model version."""
    frac = zlib.crc32(f"{model.seed}:{model.version}".encode()) % 10**7
    return model.clock.strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:07d}+08:00"


def plain_text(content_html: str) -> str:
    """Body HTML -> text the way WAP rows show it (``<br>``/``</p>`` become newlines, tags dropped)."""
    text = re.sub(r"<br\s*/?>|</p>", "\n", content_html)
    return html.unescape(_TAG.sub("", text)).strip()


# ---------------------------------------------------------------------------------------------- users / bars
def extendinfos(author: Author) -> dict[str, Any]:
    return {
        "user_accreditinfos": None, "deactive": "1" if author.deactive else "0", "user_v_hide": None,
        "user_column": "0", "is_enterprise": "false",
        "new_medal": json.dumps({"medal_list": [], "medal_count": author.influ_level * 3}, separators=(",", ":")),
        "asset_rank": None, "spzhshow": None,
    }


def short_user(author: Author) -> dict[str, Any]:
    """``post_user`` of nested list rows and ``reply_user`` of replies."""
    return {
        "user_id": author.user_id, "user_nickname": author.nickname, "user_name": author.user_name,
        "user_v": 0, "user_type": 0, "user_is_majia": author.is_majia, "user_level": 0,
        "user_first_en_name": author.first_en_name or author.nickname, "user_age": author.age,
        "user_influ_level": author.influ_level, "user_black_type": 0, "user_third_intro": None,
        "user_bizflag": "", "user_bizsubflag": "", "passport_medal_details": {"medal_list": [], "medal_count": 0},
        "user_extendinfos": extendinfos(author),
    }


def _reply_user(author: Author) -> dict[str, Any]:
    user = short_user(author)
    del user["passport_medal_details"]
    user["user_medal_details"] = None
    return user


def detail_user(author: Author) -> dict[str, Any]:
    """``post_user`` of ``post_article`` (key set of the real 2026-07 capture)."""
    return {
        "user_id": author.user_id, "user_nickname": author.nickname, "user_name": author.user_name,
        "user_v": 0, "user_type": 0, "user_is_majia": author.is_majia, "user_level": 0,
        "user_first_en_name": author.first_en_name or author.nickname, "user_age": author.age,
        "user_influ_level": author.influ_level, "user_black_type": 0, "user_bizflag": "",
        "user_bizsubflag": "", "user_extend": None, "user_introduce": author.introduce,
        "user_extendinfos": extendinfos(author), "user_medal_details": [],
        "passport_medal_details": {"medal_list": [], "medal_count": 0}, "column_user_fans_count": 0,
    }


def bar_info(board: Board) -> dict[str, Any]:
    """``bar_info`` of a list page."""
    show = board.kline_code
    return {
        "OuterCode": board.code, "InnerCode": board.inner_code, "ShortName": board.name,
        "Category": board.stockbar_type, "Market": board.exchange, "Type": [board.stockbar_type],
        "Division": 1, "CompanyCode": "", "QuoteInnerCode": 38709193299776 + zlib.crc32(board.code.encode()),
        "QMarket": board.quote_market, "QCode": show, "Status": 10, "CodeWithMarket": board.market,
        "MC": board.market, "ShowCode": show, "AppCode": board.quot_code,
    }


def guba(board: Board, *, detail: bool) -> dict[str, Any]:
    """``post_guba``: nested list rows carry the 吧 suffix; post pages carry the bare stock name and a
    short ``bar_info``."""
    name = board.name if detail and board.kind != "concept" else board.bar_name
    out: dict[str, Any] = {
        "stockbar_type": board.stockbar_type, "stockbar_code": board.code,
        "stockbar_inner_code": board.inner_code, "stockbar_name": name, "stockbar_market": board.market,
        "stockbar_quote": 1, "stockbar_exchange": board.exchange, "stockbar_external_code": board.kline_code,
    }
    if detail:
        out["bar_info"] = {"QMarket": board.quote_market, "QCode": board.kline_code, "OuterCode": board.code,
                           "Category": board.stockbar_type, "Market": board.exchange, "ShortName": board.name,
                           "Type": [board.stockbar_type]}
    return out


def _empty_guba() -> dict[str, Any]:
    return {"stockbar_type": -1, "stockbar_code": "", "stockbar_inner_code": None, "stockbar_name": "",
            "stockbar_market": "", "stockbar_quote": -1, "stockbar_exchange": -1, "stockbar_external_code": ""}


_ZMT = {"ZMTBizType": 0, "ZMTLKVideoID": "", "ZMTLKVideoState": 0, "ZMTLKWebDistType": 0, "ZMTLKVideoUIStyle": 0,
        "ZMTLKVideoPubState": 0, "ZMTLKStartTime": "", "ZMTLKEndTime": "", "ZMTLKCover": "", "ZMTLKHotScore": 0,
        "ZMTLKSubColumnName": None, "ZMTActType": 0}


# ---------------------------------------------------------------------------------------------- list rows
def flat_row(model: SiteModel, post: Post, *, top: bool = False) -> dict[str, Any]:
    """One §2.4 flat ``article_list.re`` row; ``top`` renders it as the pinned copy (post_top_status 1)."""
    board = model.boards[post.bar_code]
    return {
        "post_id": int(post.post_id), "post_title": post.title, "stockbar_code": board.code,
        "stockbar_name": board.bar_name, "stockbar_type": board.stockbar_type,
        "stockbar_exchange": board.exchange, "user_id": post.author.user_id,
        "user_nickname": post.author.nickname, "user_extendinfos": extendinfos(post.author),
        "post_click_count": post.click_count, "post_forward_count": post.forward_count,
        "post_comment_count": post.comment_count, "post_publish_time": post.publish_time,
        "post_last_time": post.last_time, "post_type": post.post_type, "post_state": 0,
        "post_from_num": post.post_from_num, "v_user_code": "0", "post_top_status": 1 if top else 0,
        "post_has_pic": post.has_pic, "post_has_video": False, "user_is_majia": post.author.is_majia,
        "post_ip": "", "qa": None, "grade_type": None, "institution": None, "notice_type": None,
        "notice_type_code": None, "post_display_time": post.display_time,
        "media_type": 1 if post.post_type == 20 else 0,
        "zmt_article": dict(_ZMT) if post.post_type == 20 else None, "post_source_id": post.source_id,
        "bullish_bearish": 0, "modules": [], "spec_column": "", "cms_media_type": 0, "art_unique_url": None,
    }


def _preview_reply(r: Reply) -> dict[str, Any]:
    return {"reply_id": int(r.reply_id), "reply_user": short_user(r.author), "reply_ar": "上海网友",
            "reply_time": r.time, "reply_text": r.text, "source_reply": [], "reply_picture": "",
            "reply_is_author": False}


def nested_row(model: SiteModel, post: Post) -> dict[str, Any]:
    """One §2.5 nested (WebArticleList-shaped, ``post_is_hot``) row, as the real 600519 capture mixes in."""
    board = model.boards[post.bar_code]
    text = plain_text(post.content_html)
    if len(text) > 200:
        text = text[:200] + "..."
    src = model.posts.get(post.source_post_id) if post.source_post_id else None
    extend = None
    if post.post_type == 20:
        extend = {"ZMTBizType": 0, "ZMTLKType": 0, "ZMTLKVideoID": "", "ZMTLKVideoState": 0, "ListImage": "",
                  "ex_topic": []}
    return {
        "post_is_like": False, "post_is_collected": False, "post_status": 0,
        "source_post_id": int(src.post_id) if src else 0, "source_post_state": 0,
        "source_post_user_id": src.author.user_id if src else "",
        "source_post_user_nickname": src.author.nickname if src else "", "source_post_user_type": 0,
        "source_post_user_is_majia": bool(src and src.author.is_majia), "source_post_user_extendinfos": {},
        "source_post_pic_url": [], "source_post_title": src.title if src else "",
        "source_post_content": plain_text(src.content_html)[:200] if src else "", "source_post_ip": "",
        "source_post_type": src.post_type if src else 0,
        "source_post_guba": guba(model.boards[src.bar_code], detail=False) if src else _empty_guba(),
        "source_post_from": "股吧网页版", "source_post_like_count": 0, "source_comment_count": "",
        "selected_post_code": "", "selected_post_name": "", "selected_relate_guba": None, "source_extend": None,
        "source_post_source_id": "", "zwpage_flag": 0, "source_post_comment_count": 0,
        "post_from_num": post.post_from_num, "content_type": 1, "media_type": 1 if post.post_type == 20 else 0,
        "source_modules": [], "post_content": text, "post_abstract": post.abstract,
        "post_publish_time": post.publish_time, "post_display_time": post.display_time, "post_ip": "",
        "post_state": 0, "post_checkState": 0, "post_forward_count": post.forward_count,
        "post_comment_authority": 0, "post_like_count": post.like_count, "post_type": post.post_type,
        "post_source_id": post.source_id, "post_top_status": 0, "post_from": post.post_from,
        "post_has_pic": post.has_pic, "post_pic_url": [], "ask_question": "", "ask_answer": "", "qa": None,
        "extend": extend, "post_pic_url2": [],
        "relate_topic": {"id": "", "name": "", "h5_url": "", "guide": "", "version": 0},
        "post_atuser": [], "reply_list": [_preview_reply(r) for r in post.replies[:2] if not r.deleted],
        "repost_state": 0, "modules": [], "spec_column": "", "post_mod_time": post.mod_time or "",
        "reptile_state": 0, "allow_likes_state": 0, "disable_color": 0, "top_like_user": None,
        "post_id": int(post.post_id), "post_user": short_user(post.author),
        "post_guba": guba(board, detail=False), "post_title": post.title, "post_last_time": post.last_time,
        "post_click_count": post.click_count, "post_comment_count": post.comment_count, "post_address": None,
        "post_is_hot": True,
    }


def _count_text(n: int) -> str:
    return f"{n / 10000:.1f}万" if n >= 10000 else str(n)


def _visible_row(post: Post) -> str:
    e = html.escape
    return (
        f'<tr class="listitem"><td><div class="read">{_count_text(post.click_count)}</div></td>'
        f'<td><div class="reply">{post.comment_count}</div></td>'
        f'<td><div class="title"><a href="/news,{post.bar_code},{post.post_id}.html" data-postid="{post.post_id}" '
        f'title="{e(post.title)}">{e(post.title)}</a></div></td>'
        f'<td><div class="author cl"><a href="//i.eastmoney.com/{post.author.user_id}" '
        f'data-popper="{post.author.user_id}">{e(post.author.nickname)}</a></div></td>'
        f'<td><div class="update mod_time">{post.last_time[5:16]}</div></td></tr>'
    )


def list_page(model: SiteModel, code: str, page: int, sort: str) -> bytes:
    """A board list page (``sort`` ``publish`` for ``,f`` pages, ``reply`` for the default order).

    80 rows per page; page 1 is preceded by the pinned rows. Past the end: ``re: []``. ``code`` must be a
    board of the model.
    """
    board = model.boards[code]
    ids = model.sorted_ids(code, sort)
    chunk = ids[(page - 1) * PAGE_SIZE: page * PAGE_SIZE] if page >= 1 else []
    rows: list[dict[str, Any]] = []
    shown: list[Post] = []
    if page == 1:
        for pid in model.pinned_ids(code):
            post = model.posts[pid]
            rows.append(flat_row(model, post, top=True))
            shown.append(post)
    for pid in chunk:
        post = model.posts[pid]
        rows.append(nested_row(model, post) if post.nested_row else flat_row(model, post))
        shown.append(post)
    payload = {
        "re": rows, "count": len(ids), "bar_name": board.name, "bar_code": board.code,
        "bar_quot_code": board.quot_code, "ret_ad_type": [], "bar_info": bar_info(board), "rc": 1,
        "me": "操作成功", "time": server_time(model),
    }
    name, e = board.name, html.escape
    head = (
        '<!DOCTYPE html><html lang="en"><meta charSet="UTF-8"/><head>'
        f'<meta name="env" content="pj, render at {model.clock.strftime("%Y-%m-%d %H:%M:%S")}"/>'
        '<meta http-equiv="X-UA-Compatible" content="IE=edge,chrome=1"/><meta name="renderer" content="webkit"/>'
        '<meta charSet="UTF-8"/><link rel="icon" href="//gbfek.dfcfw.com/project/guba2022/img/favicon.ico"/>'
        f"<title>{e(name)}({code})股吧_{e(name)}怎么样_分析讨论社区—东方财富网</title>"
        f'<meta name="keywords" content="{e(name)}股吧,{code}股吧,{e(name)}怎么样,{e(name)}分析"/>'
        f'<meta name="description" content="{e(name)}({code})股吧，股民朋友可以在这里畅所欲言，分析讨论股票名的最新动态。'
        '东方财富股吧，专业的股票论坛社区。"/><meta name="mobile-agent" content=""/>'
        '<meta name="referrer" content="always"/><link rel="canonical" href=""/><base target="_blank"/>'
        "<script>window.shimingOption = 2;</script>"
        '<script src="//gbfek.dfcfw.com/project/guba/modules/h5Adaptation.js?r=6"></script>'
        '<script src="//cfgpassport2.eastmoney.com/captcha/scripts/em_capt.js"></script>'
        '<link rel="stylesheet" href="//gbfek.dfcfw.com/deploy/fd_guba_web2022/work/list.css"/></head>'
    )
    body = (
        f'<body><div id="app"><div class="balist"><h2 class="barname">{e(name)}吧</h2>'
        '<table class="default_list"><thead><tr class="listhead"><th>阅读</th><th>评论</th><th>标题</th>'
        "<th>作者</th><th>最后更新</th></tr></thead><tbody class=\"listbody\">"
        + "".join(_visible_row(p) for p in shown)
        + "</tbody></table></div></div>"
        + f'<script>var article_list={embed_json(payload)};    var other_list={{"re":[]}};</script>'
        + '<script src="//gbfek.dfcfw.com/deploy/fd_guba_web2022/work/list.js"></script></body></html>'
    )
    return (head + body).encode()


# ---------------------------------------------------------------------------------------------- post page
def post_article(model: SiteModel, post: Post) -> dict[str, Any]:
    """The flat ``var post_article`` object with the full 2026 key set (guba-site.md §3.2)."""
    board = model.boards[post.bar_code]
    src = model.posts.get(post.source_post_id) if post.source_post_id else None
    src_guba = guba(model.boards[src.bar_code], detail=True) if src else {
        **_empty_guba(), "stockbar_type": 0, "stockbar_inner_code": "",
        "bar_info": {"QMarket": -404, "QCode": "", "OuterCode": "", "Category": -1, "Market": -1,
                     "ShortName": "", "Type": []}}
    extend: dict[str, Any] | None = None
    if post.post_type == 1:
        extend = {"ArtColumnList": "354,349,1215", "NewAbstract": "", "cmsReplyAdFlag": "0",
                  "MediaName": post.media_name, "haFuFlag": 1, "topicInfoList": "[]", "robotNews": "0",
                  "blockClients": ""}
    elif post.post_type == 20:
        extend = {"ZMTBizType": 0, "ZMTLKType": 0, "ListImage": "", "ex_topic": []}
    return {
        "post_id": int(post.post_id), "post_user": detail_user(post.author), "post_guba": guba(board, detail=True),
        "post_title": post.title, "post_content": post.content_html, "post_abstract": post.abstract,
        "post_publish_time": post.publish_time, "post_last_time": post.last_time,
        "post_display_time": post.display_time, "post_ip": "", "post_state": 0, "post_checkState": 0,
        "post_click_count": post.click_count, "post_forward_count": post.forward_count,
        "post_comment_count": post.comment_count, "post_comment_authority": 0, "post_like_count": post.like_count,
        "post_is_like": False, "post_is_collected": False, "post_type": post.post_type,
        "post_source_id": post.source_id, "post_top_status": 0, "post_status": 0, "post_from": post.post_from,
        "post_from_num": post.post_from_num, "post_pdf_url": "", "post_has_pic": post.has_pic,
        "has_pic_not_include_content": False, "post_pic_url": [],
        "source_post_id": int(src.post_id) if src else 0, "source_post_state": 0,
        "source_post_user_id": src.author.user_id if src else "",
        "source_post_user_nickname": src.author.nickname if src else "", "source_post_user_type": 0,
        "source_post_user_is_majia": bool(src and src.author.is_majia), "source_post_pic_url": [],
        "source_post_title": src.title if src else "", "source_post_content": src.content_html if src else "",
        "source_post_abstract": src.abstract if src else "", "source_post_ip": "",
        "source_post_type": src.post_type if src else 0, "source_post_guba": src_guba, "post_video_url": None,
        "source_post_video_url": None, "source_post_source_id": (src.source_id or None) if src else None,
        "code_name": board.market, "product_type": "0", "v_user_code": "0",
        "source_click_count": src.click_count if src else None,
        "source_comment_count": str(src.comment_count) if src else "",
        "source_forward_count": str(src.forward_count) if src else "",
        "source_publish_time": src.publish_time if src else "",
        "source_user_is_majia": "True" if src and src.author.is_majia else "False", "ask_chairman_state": None,
        "selected_post_code": "", "selected_post_name": "", "selected_relate_guba": None, "ask_question": None,
        "ask_answer": None, "qa": None, "fp_code": "u13", "codepost_count": 0, "extend": extend,
        "post_pic_url2": [], "source_post_pic_url2": [],
        "relate_topic": {"id": "", "name": "", "h5_url": "", "btype": None, "stype": None, "guide": "",
                         "version": 0},
        "source_extend": None, "digest_type": 1 if post.post_type == 1 else 0, "source_post_atuser": [],
        "post_inshare_count": 0, "repost_state": 1 if src else 0, "post_atuser": [],
        "reptile_state": 1 if post.post_type == 1 else 0, "post_add_list": None, "extend_version": 2,
        "post_add_time": None, "post_modules": [], "post_speccolumn": None, "post_ip_address": post.ip_address,
        "source_post_ip_address": "", "post_mod_time": post.mod_time, "post_mod_count": post.mod_count,
        "allow_likes_state": 0, "system_comment_authority": 0, "limit_reply_user_auth": 0, "post_tipstate": 0,
        "disable_ad": 0, "disable_color": 0, "fundimgs": None, "source_fundimgs": None, "textsource": None,
        "source_textsource": None, "qrcimgs": None, "source_qrcimgs": None, "payauth": None, "stockimgs": None,
        "source_stockimgs": None, "comment_section": 0, "topiccirclesimple": None, "post_mod_version": -1,
        "post_loc": None, "aitag": -1, "source_aitag": None, "gaitagswitch": 1,
    }


def post_page(model: SiteModel, post: Post) -> bytes:
    """The post page: head, server-rendered title/author/body, then ``var post_article={…};`` and
    ``var img={};var imgs={};`` scripts."""
    board = model.boards[post.bar_code]
    e = html.escape
    page = (
        '<!DOCTYPE html><html lang="en"><head><meta charSet="UTF-8"/>'
        '<meta http-equiv="X-UA-Compatible" content="IE=edge,chrome=1"/><meta name="renderer" content="webkit"/>'
        '<link rel="icon" href="//gbfek.dfcfw.com/project/guba2022/img/favicon.ico"/>'
        f"<title>{e(post.title)}_{e(board.name)}({board.code})股吧_东方财富网股吧</title>"
        f'<meta name="keywords" content="{e(board.name)}股吧,{board.code}股吧"/>'
        f'<meta name="mobile-agent" content="format=html5;url=https://mguba.eastmoney.com/mguba/article/0/{post.post_id}"/>'
        '<meta name="referrer" content="always"/><base target="_blank"/>'
        '<script src="//gbfek.dfcfw.com/project/guba/modules/h5Adaptation.js?r=6"></script>'
        '<script src="//cfgpassport2.eastmoney.com/captcha/scripts/em_capt.js"></script>'
        '<link rel="stylesheet" href="//gbfek.dfcfw.com/deploy/fd_guba_web2022/work/news.css"/></head>'
        f'<body><div id="app"><div class="newsDetail"><div class="newstitle"><h1 class="title">{e(post.title)}</h1></div>'
        f'<div class="newsauthor"><div class="author-info"><a class="name" href="//i.eastmoney.com/'
        f'{post.author.user_id}">{e(post.author.nickname)}</a></div><div class="time">{post.publish_time}</div></div>'
        f'<div class="newstext ">{post.content_html}</div></div></div>'
        f"<script>var post_article={embed_json(post_article(model, post))};</script>"
        "<script>var img={};var imgs={};</script>"
        '<script src="//gbfek.dfcfw.com/deploy/fd_guba_web2022/work/news.js"></script></body></html>'
    )
    return page.encode()


# ---------------------------------------------------------------------------------------------- replies
def _source_reply(q: Reply, post: Post) -> dict[str, Any]:
    return {
        "source_reply_id": int(q.reply_id), "source_reply_state": 1 if q.deleted else 0,
        "source_reply_text": "" if q.deleted else q.text, "source_reply_picture": "", "source_reply_ar": "上海网友",
        "source_reply_user_id": q.author.user_id, "source_reply_user_nickname": q.author.nickname,
        "source_reply_user_type": 1, "source_reply_user": _reply_user(q.author),
        "source_reply_is_author": q.author.user_id == post.author.user_id,
        "source_reply_ip_address": q.ip_address, "source_reply_hide": 0, "source_likenum": 0, "reply_extend": {},
    }


def _reply_common(r: Reply, post: Post, inner: str) -> dict[str, Any]:
    return {
        "reply_id": int(r.reply_id), "source_post_code": inner, "source_post_id": int(post.post_id),
        "reply_state": 1 if r.deleted else 0, "user_id": r.author.user_id, "reply_time": r.time,
        "reply_publish_time": r.time, "reply_text": "" if r.deleted else r.text, "reply_picture": "",
        "reply_is_top": False, "reply_like_count": r.like_count, "reply_is_like": False,
        "reply_is_author": r.author.user_id == post.author.user_id,
    }


def reply_json(model: SiteModel, post: Post, first: Reply) -> dict[str, Any]:
    """One first-level reply with its ``child_replys`` (§4.2 key sets). Deleted replies keep their place with
    ``reply_state`` 1 and an empty text."""
    inner = model.boards[post.bar_code].inner_code
    by_id = {first.reply_id: first, **{c.reply_id: c for c in first.children}}
    children = []
    for c in first.children:
        child = _reply_common(c, post, inner)
        quoted = by_id.get(c.quote_id or "")
        child.update({
            "source_reply": [_source_reply(quoted, post)] if quoted else [],
            "reply_user": _reply_user(c.author), "reply_ar": "上海网友", "reply_from": c.reply_from,
            "reply_ip_address": c.ip_address, "reply_hide": 0, "reply_god": False, "links": None,
            "reply_extend": {},
        })
        # Real key order: source_reply sits after source_post_id; order does not matter to JSON readers.
        children.append(child)
    out: dict[str, Any] = {"child_replys": children, "fake_child_replys": [], "reply_count": len(children),
                           "child_reply_count": 0}
    out.update(_reply_common(first, post, inner))
    out.update({
        "reply_is_amazing": False, "reply_is_follow": False, "reply_user": _reply_user(first.author),
        "reply_ar": "上海网友", "reply_from": first.reply_from, "reply_ip_address": first.ip_address,
        "reply_hide": 0, "reply_tag": 0, "reply_god": False, "links": None,
        "reply_extend": {"yundeltaboo": "0", "jxflag": "0", "AgreeTag": 0},
    })
    return out


def replies_payload(model: SiteModel, post_id: str, page: int, page_size: int) -> bytes:
    """Reply-API JSON for page ``page`` (1-based) of ``page_size`` first-level replies, oldest first.
    Unknown or deleted posts and pages past the end give ``re: []`` (still ``rc`` 1)."""
    post = model.posts.get(post_id)
    if post is None or post.deleted:
        body: dict[str, Any] = {"re": [], "count": 0, "reply_total_count": 0, "rc": 1,
                                "me": "暂无更多评论，欢迎发表观点"}
    else:
        page, page_size = max(page, 1), max(page_size, 1)
        chunk = post.replies[(page - 1) * page_size: page * page_size]
        last = page * page_size >= len(post.replies)
        body = {"re": [reply_json(model, post, r) for r in chunk], "count": post.first_level_count,
                "reply_total_count": post.comment_count, "rc": 1,
                "me": "暂无更多评论，欢迎发表观点" if last else "操作成功"}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


# ---------------------------------------------------------------------------------------------- caifuhao
def caifuhao_page(post: Post) -> bytes:
    """A 财富号 article page whose ``div.article.page-article`` is empty in the HTML and filled by an inline
    script from a JSON string (ASCII-escaped, so the text is not in the raw bytes: only a browser sees it)."""
    data = json.dumps({"title": post.title, "content": post.content_html}, ensure_ascii=True)
    js_string = json.dumps(data, ensure_ascii=True).replace("</", "<\\/")
    page = (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"/>'
        "<title>财富号_东方财富网</title></head><body><div id=\"main\"><div class=\"grid_wrapper\">"
        '<div class="grid"><div class="g_content"><h1 class="article-title"></h1>'
        '<div class="article page-article"></div></div></div></div></div>'
        f"<script>(function(){{var d=JSON.parse({js_string});"
        "document.title=d.title+'_财富号_东方财富网';"
        "document.querySelector('h1.article-title').textContent=d.title;"
        "document.querySelector('div.article.page-article').innerHTML=d.content;})();</script>"
        "</body></html>"
    )
    return page.encode()
