"""How well does read_page's extraction keep the article and drop the boilerplate?

Real pages cannot be fetched here, so this builds an offline corpus: seeded, varied
pages from four templates (news article, blog post, documentation page, institutional
page), each wrapped in the usual boilerplate (menus, breadcrumbs, cookie banner,
newsletter box, share buttons, sidebar "most read" lists, related links, comments,
footer, inline scripts and JSON-LD). Every page knows its must-include snippets
(sentences, headings, list items, table cells and code from the main content) and
must-exclude snippets (boilerplate phrases).

For each method it prints precision, recall and F1 over snippets (micro-averaged),
mean output characters per page and mean milliseconds per page:

- ``ours``: ``ahora.tools.read_page.extract_main_text``, exactly what the tool runs;
- trafilatura variants (default text, Markdown with links, precision, recall);
- readability-lxml + markdownify, whole-page markdownify, whole-page html2text, when
  installed (``pip install readability-lxml markdownify html2text``); skipped otherwise.

Run: ``python benchmarks/bench_extraction.py [--pages 120] [--seed 7]``
"""

from __future__ import annotations

import argparse
import html
import random
import re
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

WORDS = [
    "river",
    "council",
    "budget",
    "school",
    "energy",
    "report",
    "village",
    "market",
    "water",
    "season",
    "rail",
    "museum",
    "harbour",
    "library",
    "bridge",
    "farmers",
    "minister",
    "survey",
    "storm",
    "festival",
    "hospital",
    "grant",
    "study",
    "research",
    "network",
    "climate",
    "station",
    "engineers",
    "residents",
    "project",
    "plan",
    "court",
    "museum",
    "forest",
    "coast",
    "council",
    "tower",
    "garden",
    "valley",
    "island",
    "rain",
    "summer",
    "winter",
    "spring",
    "autumn",
    "policy",
    "data",
    "system",
    "service",
    "software",
    "release",
    "feature",
    "update",
    "version",
    "database",
    "query",
    "server",
    "cluster",
    "cache",
    "index",
    "token",
    "model",
    "tool",
    "agent",
    "thread",
    "budget",
    "tariff",
    "contract",
]
VERBS = [
    "approved",
    "rejected",
    "measured",
    "announced",
    "opened",
    "closed",
    "delayed",
    "expanded",
    "reduced",
    "raised",
    "described",
    "published",
    "recorded",
    "reviewed",
    "confirmed",
    "questioned",
    "replaced",
    "rebuilt",
    "tested",
    "extended",
]
ADJS = [
    "new",
    "old",
    "northern",
    "southern",
    "local",
    "regional",
    "national",
    "annual",
    "early",
    "late",
    "quiet",
    "busy",
    "public",
    "private",
    "small",
    "large",
    "remote",
    "central",
    "coastal",
    "careful",
    "detailed",
    "independent",
]


def sentence(rng: random.Random, tag: int) -> str:
    """A prose-like sentence with a unique number so it cannot appear by chance."""
    n = rng.randint(9, 18)
    words = [rng.choice(WORDS if i % 3 else ADJS) for i in range(n)]
    words.insert(rng.randint(2, 4), rng.choice(VERBS))
    words.insert(rng.randint(5, len(words)), f"{tag}")
    text = " ".join(words)
    return text[0].upper() + text[1:] + "."


@dataclass
class Page:
    kind: str
    html: str
    include: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)


class Builder:
    """Assembles one page, recording which snippets must (not) come out."""

    def __init__(self, rng: random.Random, kind: str) -> None:
        self.rng = rng
        self.kind = kind
        self.tag = rng.randint(1000, 9999) * 1000
        self.include: list[str] = []
        self.exclude: list[str] = []

    def s(self) -> str:
        self.tag += 1
        return sentence(self.rng, self.tag)

    def keep(self, text: str) -> str:
        self.include.append(text)
        return html.escape(text)

    def junk(self, text: str) -> str:
        self.exclude.append(text)
        return html.escape(text)

    # -- boilerplate -------------------------------------------------------------------

    def nav(self) -> str:
        items = "".join(
            f'<li><a href="/{i}">{self.junk(f"Menu {w.title()} {self.tag % 97 + i}")}</a></li>'
            for i, w in enumerate(self.rng.sample(WORDS, self.rng.randint(20, 40)))
        )
        return f'<header class="site-header"><nav class="menu"><ul>{items}</ul></nav></header>'

    def breadcrumbs(self) -> str:
        return (
            f'<div class="breadcrumbs"><a href="/">Home</a> › '
            f'<a href="/s">{self.junk(f"Section crumb {self.tag % 89}")}</a></div>'
        )

    def cookie(self) -> str:
        text = self.junk(f"We use cookies and similar technologies {self.tag % 83} to personalise")
        return (
            f'<div id="cookie-banner" class="cookie-consent"><p>{text} content and ads.</p>'
            "<button>Accept all</button><button>Reject</button></div>"
        )

    def newsletter(self) -> str:
        return (
            '<div class="newsletter"><h3>Newsletter</h3>'
            f"<p>{self.junk(f'Sign up for our weekly briefing number {self.tag % 79}')}</p>"
            '<form><input type="email"><button>Subscribe</button></form></div>'
        )

    def share(self) -> str:
        return (
            f'<div class="share-buttons"><a href="#">{self.junk("Share on Facebook")}</a>'
            '<a href="#">Share on X</a><a href="#">Email this</a></div>'
        )

    def sidebar(self) -> str:
        items = "".join(f'<li><a href="/m{i}">{self.junk(self.s())}</a></li>' for i in range(5))
        ad = self.junk(f"Advertisement: premium membership offer {self.tag % 71}")
        return (
            f'<aside class="sidebar"><h3>Most read</h3><ol>{items}</ol>'
            f'<div class="ad">{ad}</div></aside>'
        )

    def related(self) -> str:
        items = "".join(f'<li><a href="/r{i}">{self.junk(self.s())}</a></li>' for i in range(4))
        return f'<section class="related-articles"><h3>Related</h3><ul>{items}</ul></section>'

    def comments(self) -> str:
        items = "".join(
            f'<div class="comment"><p>{self.junk(self.s())}</p></div>' for _ in range(3)
        )
        return f'<section id="comments" class="comments"><h3>Comments</h3>{items}</section>'

    def footer(self) -> str:
        copyright_ = self.junk(f"Copyright {self.tag % 61} Example Media Group")
        links = "".join(
            f"<li><a href='/f/{w}'>{self.junk(f'Footer {w} link {self.tag % 59}{i}')}</a></li>"
            for i, w in enumerate(self.rng.sample(WORDS, 20))
        )
        return f'<footer class="site-footer"><p>{copyright_}</p><ul>{links}</ul></footer>'

    def scripts(self) -> str:
        return (
            f"<script>var tracker{self.tag % 53} = {{id: 'UA-{self.tag}'}};"
            f" console.log('{self.junk(f'analytics payload {self.tag % 47}')}');</script>"
            '<script type="application/ld+json">{"@type": "NewsArticle"}</script>'
        )

    # -- main content ------------------------------------------------------------------

    def paragraphs(self, n: int) -> str:
        out = []
        for _ in range(n):
            sentences = [self.s() for _ in range(self.rng.randint(2, 4))]
            for s in sentences:
                self.include.append(s)
            out.append("<p>" + " ".join(self.inline(s) for s in sentences) + "</p>")
        return "".join(out)

    def inline(self, s: str) -> str:
        """Real prose links and emphasises words: do so in a third of the sentences."""
        words = html.escape(s).split(" ")
        roll = self.rng.random()
        if roll < 0.25 and len(words) > 6:
            i = self.rng.randint(1, len(words) - 4)
            href = f"https://www.example.org/{self.rng.choice(WORDS)}/{self.tag}-{i}?ref=inline"
            words[i] = f'<a href="{href}">{words[i]}'
            words[i + 2] += "</a>"
        elif roll < 0.35 and len(words) > 4:
            i = self.rng.randint(1, len(words) - 3)
            words[i] = f"<strong>{words[i]}"
            words[i + 1] += "</strong>"
        return " ".join(words)

    def heading(self, level: int = 2) -> str:
        text = self.keep(f"Section {self.tag % 43} on {self.rng.choice(WORDS)}")
        return f"<h{level}>{text}</h{level}>"

    def listing(self) -> str:
        return "<ul>" + "".join(f"<li>{self.keep(self.s())}</li>" for _ in range(3)) + "</ul>"

    def table(self) -> str:
        rows = "".join(
            f"<tr><td>{self.keep(f'Row {self.tag % 41}{i} {w}')}</td><td>{i * 17}</td></tr>"
            for i, w in enumerate(self.rng.sample(WORDS, 3))
        )
        return f"<table><tr><th>Item</th><th>Value</th></tr>{rows}</table>"

    def code(self) -> str:
        ident = f"configure_{self.rng.choice(WORDS)}_{self.tag % 37}"
        self.include.append(f"{ident}(timeout=30)")
        return f"<pre><code>client = Client()\nclient.{ident}(timeout=30)\n</code></pre>"


def news(rng: random.Random) -> Page:
    b = Builder(rng, "news")
    title = b.keep(f"Council {rng.choice(VERBS)} plan for {rng.choice(WORDS)} {b.tag % 31}")
    body = (
        f"<h1>{title}</h1><p class='byline'>By Staff Reporter</p>"
        + b.paragraphs(rng.randint(3, 5))
        + b.heading()
        + b.paragraphs(rng.randint(5, 9))
        + (b.listing() if rng.random() < 0.5 else "")
        + b.paragraphs(rng.randint(3, 6))
    )
    page = (
        f"<html><head><title>{title} | Daily Example</title>{b.scripts()}</head><body>"
        f"{b.cookie()}{b.nav()}{b.breadcrumbs()}<main><article>{body}</article>"
        f"{b.share()}{b.related()}{b.comments()}</main>{b.sidebar()}{b.newsletter()}"
        f"{b.footer()}</body></html>"
    )
    return Page("news", page, b.include, b.exclude)


def blog(rng: random.Random) -> Page:
    b = Builder(rng, "blog")
    title = b.keep(f"What I learned about {rng.choice(WORDS)} in year {b.tag % 29}")
    body = (
        f"<h1 class='entry-title'>{title}</h1>"
        + b.paragraphs(rng.randint(2, 4))
        + b.heading()
        + b.paragraphs(rng.randint(2, 4))
        + (b.code() if rng.random() < 0.5 else "")
        + b.heading()
        + b.paragraphs(rng.randint(2, 4))
    )
    page = (
        f"<html><head><title>{title}</title>{b.scripts()}</head><body>{b.nav()}"
        f"<div class='wrapper'><div class='content'><div class='post'>{body}</div>"
        f"{b.share()}{b.comments()}</div>{b.sidebar()}</div>{b.newsletter()}{b.cookie()}"
        f"{b.footer()}</body></html>"
    )
    return Page("blog", page, b.include, b.exclude)


def docs(rng: random.Random) -> Page:
    b = Builder(rng, "docs")
    title = b.keep(f"Configuring the {rng.choice(WORDS)} client {b.tag % 23}")
    toc = "".join(
        f"<li><a href='/d{i}'>{b.junk(f'Docs page {w} {b.tag % 19}{i}')}</a></li>"
        for i, w in enumerate(rng.sample(WORDS, 10))
    )
    body = (
        f"<h1>{title}</h1>"
        + b.paragraphs(2)
        + b.code()
        + b.heading()
        + b.paragraphs(rng.randint(2, 3))
        + b.table()
        + b.heading()
        + b.paragraphs(rng.randint(2, 3))
        + b.listing()
    )
    page = (
        f"<html><head><title>{title} — Example Docs</title>{b.scripts()}</head><body>"
        f"{b.nav()}<div class='layout'><nav class='docs-sidebar'><ul>{toc}</ul></nav>"
        f"<div role='main' class='document'><div class='body'>{body}</div></div></div>"
        f"<div class='prev-next'><a href='/p'>{b.junk(f'Previous topic {b.tag % 17}')}</a></div>"
        f"{b.footer()}</body></html>"
    )
    return Page("docs", page, b.include, b.exclude)


def institutional(rng: random.Random) -> Page:
    b = Builder(rng, "institutional")
    title = b.keep(f"Applying for the {rng.choice(WORDS)} grant {b.tag % 13}")
    body = (
        f"<h1>{title}</h1>"
        + b.paragraphs(rng.randint(2, 3))
        + b.heading()
        + b.listing()
        + b.paragraphs(rng.randint(2, 3))
        + b.heading()
        + b.paragraphs(rng.randint(2, 3))
    )
    contact = b.junk(f"Call the switchboard on 0100 {b.tag % 11}00")
    page = (
        f"<html><head><title>{title} - City Council</title>{b.scripts()}</head><body>"
        f"{b.cookie()}<div id='top'>{b.nav()}{b.breadcrumbs()}</div>"
        f"<div id='content'><div class='col-main'>{body}</div>"
        f"<div class='col-side'>{b.sidebar()}<p>{contact}</p></div></div>"
        f"<div class='feedback'>{b.junk('Was this page useful? Yes No')}</div>{b.footer()}"
        "</body></html>"
    )
    return Page("institutional", page, b.include, b.exclude)


TEMPLATES = (news, blog, docs, institutional)


def corpus(pages: int, seed: int) -> list[Page]:
    rng = random.Random(seed)
    return [TEMPLATES[i % len(TEMPLATES)](rng) for i in range(pages)]


# --- methods --------------------------------------------------------------------------


def methods() -> dict[str, Callable[[str], str]]:
    import trafilatura

    from ahora.tools.read_page import extract_main_text

    found: dict[str, Callable[[str], str]] = {
        "ours (read_page)": lambda h: extract_main_text(h, "https://example.com/page").text,
        "trafilatura default (txt)": lambda h: trafilatura.extract(h) or "",
        "trafilatura md + links": lambda h: (
            trafilatura.extract(h, output_format="markdown", include_links=True) or ""
        ),
        "trafilatura md precision": lambda h: (
            trafilatura.extract(h, output_format="markdown", favor_precision=True) or ""
        ),
        "trafilatura md recall": lambda h: (
            trafilatura.extract(h, output_format="markdown", favor_recall=True) or ""
        ),
    }
    try:
        from markdownify import markdownify
        from readability import Document

        found["readability + markdownify"] = lambda h: markdownify(Document(h).summary())
        found["markdownify whole page"] = lambda h: markdownify(h)
    except ImportError:
        print("(skipping readability/markdownify: not installed)", file=sys.stderr)
    try:
        import html2text

        found["html2text whole page"] = lambda h: html2text.html2text(h)
    except ImportError:
        print("(skipping html2text: not installed)", file=sys.stderr)
    return found


def normalise(text: str) -> str:
    text = html.unescape(text)
    text = re.sub(r"\]\([^)]*\)", "]", text)  # Markdown link targets: keep the link text
    text = re.sub(r"[*_`#>\\|\[\]]", " ", text)
    return re.sub(r"\s+", " ", text).strip().lower()


def score(fn: Callable[[str], str], pages: list[Page]) -> tuple[float, float, float, float, float]:
    tp = fp = fn_ = 0
    chars: list[int] = []
    started = time.perf_counter()
    for page in pages:
        raw = fn(page.html)
        chars.append(len(raw))
        out = normalise(raw)
        hits = [normalise(s) in out for s in page.include]
        tp += sum(hits)
        fn_ += len(hits) - sum(hits)
        fp += sum(normalise(s) in out for s in page.exclude)
    ms = (time.perf_counter() - started) * 1000 / len(pages)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn_) if tp + fn_ else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1, statistics.mean(chars), ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pages", type=int, default=120)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    pages = corpus(args.pages, args.seed)
    sizes = [len(p.html) for p in pages]
    print(
        f"{len(pages)} pages ({', '.join(t.__name__ for t in TEMPLATES)}), "
        f"HTML {statistics.mean(sizes) / 1000:.1f} kB mean, "
        f"{statistics.mean(len(p.include) for p in pages):.0f} must-include and "
        f"{statistics.mean(len(p.exclude) for p in pages):.0f} must-exclude snippets per page"
    )
    print(f"{'method':28} {'precision':>9} {'recall':>7} {'F1':>6} {'chars':>7} {'ms/page':>8}")
    for name, fn in methods().items():
        p, r, f1, chars, ms = score(fn, pages)
        print(f"{name:28} {p:9.3f} {r:7.3f} {f1:6.3f} {chars:7.0f} {ms:8.1f}")


if __name__ == "__main__":
    main()
