"""The replay site's data: boards, posts and replies, generated from a seed, plus the ground truth tests need.

:meth:`SiteModel.generate` builds a deterministic Guba: the same arguments give the same posts, ids, texts
and times (only :mod:`random` seeded from ``seed`` and CRC32 of codes are used; never ``hash()``, which is
salted per process). The model is mutable for incremental-crawl tests (:meth:`SiteModel.add_post`,
:meth:`add_replies`, :meth:`delete_post`, :meth:`edit_post`); every mutation takes :attr:`SiteModel.lock` and
bumps :attr:`SiteModel.version` so the server drops its cached pages.

All times are Beijing wall-clock strings ``"YYYY-MM-DD HH:MM:SS"`` exactly as Guba serves them.
"""

from __future__ import annotations

import dataclasses
import random
import threading
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from tests.site import texts

BEIJING = timezone(timedelta(hours=8))
TIME_FMT = "%Y-%m-%d %H:%M:%S"
DEFAULT_START = datetime(2026, 3, 2, 9, 30, tzinfo=BEIJING)
DEFAULT_BOARDS: dict[str, int] = {"600519": 200, "usBABA": 120, "hk09988": 100}
CONCEPT_BOARD = "bk0896"
CONCEPT_MIN_POSTS = 8

# Known boards: code -> display name. Anything else gets a made-up name (see :func:`board_info`).
KNOWN_NAMES: dict[str, str] = {
    "600519": "贵州茅台",
    "002941": "新疆交建",
    "601012": "隆基绿能",
    "000858": "五粮液",
    "300750": "宁德时代",
    "688256": "寒武纪-U",
    "600584": "长电科技",
    "zssh000001": "上证指数",
    "zssz399001": "深证成指",
    "hk09988": "阿里巴巴-W",
    "hk00700": "腾讯控股",
    "hk01810": "小米集团-W",
    "usBABA": "阿里巴巴",
    "usAAPL": "苹果",
    "bk0896": "白酒",
}


def fmt_time(dt: datetime) -> str:
    """Beijing wall-clock string of ``dt`` (aware datetimes are converted; naive ones taken as Beijing)."""
    if dt.tzinfo is not None:
        dt = dt.astimezone(BEIJING)
    return dt.strftime(TIME_FMT)


def parse_time(value: str) -> datetime:
    """Inverse of :func:`fmt_time`: an aware Beijing datetime."""
    return datetime.strptime(value, TIME_FMT).replace(tzinfo=BEIJING)


@dataclass(frozen=True)
class Board:
    """One bar. ``kind`` is ``a_share``, ``index``, ``hk``, ``us`` or ``concept``."""

    code: str
    name: str
    kind: str
    stockbar_type: int
    exchange: int
    inner_code: str
    market: str  # stockbar_market / CodeWithMarket, e.g. 600519.sh
    quot_code: str  # bar_quot_code, e.g. SH600519
    quote_market: int  # QMarket / the number before the dot in a K-line nid
    kline_code: str  # what follows "K图 " in a K-line alt text (600519, 09988, BABA)

    @property
    def cashtag(self) -> str:
        """The ``$name(CODE)$`` mention users type for this board."""
        return f"${self.name}({self.quot_code})$"

    @property
    def bar_name(self) -> str:
        """Name with the 吧 suffix, as list rows carry it."""
        return f"{self.name}吧"


def _made_up_name(code: str) -> str:
    h = zlib.crc32(code.encode())
    return (
        texts.NAME_PARTS_A[h % len(texts.NAME_PARTS_A)]
        + texts.NAME_PARTS_B[(h >> 8) % len(texts.NAME_PARTS_B)]
        + texts.NAME_PARTS_C[(h >> 16) % len(texts.NAME_PARTS_C)]
    )


def board_info(code: str) -> Board:
    """Metadata for a board code of any kind; unknown codes get a deterministic made-up name.

    Raises ``ValueError`` for a code that is none of: 6 digits, ``zs..`` index, ``hk`` + 5 digits,
    ``us`` + ticker, ``bk`` + 4 digits.
    """
    name = KNOWN_NAMES.get(code) or _made_up_name(code)
    if code.isdigit() and len(code) == 6:
        sh = code[0] in "69"
        bj = code[0] in "48" or code.startswith("92")
        suffix = "sh" if sh else ("bj" if bj else "sz")
        inner = code if sh else f"gs8{zlib.crc32(code.encode()) % 10**7:07d}"
        return Board(code, name, "a_share", 100, 100 if sh else 101, inner, f"{code}.{suffix}",
                     f"{suffix.upper()}{code}", 1 if sh else 0, code)
    if code.startswith("zs") and len(code) == 10 and code[4:].isdigit():
        mkt = code[2:4]
        inner = "szzs" if code == "zssh000001" else code[2:]
        return Board(code, name, "index", 102, -1, inner, f"{code[4:]}.{mkt}", f"{mkt.upper()}{code[4:]}",
                     1 if mkt == "sh" else 0, code[4:])
    if code.startswith("hk") and len(code) == 7 and code[2:].isdigit():
        num = code[2:]
        return Board(code, name, "hk", 100, 116, code, f"{num}.hk", f"HK{num}", 116, num)
    if code.startswith("us") and len(code) > 2 and code[2:].replace(".", "").isalpha():
        ticker = code[2:].upper()
        if code not in KNOWN_NAMES:
            name = f"{ticker}公司"
        return Board(code, name, "us", 100, 106, code.lower(), f"{ticker}.us", ticker, 106, ticker)
    if code.startswith("bk") and len(code) == 6 and code[2:].isdigit():
        return Board(code, name, "concept", 103, -1, f"{code}_4", f"{code.upper()}.BK", code.upper(), 90,
                     code.upper())
    raise ValueError(f"not a board code this site knows how to model: {code!r}")


@dataclass
class Author:
    """A Guba account. ``deactive`` = cancelled account (``user_extendinfos.deactive == "1"``)."""

    user_id: str  # 16 digits
    nickname: str
    user_name: str
    is_majia: bool = False
    deactive: bool = False
    age: str = "3.2年"
    influ_level: int = 3
    first_en_name: str = ""
    introduce: str = ""


@dataclass
class Reply:
    """One reply. First-level replies have ``parent_id is None`` and their answers in ``children``;
    ``quote_id`` is the reply being answered (rendered as ``source_reply``)."""

    reply_id: str  # 10 digits
    post_id: str
    author: Author
    text: str
    time: str
    parent_id: str | None = None
    quote_id: str | None = None
    deleted: bool = False
    like_count: int = 0
    ip_address: str = ""
    reply_from: int = 31
    children: list[Reply] = field(default_factory=list)


@dataclass
class Post:
    """One post with everything the pages render. ``kind`` labels the content family for tests
    (``user``, ``oneliner``, ``boilerplate``, ``hostile``, ``news``, ``caifuhao``, ``forward``,
    ``article-news``, ``article-user``, ``added``)."""

    post_id: str  # 10 digits
    bar_code: str  # own bar
    title: str
    content_html: str
    author: Author
    publish_time: str
    last_time: str
    display_time: str = ""
    abstract: str = ""
    extra_boards: list[str] = field(default_factory=list)
    post_type: int = 0
    post_from: str = "股吧网页版"
    post_from_num: int = 31
    source_id: str = ""
    media_name: str = ""
    source_post_id: str = ""  # forwards: the forwarded post's id
    deleted: bool = False
    pinned: bool = False
    nested_row: bool = False  # list rows of this post use the nested (post_user/post_guba) schema
    click_count: int = 0
    forward_count: int = 0
    like_count: int = 0
    has_pic: bool = False
    ip_address: str = ""
    mod_time: str | None = None
    mod_count: int = 0
    kind: str = "user"
    article_key: str | None = None
    replies: list[Reply] = field(default_factory=list)

    @property
    def first_level_count(self) -> int:
        return len(self.replies)

    @property
    def comment_count(self) -> int:
        """All replies, children included (``post_comment_count`` / ``reply_total_count``)."""
        return sum(1 + len(r.children) for r in self.replies)


_POST_FIELDS = {f.name for f in dataclasses.fields(Post)}


class SiteModel:
    """Boards, posts and replies of the replay site, with ground truth for the tests.

    Build with :meth:`generate`. Read the ground truth from :attr:`posts`, :meth:`board_post_ids`,
    :attr:`article_groups` and :meth:`replies_of`. Readers that need a consistent view across several calls
    hold :attr:`lock`.
    """

    def __init__(self, seed: int, start: datetime) -> None:
        self.seed = seed
        self.start = start if start.tzinfo else start.replace(tzinfo=BEIJING)
        self.boards: dict[str, Board] = {}
        self.posts: dict[str, Post] = {}
        self.article_groups: dict[str, list[str]] = {}
        self.lock = threading.RLock()
        self.version = 0
        self.clock: datetime = self.start
        self._rng = random.Random(seed)
        self._mut_rng = random.Random(seed * 7919 + 17)
        self._users: list[Author] = []
        self._majia: dict[str, Author] = {}
        self._used_user_ids: set[str] = set()
        self._next_post_id = 1_700_000_000 + self._rng.randrange(0, 9_000_000)
        self._next_reply_id = 9_100_000_000 + self._rng.randrange(0, 90_000_000)
        self._sorted_cache: dict[tuple[str, str], tuple[int, list[str]]] = {}

    # ------------------------------------------------------------------ generation
    @classmethod
    def generate(
        cls,
        seed: int = 1,
        boards: dict[str, int] | None = None,
        *,
        reposted_articles: int = 3,
        replies_max: int = 70,
        start: datetime = DEFAULT_START,
        hostile_bodies: bool = False,
    ) -> SiteModel:
        """A deterministic site.

        ``boards`` maps board code -> number of posts whose own bar it is (default
        :data:`DEFAULT_BOARDS`); the concept board ``bk0896`` always exists (at least 8 own posts, more
        if ``boards`` names it). ``reposted_articles`` news articles are each carried by several posts (news
        copies on up to two stock boards and on bk0896, plus one user copy with a comment) and recorded in
        :attr:`article_groups`. ``replies_max`` caps first-level replies per post. ``start`` is the first
        publish time (naive = Beijing). ``hostile_bodies`` puts script/iframe/onerror/style/javascript:
        snippets into some user posts. Raises ``ValueError`` for an unknown code shape or a negative count.
        """
        model = cls(seed, start)
        model._build(dict(DEFAULT_BOARDS if boards is None else boards), reposted_articles, replies_max,
                     hostile_bodies)
        return model

    def _new_user_id(self) -> str:
        while True:
            uid = str(self._rng.randrange(10**15, 10**16))
            if uid not in self._used_user_ids:
                self._used_user_ids.add(uid)
                return uid

    def _make_users(self) -> None:
        rng = self._rng
        for i in range(120):
            uid = self._new_user_id()
            if i < len(texts.NICK_WORDS):
                nick = texts.NICK_WORDS[i]
            else:
                nick = "股友" + "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(10))
            deactive = i % 37 == 36  # a few cancelled accounts
            self._users.append(Author(
                user_id=uid, nickname=nick, user_name=f"{rng.choice('abcdefghjkmnpqrstuvwxyz')}{uid}",
                deactive=deactive, age=f"{rng.randrange(1, 15)}.{rng.randrange(10)}年" if i % 5 else
                f"{rng.randrange(1, 12)}个月", influ_level=rng.randrange(0, 11), first_en_name=nick,
            ))
        for name in texts.CAIFUHAO_AUTHORS:
            uid = self._new_user_id()
            self._users.append(Author(uid, name, f"c{uid}", age="6.1年", influ_level=9, first_en_name=name))

    def _caifuhao_author(self, rng: random.Random) -> Author:
        names = set(texts.CAIFUHAO_AUTHORS)
        return rng.choice([u for u in self._users if u.nickname in names])

    def majia(self, code: str) -> Author:
        """The board's official news account (``{name}资讯``, ``user_is_majia`` true)."""
        if code not in self._majia:
            board = self.boards[code]
            uid = str(7_000_000_000_000_000 + zlib.crc32(code.encode()) * 1000 + 342)
            self._majia[code] = Author(
                uid, f"{board.name}资讯", f"{code}_1", is_majia=True, age="13.5年", influ_level=10,
                first_en_name="zx" + code.lower(),
                introduce="第一时间发布上市公司相关新闻、研究报告、公告；客观提供上市公司龙虎榜、大宗交易、融资融券等数据。",
            )
        return self._majia[code]

    def _plain_user(self, rng: random.Random) -> Author:
        names = set(texts.CAIFUHAO_AUTHORS)
        while True:
            user = rng.choice(self._users)
            if user.nickname not in names:
                return user

    def _build(self, quotas: dict[str, int], n_articles: int, replies_max: int, hostile: bool) -> None:
        rng = self._rng
        for code, n in quotas.items():
            if n < 0:
                raise ValueError(f"negative post count for board {code!r}: {n}")
            self.boards[code] = board_info(code)
        quotas[CONCEPT_BOARD] = max(quotas.get(CONCEPT_BOARD, 0), CONCEPT_MIN_POSTS, n_articles + 5)
        self.boards.setdefault(CONCEPT_BOARD, board_info(CONCEPT_BOARD))
        self._make_users()

        # Carriers of the reposted articles: the US and HK Alibaba bars when present, else the first two
        # non-concept boards; the concept bar always carries a copy too.
        stock_boards = [c for c in quotas if self.boards[c].kind != "concept"]
        carriers: list[str] = [c for c in ("usBABA", "hk09988") if c in stock_boards]
        for c in stock_boards:
            if len(carriers) >= 2:
                break
            if c not in carriers:
                carriers.append(c)
        remaining = dict(quotas)
        specs: list[tuple[str, str, Any]] = []  # (board, kind, extra)

        def take(board: str, kind: str, extra: Any = None) -> bool:
            if remaining[board] <= 0:
                return False
            remaining[board] -= 1
            specs.append((board, kind, extra))
            return True

        for k in range(n_articles):
            for pos, c in enumerate([*carriers, CONCEPT_BOARD]):
                take(c, "article-news", (k, pos))
            if carriers:
                take(carriers[0], "article-user", (k, 0))
        cross_target = "600519" if "600519" in quotas else next(
            (c for c in stock_boards if self.boards[c].kind == "a_share"), None)
        for code in quotas:
            n = quotas[code]
            concept = self.boards[code].kind == "concept"
            plan = [
                ("news", 0 if concept or n < 4 else max(1, n // 12)),
                ("caifuhao", n // 15),
                ("oneliner", max(2, n // 25) if n >= 6 else 0),
                ("forward", n // 30),
                ("boilerplate", n // 25),
                ("cross", 3 if concept and cross_target else 0),
            ]
            for kind, count in plan:
                for _ in range(count):
                    take(code, kind)
            while take(code, "user"):
                pass
        rng.shuffle(specs)

        t = self.start
        hostile_i = 0
        for board, kind, extra in specs:
            post_id = str(self._next_post_id)
            self._next_post_id += rng.randrange(40, 4000)
            post = self._make_post(rng, board, kind, extra, post_id, fmt_time(t), cross_target)
            if kind == "user" and hostile and rng.random() < 0.15:
                snippet = texts.HOSTILE_SNIPPETS[hostile_i % len(texts.HOSTILE_SNIPPETS)]
                hostile_i += 1
                post.content_html += snippet
                post.kind = "hostile"
            self.posts[post.post_id] = post
            t += timedelta(seconds=rng.randrange(30, 900))
        if hostile:
            # Every snippet kind at least once, whatever the random draw gave.
            users = [p for p in self.posts.values() if p.kind == "user"]
            while hostile_i < len(texts.HOSTILE_SNIPPETS) and users:
                p = users.pop(0)
                p.content_html += texts.HOSTILE_SNIPPETS[hostile_i]
                p.kind = "hostile"
                hostile_i += 1
        self._add_brace_title(quotas)
        self._mark_pinned()
        self._make_all_replies(rng, replies_max)
        self.clock = max(parse_time(max(p.last_time for p in self.posts.values())), self.start)
        groups: dict[str, list[str]] = {}
        for p in self.posts.values():
            if p.article_key:
                groups.setdefault(p.article_key, []).append(p.post_id)
        self.article_groups = {k: v for k, v in sorted(groups.items()) if len(v) > 1}

    def _add_brace_title(self, quotas: dict[str, int]) -> None:
        # A title holding "};" and the other_list separator: extractors must not split on it.
        first = next(iter(quotas))
        for p in self.posts.values():
            if p.bar_code == first and p.kind == "user":
                p.title = '看不懂};    var other_list={"re":[]};这走势'
                p.kind = "brace-title"
                return

    def _mark_pinned(self) -> None:
        for code, board in self.boards.items():
            if board.kind == "concept":
                continue
            news = sorted((p for p in self.posts.values() if p.bar_code == code and p.post_type == 1),
                          key=lambda p: p.post_id, reverse=True)
            for p in news[: 2 if code == "600519" else 1]:
                p.pinned = True

    # ------------------------------------------------------------------ content
    def _fill(self, rng: random.Random, template: str, board: Board) -> str:
        month, day = self.start.month, self.start.day
        return template.format(
            name=board.name, cashtag=board.cashtag, n=rng.randrange(3, 1900), n2=rng.randrange(10, 999),
            n3=rng.randrange(1, 60), n4=rng.randrange(0, 10), month=month, day=day,
        )

    def _user_text(self, rng: random.Random, board: Board, k: int) -> list[str]:
        return [self._fill(rng, s, board) for s in rng.sample(texts.USER_FRAGMENTS, k)]

    def _kline_block(self, board: Board) -> str:
        c, m = board.kline_code, board.quote_market
        nid = f"{m}.{c}"
        return (
            '<!-- EM_StockImg_Start --><p style="text-align:center;"><a href="http://quote.eastmoney.com/unify/r/'
            f'{nid}" data-code="{c}|{m}|1" data-code2="{c}|{m}|2|" class="EmImageRemark" target="_blank"><img '
            f'src="https://webquoteklinepic.eastmoney.com/GetPic.aspx?nid={nid}&imageType=k&token='
            f'{zlib.crc32(nid.encode()):08x}{zlib.crc32(c.encode()):08x}0000000000000000&at=1" border="0" '
            f'alt="K图 {c}_0" data-code="K {c}|{m}|1" data-code2="K {c}|{m}|2|" style="border:#d1d1d1 1px solid;" '
            'width="578" height="276" /></a></p><!-- EM_StockImg_End -->'
        )

    @staticmethod
    def _news_html(source_label: str, body: str, outlet: str, source_id: str) -> str:
        return (
            "<div id='zw_header' style='color:#949494;font-size:85%;padding-bottom:5px;'><span class='source'>"
            f"{source_label}</span><span class='author'></span></div> <div id='zw_body' >{body}</div>"
            f"<div id='zw_footer'>（文章来源：{outlet}） <a href='http://finance.eastmoney.com/a/{source_id}.html' "
            "target='_blank' style='color:Red'><b>[点击查看原文]</b></a></div>"
        )

    @staticmethod
    def _news_source_id(rng: random.Random, publish: str) -> str:
        return publish[:10].replace("-", "") + f"{rng.randrange(10**9, 10**10)}"

    def _article(self, k: int) -> tuple[str, list[str], str]:
        """Article ``k`` of the reposted set: (title, paragraphs, outlet); the same for every carrier."""
        arng = random.Random(self.seed * 1_000_003 + k * 97 + 5)
        board = board_info("usBABA")
        title = self._fill(arng, texts.ARTICLE_TITLES[k % len(texts.ARTICLE_TITLES)], board)
        paras = [self._fill(arng, s, board) for s in arng.sample(texts.ARTICLE_SENTENCES, arng.randrange(5, 8))]
        return title, paras, texts.OUTLETS[k % len(texts.OUTLETS)]

    def _make_post(self, rng: random.Random, code: str, kind: str, extra: Any, post_id: str, publish: str,
                   cross_target: str | None) -> Post:
        board = self.boards[code]
        post = Post(post_id=post_id, bar_code=code, title="", content_html="", author=self._plain_user(rng),
                    publish_time=publish, last_time=publish, display_time=publish, kind=kind,
                    click_count=rng.randrange(5, 30000), forward_count=rng.randrange(0, 20),
                    like_count=rng.randrange(0, 60), ip_address=rng.choice(texts.PROVINCES))
        post.post_from, post.post_from_num = rng.choice(
            [("股吧网页版", 31), ("东方财富iPhone版", 32), ("东方财富Android版", 32)])
        post.nested_row = rng.random() < 0.03
        if kind in ("user", "cross"):
            paras = self._user_text(rng, board, rng.randrange(1, 5))
            post.content_html = "<br>".join(paras)
            if rng.random() < 0.5:
                post.title = self._fill(rng, rng.choice(texts.TITLES), board)
            else:  # title-less app post: the list shows the start of the body
                post.title = "".join(paras)[:40]
            if kind == "cross" and cross_target:
                post.extra_boards = [cross_target]
                post.nested_row = True
                post.kind = "user"
        elif kind == "oneliner":
            post.title = post.content_html = rng.choice(texts.ONE_LINERS)
        elif kind == "boilerplate":
            post.author = self._users[14]  # 复盘小能手: same signature under every post
            paras = self._user_text(rng, board, rng.randrange(2, 4))
            post.title = f"{publish[5:10]}复盘：" + self._fill(rng, rng.choice(texts.TITLES), board)
            post.content_html = "<br>".join(paras) + texts.BOILERPLATE_SIGNATURE
        elif kind == "news":
            post.author = self.majia(code)
            post.post_type, post.post_from, post.post_from_num = 1, "股吧网页版", 5
            outlet = rng.choice(texts.OUTLETS)
            post.title = f"{board.name}：" + self._fill(rng, rng.choice(texts.NEWS_EVENTS), board)
            paras = [self._fill(rng, s, board) for s in rng.sample(texts.NEWS_SENTENCES, rng.randrange(3, 7))]
            post.source_id = self._news_source_id(rng, publish)
            body = "".join(f"<p>　　{p}</p>" for p in paras)
            post.content_html = self._news_html(f"来源：{outlet}", self._kline_block(board) + body, outlet,
                                                 post.source_id)
            post.abstract = "".join(paras)[:120]
            post.media_name = outlet
            post.display_time = fmt_time(parse_time(publish) - timedelta(seconds=rng.randrange(60, 400)))
        elif kind == "caifuhao":
            post.author = self._caifuhao_author(rng)
            post.post_type, post.post_from, post.post_from_num = 20, "创作中心网页端", 160
            post.source_id = publish.replace("-", "").replace(" ", "").replace(":", "") + \
                f"{rng.randrange(10**8, 10**9)}"
            # Sampled and shuffled like news: unrelated 财富号 posts must not read as copies of each other.
            paras = [self._fill(rng, s, board)
                     for s in rng.sample(texts.CAIFUHAO_SENTENCES, rng.randrange(4, 9))]
            post.title = f"{board.name}：" + self._fill(rng, rng.choice(texts.TITLES), board)
            post.content_html = "".join(f"<p>{p}</p>" for p in paras) + (
                f"<p>（来源：{post.author.nickname}的财富号 {publish[:16]}） <a href=\"http://caifuhao.eastmoney.com/"
                f"news/{post.source_id}\" target=\"_blank\"><b>[点击查看原文]</b></a></p>"
            )
        elif kind == "forward":
            earlier = [p for p in self.posts.values() if p.kind not in ("forward",) and not p.deleted]
            if earlier:
                src = rng.choice(earlier[-40:])
                post.source_post_id = src.post_id
                post.title = "转发"
                post.content_html = rng.choice(["转发", "说得好，转发一下", "转发//有道理"])
            else:
                post.kind = "user"
                post.title = post.content_html = "".join(self._user_text(rng, board, 1))
        elif kind == "article-news":
            k, pos = extra
            self._article_news(rng, post, board, k, pos)
        elif kind == "article-user":
            k, _ = extra
            title, paras, outlet = self._article(k)
            comment = texts.ARTICLE_COMMENTS[k % len(texts.ARTICLE_COMMENTS)]
            post.title = f"{comment}：{title}"[:40]
            post.content_html = f"<p>{comment}</p><p>来源：{outlet}</p>" + "".join(f"<p>{p}</p>" for p in paras)
            post.article_key = f"article-{k + 1}"
        else:  # pragma: no cover - plan kinds are fixed above
            raise AssertionError(kind)
        return post

    def _article_news(self, rng: random.Random, post: Post, board: Board, k: int, pos: int) -> None:
        title, paras, outlet = self._article(k)
        post.author = self.majia(post.bar_code)
        post.post_type, post.post_from, post.post_from_num = 1, "股吧网页版", 5
        post.title = title
        post.media_name = outlet
        post.article_key = f"article-{k + 1}"
        # The original and the first repost share the finance.eastmoney.com article id; the concept-bar copy
        # was republished under its own id (below), so dedup there must come from the text.
        post.source_id = self._news_source_id(random.Random(self.seed * 31 + k), fmt_time(self.start))
        post.display_time = fmt_time(parse_time(post.publish_time) - timedelta(seconds=rng.randrange(60, 400)))
        kline = self._kline_block(board) if board.kind != "concept" else ""
        if pos == 0:  # the original: full-width punctuation, indented paragraphs
            label, body_paras, tail = f"来源：{outlet}", [f"<p>　　{p}</p>" for p in paras], ""
        elif pos == 1:  # half-width colon in the source line, half-width punctuation, no indent
            half = str.maketrans({"，": ",", "：": ":", "（": "(", "）": ")", "；": ";"})
            label, body_paras, tail = f"来源:{outlet}", [f"<p>{p.translate(half)}</p>" for p in paras], ""
        else:  # concept bar: republished (own source id) with trailing boilerplate
            label, body_paras, tail = f"来源：{outlet}", [f"<p>　　{p}</p>" for p in paras], \
                texts.ARTICLE_TAIL_BOILERPLATE
            post.source_id = self._news_source_id(rng, post.publish_time)
        post.content_html = self._news_html(label, kline + "".join(body_paras) + tail, outlet, post.source_id)
        post.abstract = "".join(paras)[:120]

    # ------------------------------------------------------------------ replies
    def _new_reply_id(self, rng: random.Random) -> str:
        rid = str(self._next_reply_id)
        self._next_reply_id += rng.randrange(1, 5000)
        return rid

    def _make_reply(self, rng: random.Random, post: Post, t: datetime, parent: Reply | None = None,
                    quote: Reply | None = None) -> Reply:
        author = post.author if rng.random() < 0.08 else self._plain_user(rng)
        return Reply(
            reply_id=self._new_reply_id(rng), post_id=post.post_id, author=author,
            text=rng.choice(texts.REPLY_TEXTS), time=fmt_time(t),
            parent_id=parent.reply_id if parent else None, quote_id=quote.reply_id if quote else None,
            deleted=rng.random() < 0.05, like_count=rng.randrange(0, 12) if rng.random() < 0.3 else 0,
            ip_address=rng.choice(texts.PROVINCES), reply_from=rng.choice([20, 31, 42]),
        )

    def _grow_replies(self, rng: random.Random, post: Post, n_first: int, t: datetime) -> list[Reply]:
        """Append ``n_first`` first-level replies (some with children) from time ``t``; returns all new."""
        new: list[Reply] = []
        for _ in range(n_first):
            t += timedelta(seconds=rng.randrange(20, 3000))
            first = self._make_reply(rng, post, t)
            post.replies.append(first)
            new.append(first)
            if rng.random() < 0.2:
                quote = first
                for _ in range(rng.randrange(1, 4)):
                    t += timedelta(seconds=rng.randrange(10, 900))
                    child = self._make_reply(rng, post, t, parent=first, quote=quote)
                    first.children.append(child)
                    new.append(child)
                    quote = child if rng.random() < 0.5 else first
        if new:
            post.last_time = max(post.last_time, max(r.time for r in new))
        return new

    def _make_all_replies(self, rng: random.Random, replies_max: int) -> None:
        ordered = sorted(self.posts.values(), key=lambda p: p.post_id)
        big = 0
        for i, post in enumerate(ordered):
            draw = rng.random()
            many = replies_max > 30 and (draw < 0.06 or (big < 4 and i % 50 == 7))
            if many:
                n = rng.randrange(31, replies_max + 1)
                big += 1
            elif draw < 0.5:
                n = 0
            elif draw < 0.85:
                n = rng.randrange(1, 6)
            else:
                n = rng.randrange(6, min(30, max(7, replies_max)))
            n = min(n, replies_max)
            self._grow_replies(rng, post, n, parse_time(post.publish_time))

    # ------------------------------------------------------------------ ground truth
    def board_post_ids(self, code: str) -> list[str]:
        """Every live (not deleted) post listed on board ``code``, own or cross-listed, newest published first.

        An unknown code gives ``[]``.
        """
        return list(self._sorted(code, "publish"))

    def sorted_ids(self, code: str, sort: str) -> list[str]:
        """Live posts of a board in list order: ``publish`` (``,f`` pages) or ``reply`` (last activity).
        Ties break on post id, newest first. The list is cached per model version; do not mutate it."""
        return self._sorted(code, sort)

    def _sorted(self, code: str, sort: str) -> list[str]:
        with self.lock:
            cached = self._sorted_cache.get((code, sort))
            if cached and cached[0] == self.version:
                return cached[1]
            posts = [p for p in self.posts.values()
                     if not p.deleted and (p.bar_code == code or code in p.extra_boards)]
            if sort == "publish":
                posts.sort(key=lambda p: (p.publish_time, p.post_id), reverse=True)
            elif sort == "reply":
                posts.sort(key=lambda p: (p.last_time, p.post_id), reverse=True)
            else:
                raise ValueError(f"sort must be 'publish' or 'reply', got {sort!r}")
            ids = [p.post_id for p in posts]
            self._sorted_cache[(code, sort)] = (self.version, ids)
            return ids

    def pinned_ids(self, code: str) -> list[str]:
        """Live pinned posts shown at the top of page 1 of board ``code`` (they also keep their normal place)."""
        with self.lock:
            return [i for i in self._sorted(code, "publish") if self.posts[i].pinned]

    def replies_of(self, post_id: str) -> list[Reply]:
        """All replies of a post, flat: each first-level reply followed by its children. Unknown id -> []."""
        with self.lock:
            post = self.posts.get(str(post_id))
            if post is None:
                return []
            return [r for first in post.replies for r in (first, *first.children)]

    def reply_counts(self, post_id: str) -> tuple[int, int]:
        """``(first_level, total)`` reply counts as the replies API reports them (``count``,
        ``reply_total_count``). Unknown id -> ``(0, 0)``."""
        with self.lock:
            post = self.posts.get(str(post_id))
            return (post.first_level_count, post.comment_count) if post else (0, 0)

    def find_by_source_id(self, source_id: str) -> Post | None:
        """The live post whose ``post_source_id`` is ``source_id`` (财富号 / news id), if any."""
        with self.lock:
            for p in self.posts.values():
                if p.source_id == source_id and not p.deleted:
                    return p
        return None

    # ------------------------------------------------------------------ mutations
    def _tick(self, seconds: int | None = None) -> datetime:
        self.clock += timedelta(seconds=seconds if seconds is not None else self._mut_rng.randrange(30, 300))
        return self.clock

    def _changed(self) -> None:
        self.version += 1

    def add_post(self, board: str, **overrides: Any) -> Post:
        """Publish a new post on ``board`` (created with a made-up name if unknown): the newest post, with the
        highest id, at the top of ``,f`` lists and of the default list. ``overrides`` set any :class:`Post`
        field (``title``, ``content_html``, ``post_type``, ``author``, ...); an unknown field name raises
        ``TypeError``."""
        unknown = set(overrides) - _POST_FIELDS
        if unknown:
            raise TypeError(f"unknown Post fields: {sorted(unknown)}")
        with self.lock:
            if board not in self.boards:
                self.boards[board] = board_info(board)
            rng = self._mut_rng
            t = fmt_time(self._tick())
            self._next_post_id = max(self._next_post_id, max((int(i) for i in self.posts), default=0) + 1)
            post_id = str(self._next_post_id)
            self._next_post_id += rng.randrange(40, 4000)
            b = self.boards[board]
            paras = self._user_text(rng, b, 2)
            post = Post(post_id=post_id, bar_code=board, title=self._fill(rng, rng.choice(texts.TITLES), b),
                        content_html="<br>".join(paras), author=self._plain_user(rng), publish_time=t,
                        last_time=t, display_time=t, kind="added", click_count=rng.randrange(1, 50))
            for name, value in overrides.items():
                setattr(post, name, value)
            self.posts[post.post_id] = post
            self._changed()
            return post

    def add_replies(self, post_id: str, n: int) -> list[Reply]:
        """Add ``n`` first-level replies (children may come along) after the current site time; bumps the
        post's comment count and ``last_time`` so it resurfaces at the top of the default list. Returns all
        new replies. Unknown post id -> ``KeyError``."""
        with self.lock:
            post = self.posts[str(post_id)]
            new = self._grow_replies(self._mut_rng, post, n, self._tick())
            if new:
                self.clock = max(self.clock, parse_time(post.last_time))
            self._changed()
            return new

    def delete_post(self, post_id: str) -> None:
        """Delete a post: it leaves every list, its page answers 302 -> ``/error?type=2``. Unknown id ->
        ``KeyError``."""
        with self.lock:
            self.posts[str(post_id)].deleted = True
            self._changed()

    def edit_post(self, post_id: str, *, title: str | None = None, content_html: str | None = None,
                  abstract: str | None = None, **overrides: Any) -> Post:
        """Edit a post in place (``post_mod_time`` set to the site time, ``post_mod_count`` + 1). Other
        :class:`Post` fields can be passed as keywords; unknown names raise ``TypeError``, unknown ids
        ``KeyError``."""
        unknown = set(overrides) - _POST_FIELDS
        if unknown:
            raise TypeError(f"unknown Post fields: {sorted(unknown)}")
        with self.lock:
            post = self.posts[str(post_id)]
            if title is not None:
                post.title = title
            if content_html is not None:
                post.content_html = content_html
            if abstract is not None:
                post.abstract = abstract
            for name, value in overrides.items():
                setattr(post, name, value)
            post.mod_time = fmt_time(self._tick())
            post.mod_count += 1
            self._changed()
            return post

    def iter_posts(self) -> Iterable[Post]:
        """All posts (deleted included) in id order."""
        with self.lock:
            return sorted(self.posts.values(), key=lambda p: int(p.post_id))
