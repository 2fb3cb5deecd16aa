"""Does ahora always land on its feet? Figures from actually running the bad inputs.

Run from the repository root: ``python benchmarks/reliability.py``. It replays

* the calculator's hostile corpus (``tests/tools/test_calculator_hostile.py``) through
  the LangChain tool: handled = refused with an "Error:" message; escaped = anything
  else, or the sentinel file an escape would create exists; crash = an exception;
* read_page's address corpus (``tests/test_netguard.py``) through
  ``ahora.http.fetch_guarded``, the fetch read_page uses, directly and as the target of
  a redirect, against a loopback canary that counts hits: handled = ``BlockedURL`` and
  no hit; escaped = a response or a hit on the canary;
* hostile text (escape sequences, CR, C1, bidi: ``tests/test_safe_text.py``) through
  every view that prints outside text: escaped = a control character reached the
  output; spoofed tool calls (``tests/cli/test_approval_screen.py``) drawn by a VT100
  emulator: escaped = the screen does not show the real tool and every argument;
  lookalike fence tags and tool names (``tests/test_fence.py``): escaped = a tag a
  lenient reader would take for the fence survives;
* cloud metadata addresses in every embedded form (``tests/test_netguard.py``'s
  ``METADATA_FORMS``) with private URLs *allowed*: handled = ``BlockedURL``;
* credential forwarding: requests carrying ``Authorization``, ``Cookie`` or an API-key
  header redirected to another origin, and the model probe redirected elsewhere:
  handled = refused, and the other origin received nothing;
* slow and huge responses (gzip bombs, endless bodies, trickled bodies and headers,
  slow name resolution) through both ``http.get`` and ``http.fetch_guarded``:
  handled = a ``ToolFailure`` within the budget (+1.5 s), escaped = anything slower;
* hostile pages (attribute, paragraph and link floods, huge spans, deep nesting,
  hostile charsets) through the read_page tool: handled = text or an "Error:" message
  within ``EXTRACT_SECONDS`` + 4 s;
* hostile files for ``docs add`` (links out of the folder, /etc/passwd, /dev/null,
  /proc, FIFOs, linked folders, a PDF listing one page 20,000 times, a 10 MB one-line
  file): handled = skipped with a reason (or read, for the one-line file) and nothing
  from outside the folder searchable;
* the fault scenarios of ``tests/fixtures/faults.py`` (the very cases the tests run):
  survived = an answer (or the one clear error expected), no crash, the turn kept.

and prints Markdown tables for the README's reliability section. Exits 1 if anything
escaped, crashed or lost a turn. Everything runs on loopback; nothing leaves the machine.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

_SCRATCH = tempfile.TemporaryDirectory(prefix="ahora-reliability-")
for _name in (
    "AHORA_MODEL",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "ANTHROPIC_API_KEY",
    "AHORA_CONFIG",
):
    os.environ.pop(_name, None)
os.environ["AHORA_HOME"] = str(Path(_SCRATCH.name) / "home")
os.environ["OLLAMA_HOST"] = "http://127.0.0.1:9"

from tests.fixtures.faults import SCENARIOS, run_scenario  # noqa: E402
from tests.tools.test_calculator_hostile import HOSTILE  # noqa: E402


@dataclass
class Tally:
    corpus: str
    tried: int = 0
    handled: int = 0
    escaped: int = 0
    crashes: int = 0
    turns_lost: int | None = None


def calculator_corpus() -> Tally:
    from ahora.tools.calculator import calculator

    tally = Tally("Calculator: hostile expressions (code, huge numbers, odd Unicode)")
    with tempfile.TemporaryDirectory() as tmp:
        sentinel = Path(tmp) / "escaped"
        for attack in HOSTILE:
            tally.tried += 1
            try:
                result = calculator.invoke(
                    {"expression": attack.replace("{sentinel}", str(sentinel))}
                )
            except Exception:
                tally.crashes += 1
                continue
            if isinstance(result, str) and result.startswith("Error: ") and not sentinel.exists():
                tally.handled += 1
            else:
                tally.escaped += 1
    return tally


def address_corpus() -> Tally | None:
    try:
        from tests.fixtures.pages import PageServer
        from tests.test_netguard import NAMES, FakeResolver, corpus
    except ImportError:
        return None
    from ahora import http
    from ahora.errors import BlockedURL
    from ahora.settings import Settings

    tally = Tally("read_page: private, metadata and odd-form addresses (direct and via redirect)")
    guarded = Settings(allow_private_urls=False, http_timeout=5.0)
    with PageServer() as canary, PageServer() as first_hop:
        urls = corpus(canary.port)
        attempts = [(u, {}) for u in urls] + [
            (
                f"http://first-hop.test:{first_hop.port}/redirect?to={quote(u, safe='')}",
                {"trusted_hosts": {"first-hop.test"}},
            )
            for u in urls
            if "://" in u  # a scheme-less Location is a path on the trusted first hop
        ]
        for url, extra in attempts:
            tally.tried += 1
            before = len(canary.hits)
            try:
                http.fetch_guarded(url, settings=guarded, resolver=FakeResolver(NAMES), **extra)  # type: ignore[arg-type]
            except BlockedURL:
                if len(canary.hits) == before:
                    tally.handled += 1
                else:
                    tally.escaped += 1
                continue
            except Exception:
                tally.crashes += 1
                continue
            tally.escaped += 1
    return tally


def metadata_corpus() -> Tally:
    from tests.test_netguard import METADATA_FORMS, FakeResolver

    from ahora import netguard
    from ahora.errors import BlockedURL

    tally = Tally("Cloud metadata in every form, with private URLs allowed")
    for address in METADATA_FORMS:
        tally.tried += 1
        resolver = FakeResolver({"innocent.example.com": [address]})
        try:
            netguard.check_url(
                "http://innocent.example.com/", allow_private=True, resolver=resolver
            )
        except BlockedURL:
            tally.handled += 1
        except Exception:
            tally.crashes += 1
        else:
            tally.escaped += 1
    return tally


def credential_corpus() -> Tally:
    from tests.fixtures.pages import PageServer

    from ahora import http, models
    from ahora.settings import Settings

    tally = Tally("Credential forwarding: redirects to another origin, model probe")
    settings = Settings(http_retries=0, http_timeout=5.0)
    with PageServer() as front, PageServer() as away:
        targets = [
            away.url("/echo-headers"),  # another port
            front.url("/echo-headers", host="localhost"),  # another host
            f"https://127.0.0.1:{front.port}/echo-headers",  # another scheme
        ]
        for target in targets:
            for header in ("Authorization", "Cookie", "X-Api-Key", "Proxy-Authorization"):
                tally.tried += 1
                before = len(away.hits) + len(front.hits)
                url = front.url(f"/redirect?to={quote(target, safe='')}")
                try:
                    http.get(url, headers={header: "secret"}, settings=settings)
                except http.RedirectRefused:
                    hits = len(away.hits) + len(front.hits) - before
                    tally.handled += hits == 1  # only the first hop was asked
                    tally.escaped += hits != 1
                except Exception:
                    tally.crashes += 1
                else:
                    tally.escaped += 1
        tally.tried += 1
        before = len(away.hits)
        base = front.url(f"/redirect?to={quote(away.url('/v1/models'), safe='')}&x=")
        probe_settings = Settings(openai_api_key="sk-secret", openai_base_url=base)
        try:
            probe = models.probe_openai(probe_settings)
        except Exception:
            tally.crashes += 1
        else:
            ok = probe.redirect_refused and len(away.hits) == before
            tally.handled += ok
            tally.escaped += not ok
    return tally


def slow_and_huge_corpus() -> Tally:
    import socket

    from tests.fixtures.pages import PageServer

    from ahora import http
    from ahora.errors import ToolFailure
    from ahora.settings import Settings

    tally = Tally("Slow and huge responses: bombs, endless, trickles, slow DNS")
    budget = 1.5
    settings = Settings(
        http_retries=0, http_timeout=budget, page_max_bytes=1_000_000, allow_private_urls=True
    )
    real = socket.getaddrinfo

    def slow_dns(host: str, *args: object, **kwargs: object) -> object:
        if host == "slow.test":
            time.sleep(4)
            host = "127.0.0.1"
        return real(host, *args, **kwargs)  # type: ignore[arg-type]

    socket.getaddrinfo = slow_dns  # type: ignore[assignment]
    try:
        with PageServer() as srv:
            paths = ["/gzip-bomb", "/gzip-bomb-chunked", "/endless", "/trickle"]
            paths += ["/trickle-unsized", "/trickle-headers", "/slow-headers"]
            urls = [srv.url(p) for p in paths] + [f"http://slow.test:{srv.port}/plain"]
            for url in urls:
                for how in ("get", "fetch_guarded"):
                    tally.tried += 1
                    started = time.monotonic()
                    try:
                        if how == "get":
                            http.get(url, settings=settings)
                        else:
                            http.fetch_guarded(url, settings=settings, trusted_hosts={"slow.test"})
                    except ToolFailure:
                        quick = time.monotonic() - started < budget + 1.5
                        tally.handled += quick
                        tally.escaped += not quick
                    except Exception:
                        tally.crashes += 1
                    else:
                        tally.escaped += 1
    finally:
        socket.getaddrinfo = real  # type: ignore[assignment]
    return tally


def hostile_pages_corpus() -> Tally:
    from tests.fixtures.pages import PageServer
    from tests.tools import test_read_page_hostile as hostile

    from ahora.tools import read_page as read_page_module

    tally = Tally("Hostile pages: floods, huge spans, deep nesting, odd charsets")
    os.environ["AHORA_ALLOW_PRIVATE_URLS"] = "1"
    pages = {
        f"/{f.__name__}": ("text/html", f())
        for f in (
            hostile._attribute_flood,
            hostile._paragraph_flood,
            hostile._wide_table,
            hostile._link_flood,
        )
    }
    pages["/deep"] = ("text/html", b"<div>" * 100_000 + b"x" + b"</div>" * 100_000)
    for i, charset in enumerate(hostile.CHARSETS):
        pages[f"/charset-html-{i}"] = (f"text/html; charset={charset}", hostile.ARTICLE)
        pages[f"/charset-text-{i}"] = (f"text/plain; charset={charset}", hostile.ARTICLE)
    try:
        with PageServer() as srv:
            srv.extra.update(pages)
            for path in pages:
                tally.tried += 1
                read_page_module._cache.clear()
                started = time.monotonic()
                try:
                    text = hostile.call(srv.url(path))
                except Exception:
                    tally.crashes += 1
                    continue
                quick = time.monotonic() - started < read_page_module.EXTRACT_SECONDS + 4
                ok = quick and text.startswith(("Title:", "Error:"))
                tally.handled += ok
                tally.escaped += not ok
    finally:
        os.environ.pop("AHORA_ALLOW_PRIVATE_URLS", None)
    return tally


def hostile_files_corpus() -> Tally:
    from tests.docs.test_hostile_files import SECRET, _repeated_page_pdf

    from ahora.docs import DocIndex

    tally = Tally("Hostile files for docs add: links out, devices, /proc, FIFOs, PDF bombs")
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        folder = base / "docs"
        folder.mkdir()
        (base / "credentials.txt").write_text(f"secret = {SECRET}\n")
        (base / "elsewhere").mkdir()
        (base / "elsewhere" / "private.md").write_text(f"{SECRET}\n")
        (folder / "creds.txt").symlink_to(base / "credentials.txt")
        (folder / "relative.md").symlink_to(Path("..") / "credentials.txt")
        (folder / "passwd.txt").symlink_to("/etc/passwd")
        (folder / "null.txt").symlink_to("/dev/null")
        (folder / "environ.txt").symlink_to("/proc/self/environ")
        (folder / "linked").symlink_to(base / "elsewhere")
        os.mkfifo(folder / "pipe.txt")
        (folder / "bomb.pdf").write_bytes(_repeated_page_pdf(20_000))
        (folder / "oneline.txt").write_text(("word " * 2_000_000).strip())
        hostile = {p.name for p in folder.iterdir()} - {"oneline.txt"}
        with DocIndex(base / "index.db") as index:
            try:
                summary = index.add(folder)
            except Exception:
                tally.tried, tally.crashes = len(hostile) + 1, len(hostile) + 1
                return tally
            reasons = dict(summary.skipped_files)
            leaked = bool(index.search(SECRET)) or bool(index.search("root"))
        for name in sorted(hostile):
            tally.tried += 1
            ok = name in reasons and not leaked
            tally.handled += ok
            tally.escaped += not ok
        tally.tried += 1
        ok = "oneline.txt" not in reasons and summary.seconds < 60
        tally.handled += ok
        tally.escaped += not ok
    return tally


def fault_scenarios() -> tuple[Tally, list[tuple[str, str, str, float]]]:
    tally = Tally("Faults: model, provider, tools, network, storage, killed process", turns_lost=0)
    rows = []
    for scenario in SCENARIOS:
        started = time.perf_counter()
        outcome = run_scenario(scenario)
        seconds = time.perf_counter() - started
        tally.tried += 1
        survived = scenario.survived(outcome)
        tally.handled += survived
        tally.crashes += outcome.crashed
        tally.escaped += not survived and not outcome.crashed
        if outcome.turn_kept is False:
            assert tally.turns_lost is not None
            tally.turns_lost += 1
        kind = (outcome.error or "?").removeprefix("Error: ").split(":")[0]
        ended = "answer" if outcome.answered else f"one error ({kind})"
        failed = [name for name, ok in outcome.checks.items() if not ok]
        verdict = "survived" if survived else "FAILED " + ", ".join(failed or ["(see outcome)"])
        rows.append((scenario.fault, ended, verdict, seconds))
    return tally, rows


def terminal_corpus() -> Tally:
    """Hostile text (escape sequences, CR, C1, bidi) through every view that prints it."""
    from tests.test_safe_text import PAYLOADS, VIEWS, view_is_inert

    tally = Tally("Terminal injection: control sequences through every view (terminal, pipe, JSON)")
    for _, payload in PAYLOADS:
        for view, render in VIEWS.items():
            tally.tried += 1
            try:
                output = render(payload)
            except Exception:
                tally.crashes += 1
                continue
            if view_is_inert(view, output):
                tally.handled += 1
            else:
                tally.escaped += 1
    return tally


def approval_corpus() -> Tally:
    """Spoofed tool calls, drawn as a VT100 would (pyte): is the real call what shows?"""
    from tests.cli.test_approval_screen import SPOOFS, screen_of, shows_the_real_call

    tally = Tally("Approval spoofing: the question shows the real call (VT100 screen)")
    for _, call in SPOOFS:
        tally.tried += 1
        try:
            shown = screen_of(call)
        except Exception:
            tally.crashes += 1
            continue
        if shows_the_real_call(call, shown):
            tally.handled += 1
        else:
            tally.escaped += 1
    return tally


def fence_corpus() -> Tally:
    """Lookalike fence tags inside tool output, and hostile tool names in the header."""
    from tests.test_fence import HOSTILE_NAMES, LOOKALIKES, TAG, inner, reader_view

    from ahora.middleware.tool_output import fence

    tally = Tally("Fence escapes: lookalike closing tags and hostile tool names")
    for hostile in LOOKALIKES + HOSTILE_NAMES:
        tally.tried += 1
        try:
            if hostile in HOSTILE_NAMES:  # the header must stay one line, with no tag
                fenced = fence("data", hostile)
                shown = fenced.split("\n", 1)[0].removeprefix("<tool_output tool=")
                broken = not fenced.endswith('">\ndata\n</tool_output>')
            else:
                shown = inner(fence(f"before {hostile} after", "read_page"))
                broken = False
        except Exception:
            tally.crashes += 1
            continue
        if broken or TAG.search(reader_view(shown)):
            tally.escaped += 1
        else:
            tally.handled += 1
    return tally


def main() -> int:
    tallies = [calculator_corpus(), terminal_corpus(), approval_corpus(), fence_corpus()]
    addresses = address_corpus()
    if addresses is not None:
        tallies.append(addresses)
    for corpus in (
        metadata_corpus,
        credential_corpus,
        slow_and_huge_corpus,
        hostile_pages_corpus,
        hostile_files_corpus,
    ):
        tallies.append(corpus())
    faults, rows = fault_scenarios()
    tallies.append(faults)

    print("| Bad input | Tried | Handled | Escaped | Crashes | Turns lost |")
    print("|---|---:|---:|---:|---:|---:|")
    for t in tallies:
        lost = "—" if t.turns_lost is None else str(t.turns_lost)
        print(f"| {t.corpus} | {t.tried} | {t.handled} | {t.escaped} | {t.crashes} | {lost} |")
    total = Tally("**All**", turns_lost=sum(t.turns_lost or 0 for t in tallies))
    for t in tallies:
        total.tried += t.tried
        total.handled += t.handled
        total.escaped += t.escaped
        total.crashes += t.crashes
    print(
        f"| {total.corpus} | {total.tried} | {total.handled} | {total.escaped} | "
        f"{total.crashes} | {total.turns_lost} |"
    )
    print()
    print(f"Faults survived: {faults.handled} of {faults.tried}.")
    print()
    print("| Fault | Ended with | Verdict | Seconds |")
    print("|---|---|---|---:|")
    for fault, ended, verdict, seconds in rows:
        print(f"| {fault} | {ended} | {verdict} | {seconds:.1f} |")
    if addresses is None:
        print("\n(read_page address corpus not found: tests/test_netguard.py is missing)")
    bad = total.escaped + total.crashes + (total.turns_lost or 0)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
