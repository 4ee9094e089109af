"""A message's HTML body, made safe to show: sanitised by Ammonia (`nh3`) on the server, so no
script, event handler, form, `javascript:` URL or style sheet survives; remote content (images,
and any other URL a page would load by itself) is dropped; `cid:` references to the message's own
parts (RFC 2392) become URLs of those parts. Links stay, opening outside the page."""

from __future__ import annotations

from collections.abc import Mapping
from email.message import Message
from typing import Final

import nh3

# Presentational attributes mail relies on, besides Ammonia's defaults; none loads anything.
_ATTRIBUTES: Final = {
    "*": {
        "align",
        "valign",
        "width",
        "height",
        "bgcolor",
        "color",
        "dir",
        "lang",
        "title",
        "style",
    },
    "table": {"border", "cellpadding", "cellspacing"},
    "td": {"colspan", "rowspan", "nowrap"},
    "th": {"colspan", "rowspan", "nowrap"},
    "font": {"face", "size", "color"},
}
_TAGS: Final = {"font"}
# Inline styles keep these properties only: none of them takes a url() a browser would fetch.
_STYLES: Final = {
    "color",
    "background-color",
    "font",
    "font-family",
    "font-size",
    "font-style",
    "font-weight",
    "text-align",
    "text-decoration",
    "line-height",
    "margin",
    "margin-top",
    "margin-bottom",
    "margin-left",
    "margin-right",
    "padding",
    "padding-top",
    "padding-bottom",
    "padding-left",
    "padding-right",
    "border",
    "border-collapse",
    "width",
    "height",
    "vertical-align",
    "white-space",
}
# Attributes whose URL a browser fetches by itself, without the reader asking (Ammonia allows no
# other: no background, srcset, poster, video, audio, iframe, object or link).
_LOADED: Final = {("img", "src")}


def html_body(message: Message) -> str | None:
    """The HTML the message would show (text/html, the preferred alternative), or None."""
    body = message.get_body(preferencelist=("html",)) if hasattr(message, "get_body") else None
    if body is None or body.get_content_type() != "text/html":
        return None
    payload = body.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return None
    charset = body.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, "replace")
    except LookupError:  # a charset Python does not know
        return payload.decode("utf-8", "replace")


def sanitise(html: str, part_urls: Mapping[str, str]) -> str:
    """The HTML with everything unsafe removed; `part_urls` maps a Content-ID to the URL of that
    part, for `cid:` references (an unknown one is dropped like a remote image)."""

    def keep(tag: str, attribute: str, value: str) -> str | None:
        if value.lower().startswith("cid:"):
            return part_urls.get(value[4:])
        if (tag, attribute) in _LOADED:
            return None  # remote (or data:) content is not loaded
        return value

    tags = set(nh3.ALLOWED_TAGS) | _TAGS
    attributes = {tag: set(values) for tag, values in nh3.ALLOWED_ATTRIBUTES.items()}
    for tag, names in _ATTRIBUTES.items():
        attributes[tag] = attributes.get(tag, set()) | names
    return nh3.clean(
        html,
        tags=tags,
        clean_content_tags={"script", "style", "title"},
        attributes=attributes,
        attribute_filter=keep,
        url_schemes={"http", "https", "mailto", "cid"},
        filter_style_properties=_STYLES,
        set_tag_attribute_values={"a": {"target": "_blank"}},
    )
