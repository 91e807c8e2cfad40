"""Eastmoney Guba crawler: the Scrapy project (crawling and extraction; never talks to a database)."""

__version__ = "0.1.0"
