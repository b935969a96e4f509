"""Turning author markdown into safe HTML for pages."""

from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

# Raw HTML is off in the parser, and nh3 cleans the result anyway: briefs are trusted today,
# but the same function renders text that people other than authors write.
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def render_markdown(text: str) -> Markup:
    """Markdown as sanitised HTML."""
    html = _markdown.render(text)
    return Markup(nh3.clean(html, link_rel="noopener noreferrer nofollow"))


@lru_cache(maxsize=16)
def render_brief(markdown: str) -> Markup:
    """A case brief as sanitised HTML, rendered once per brief: every candidate page shows one of a few."""
    return render_markdown(markdown)
