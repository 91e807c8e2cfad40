"""Scrapy settings for the Guba crawler.

Polite by default (one request in flight per domain, ~3 s between requests with jitter, block-aware backoff).
Every project setting has a prefix naming its component (GUBA_*, MONGO_*, REPOST_*, ...), is documented here
and in the README's settings table, and can be overridden with ``-s NAME=VALUE`` or, for the few read from the
environment (GUBA_BASE_URL, MONGO_URI, MONGO_DATABASE, REDIS_URL), an environment variable.
"""

from __future__ import annotations

import os

BOT_NAME = "guba"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

# --- the site ---------------------------------------------------------------------------------
# Base URL every request is built on; the tests point it at the local replay site.
GUBA_BASE_URL = os.environ.get("GUBA_BASE_URL", "https://guba.eastmoney.com")
# Posts per list page on the real site (used to size list-page budgets only).
GUBA_LIST_PAGE_SIZE = 80
# First-level replies asked per replies-API page (the site's own front-end asks 30).
GUBA_REPLY_PAGE_SIZE = 30
# Default number of list pages per board and run when `-a pages=` is not given (0 = no limit).
GUBA_MAX_PAGES = 0

# --- politeness ---------------------------------------------------------------------------------
CONCURRENT_REQUESTS = 16
# Items of one response processed at once. Scrapy starts this many asyncio tasks for every response, whatever it
# yields, and a response yields one or two items; no stage waits on I/O (storage is queued), so one is enough.
CONCURRENT_ITEMS = 1
CONCURRENT_REQUESTS_PER_DOMAIN = 1
DOWNLOAD_DELAY = 3.0  # seconds between requests to one domain
DOWNLOAD_DELAY_JITTER = 0.5  # +-50% random variation of DOWNLOAD_DELAY
DOWNLOAD_TIMEOUT = 30
# Guba's block is an HTTP-200 verification page that AutoThrottle cannot see; GubaBlockMiddleware adapts instead.
AUTOTHROTTLE_ENABLED = False
# robots.txt is not fetched: one extra request per run per host, and Guba's list/post pages are what users read.
ROBOTSTXT_OBEY = False
USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/144.0.0.0 Safari/537.36"
)
DEFAULT_REQUEST_HEADERS = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "zh-CN,zh;q=0.9,en;q=0.6",
}
COOKIES_ENABLED = True
RETRY_ENABLED = True
RETRY_TIMES = 5
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429, 403]
# Pages above this size are dropped with a log line (a 5 MB list page is still accepted).
DOWNLOAD_MAXSIZE = 32 * 1024 * 1024
DOWNLOAD_WARNSIZE = 8 * 1024 * 1024
REDIRECT_MAX_TIMES = 5

# --- block handling (crawler/middlewares.py: GubaBlockMiddleware) --------------------------------
# Backoff after the first verification page in a row, in seconds; doubles with every further block.
GUBA_BLOCK_BACKOFF_BASE = 30.0
# Upper bound of that backoff.
GUBA_BLOCK_BACKOFF_MAX = 900.0
# How many times one request is retried after verification pages before it is given up (and counted).
GUBA_BLOCK_MAX_RETRIES = 8
# After this many verification pages in a row (whole domain) the crawl stops or pauses.
GUBA_BLOCK_MAX_CONSECUTIVE = 12
# What happens then: "stop" (close the spider with reason "blocked") or "pause" (wait GUBA_BLOCK_PAUSE_SECONDS).
GUBA_BLOCK_ACTION = "stop"
GUBA_BLOCK_PAUSE_SECONDS = 1800.0

# --- consoles: off (Scrapy 2.19 starts a code-running remote-control server by default) ------------
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False

DOWNLOADER_MIDDLEWARES = {
    "crawler.middlewares.GubaBlockMiddleware": 560,  # below RetryMiddleware (550): sees responses first
    "crawler.middlewares.GubaRefererMiddleware": 700,
    # Above GubaBlockMiddleware (560) and MetaRefreshMiddleware (580): sees a verification page first and
    # may answer it through the browser; off when the browser is (crawler/browser.py).
    "crawler.browser.BrowserFallbackMiddleware": 585,
}

# --- pipelines: normalise -> validate -> store (deduplicating reposts batch by batch) ------------------
ITEM_PIPELINES = {
    "pipelines.normalize_stage.NormalizePipeline": 300,
    "pipelines.validate_stage.ValidationPipeline": 600,
    "pipelines.mongo.MongoPipeline": 800,
}

# --- repost deduplication (pipelines/repost_index.py, run by the storage stage) --------------------------
# False: posts are stored without article ids and no articles are built.
REPOST_ENABLED = True
# Estimated Jaccard similarity of character shingles above which two posts carry the same article.
REPOST_THRESHOLD = 0.8
# Bodies shorter than this (after normalisation, in characters) are never merged on content alone.
REPOST_MIN_CHARS = 80
REPOST_NUM_PERM = 128
REPOST_BANDS = 32

# --- MongoDB (pipelines/mongo.py) ----------------------------------------------------------------
# Connection string; secrets belong here (environment), never in logs. Empty: the pipeline is not configured.
MONGO_URI = os.environ.get("MONGO_URI", "")
MONGO_DATABASE = os.environ.get("MONGO_DATABASE", "guba")
# Items per batch (one set of bulk writes). An idle writer takes a batch as soon as it holds MONGO_MIN_BATCH_SIZE
# items, so batches reach MONGO_BATCH_SIZE only while MongoDB is busy.
MONGO_BATCH_SIZE = 500
MONGO_MIN_BATCH_SIZE = 50
# A partly filled batch is written after this many seconds.
MONGO_FLUSH_SECONDS = 5.0
# Full batches waiting for the writer thread; when this many wait, the crawl waits for MongoDB.
MONGO_QUEUE_BATCHES = 4
# Write batches from a child process (True) instead of threads of the crawler: document building, repost
# fingerprints and BSON encoding then run beside the crawl instead of holding its interpreter lock.
MONGO_WRITER_PROCESS = True
# How long a failing write is retried (with backoff) before the batch is spilled to MONGO_SPILL_DIR.
MONGO_RETRY_SECONDS = 600.0
# Batches that could not be written are kept here as JSON lines and replayed by the next run.
MONGO_SPILL_DIR = "var/spill"
# Server selection timeout at start-up (ms).
MONGO_CONNECT_TIMEOUT_MS = 5000

# --- Scrapy housekeeping ----------------------------------------------------------------------------
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
# Scrapy re-reads and parses the source of a callback for this check on almost every response (its cache is keyed
# by the bound method, which is new for each request): ~7 % of a fast crawl's CPU. The same check runs once in the
# tests (tests/test_spiders.py) on every callback of the project's spiders instead.
WARN_ON_GENERATOR_RETURN_VALUE = False
FEED_EXPORT_ENCODING = "utf-8"
LOG_LEVEL = "INFO"

# --- runs, locks and monitors (pipelines/runs.py, crawler/monitors.py) ----------------------------------------
# Id shared by the processes of one run (scrapy-redis workers); empty = a fresh id per process.
GUBA_RUN_ID = os.environ.get("GUBA_RUN_ID", "")
# Refuse to start when another run holds a lock on one of the boards.
GUBA_LOCK_ENABLED = True
# A lock whose holder has not refreshed it for this long (or whose process is gone) is taken over.
GUBA_LOCK_STALE_SECONDS = 900.0
GUBA_LOCK_HEARTBEAT_SECONDS = 60.0
SPIDERMON_ENABLED = True
SPIDERMON_SPIDER_CLOSE_MONITORS = ["crawler.monitors.CloseMonitorSuite"]
# Monitors fail the run above these: share of responses that were verification pages,
GUBA_MONITOR_MAX_BLOCK_RATE = 0.2
# requests given up after verification pages,
GUBA_MONITOR_MAX_GAVE_UP = 0
# pages without the expected layout,
GUBA_MONITOR_MAX_LAYOUT_CHANGES = 0
# share of items that break schema v1.
GUBA_MONITOR_MAX_INVALID_RATE = 0.0

# --- extensions ----------------------------------------------------------------------------------------
# Write the run's stats as JSON to this file at the end of the run (empty: off).
GUBA_STATS_FILE = ""
# Garbage-collector thresholds while a spider runs (crawler/extensions.py GcTuning; [] = Python's defaults).
GC_THRESHOLDS = [20000, 20, 10]
# Loggers with a DEBUG record per request, item or MongoDB command: given LOG_LEVEL as their own level when it is
# above DEBUG (crawler/extensions.py QuietDebugLoggers), so those records are not built only to be dropped.
GUBA_QUIET_LOGGERS = ["scrapy.core.engine", "scrapy.core.scraper", "pymongo"]
EXTENSIONS = {
    "crawler.extensions.ResumeGuard": 0,
    "crawler.extensions.GcTuning": 10,
    "crawler.extensions.QuietDebugLoggers": 20,
    "spidermon.contrib.scrapy.extensions.Spidermon": 400,
    # Board lock, crawl_runs document and the end-of-run summary (after Spidermon's verdict).
    "pipelines.runs.RunExtension": 450,
    "crawler.extensions.StatsFile": 900,
    # Hands the spider what MongoDB knows (incremental runs); off without MONGO_URI.
    "pipelines.watermarks.WatermarkExtension": 500,
}

# --- scale-out (crawler/distributed.py) ------------------------------------------------------------------
# A shared Redis (scrapy-redis) for scheduling and request deduplication across crawler processes; empty = off.
REDIS_URL = os.environ.get("REDIS_URL", "")
# With REDIS_URL set, GUBA_RUN_ID (runs section) is required: processes with the same id share one crawl.
# Every Redis key of a run is "<REDIS_KEY_PREFIX>:<GUBA_RUN_ID>:<spider>:<part>".
REDIS_KEY_PREFIX = "guba"
# A run's keys expire this long (s) after their last write; the last worker of a finished run deletes them
# at once, so this only clears up after killed runs.
REDIS_RUN_TTL = 172800
# A worker closes once the shared queue has been empty and no worker busy for this long (s).
REDIS_IDLE_CLOSE_SECONDS = 5.0
# How often (s) an idle worker polls the shared queue, and every worker refreshes its heartbeat.
REDIS_POLL_SECONDS = 1.0
# A worker not heard from for this long (s) (killed, frozen) no longer counts as alive or busy.
REDIS_WORKER_TIMEOUT = 60.0
# While Redis does not answer (restart, failover), a worker keeps what it holds and retries with backoff for
# this long (s), then stops with finish reason "redis_unavailable".
REDIS_RETRY_SECONDS = 300.0
ADDONS = {
    "crawler.distributed.RedisAddon": 100,
}

# --- browser fallback (crawler/browser.py) ------------------------------------------------------------
# Debian's chromium through scrapy-playwright, only for requests that need JavaScript (财富号 article pages;
# blocked pages when GUBA_BROWSER_ON_BLOCK is on). "auto": on when a chromium binary is found; true: required
# (start-up fails without it); false: never. BrowserAddon installs the handler only when on.
GUBA_BROWSER_ENABLED = "auto"
# The browser binary; empty = /usr/lib/chromium/chromium, /usr/bin/chromium, then chromium on PATH.
# `playwright install` is never needed.
GUBA_BROWSER_EXECUTABLE = ""
# Fetch a GET page that came back as the verification page once more through the browser, then reuse the
# browser's cookies for plain requests. Off by default: each such page costs a browser page load.
GUBA_BROWSER_ON_BLOCK = False
# Pages one browser context shows before it is closed and a fresh one opened: chromium's memory grows
# with every page a context has shown, so recycling keeps long runs flat. Cookies survive in Scrapy's jar.
GUBA_BROWSER_PAGES_PER_CONTEXT = 50
# How long a 财富号 page may take to fill its article container (ms) before it is read as it is.
GUBA_BROWSER_WAIT_MS = 15000
# scrapy-playwright: pages open at once per context (concurrency, not lifetime), navigation timeout (ms),
# chromium flags that work here (docs/environment.md); BrowserAddon adds executable_path.
PLAYWRIGHT_MAX_PAGES_PER_CONTEXT = 2
PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT = 30000
PLAYWRIGHT_LAUNCH_OPTIONS = {
    "headless": True,
    "args": [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
    ],
}
# Images, media and fonts are never downloaded by the browser.
PLAYWRIGHT_ABORT_REQUEST = "crawler.browser.abort_heavy_request"
ADDONS = {**ADDONS, "crawler.browser.BrowserAddon": 200}
