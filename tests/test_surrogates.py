"""Lone surrogates from outside are replaced where they enter (issue 18, item 12): a
model reply, a tool result or a search hit with ``\\ud800`` no longer ends the turn in
``UnicodeEncodeError`` (the thread index, the search store, the terminal)."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from ahora import Agent
from ahora.safe_text import clean, json_text
from ahora.settings import Settings
from ahora.testing import ScriptedChatModel, tool_call
from ahora.threads.index import ThreadIndex
from ahora.tools.web_search import web_search
from tests.fixtures.fake_ddgs import DDGSScript, fake_ddgs  # noqa: F401  (the fixture)

LONE = "\ud800"


def test_a_model_reply_with_a_lone_surrogate_is_saved(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    model = ScriptedChatModel(replies=[f"Half a character: {LONE}, and a pair \ud83d\ude00."])
    answer = Agent(model, [], threads=True, settings=settings).ask("hi")
    assert answer.text == "Half a character: \ufffd, and a pair \U0001f600."
    [thread] = ThreadIndex.for_settings(settings).list()
    assert thread.turns == 1  # the turn was recorded, not left at 0


def test_tool_results_and_arguments_with_lone_surrogates(tmp_path: Path) -> None:
    def page(url: str) -> str:
        """Read a page."""
        return f"page text {LONE}\udfff end"

    model = ScriptedChatModel(
        replies=[tool_call("page", {"url": f"https://a.example/{LONE}"}), "Done."]
    )
    answer = Agent(model, [page], threads=True, settings=Settings(home=tmp_path)).ask("read")
    assert answer.text == "Done."
    assert answer.tool_calls[0]["args"]["url"] == "https://a.example/\ufffd"
    seen = json.dumps([m.content for m in answer.messages], ensure_ascii=False)
    seen.encode("utf-8")  # nothing unencodable left anywhere in the conversation


def test_a_search_hit_with_a_lone_surrogate(fake_ddgs: DDGSScript, tmp_path: Path) -> None:  # noqa: F811
    fake_ddgs.push(
        [{"title": f"bad {LONE} title", "href": f"https://a.example/{LONE}", "body": f"b{LONE}"}]
    )
    out = web_search.invoke({"query": f"q {LONE}", "max_results": 3})
    text = out if isinstance(out, str) else json.dumps(out, ensure_ascii=False)
    assert "bad \ufffd title" in text
    text.encode("utf-8")


@given(st.text(alphabet=st.characters(codec=None, categories=["Cs", "L", "Zs", "Cc"])))
def test_shown_text_is_always_encodable(text: str) -> None:
    from ahora.safe_text import no_surrogates

    for shown in (clean(text), clean(text, one_line=True), no_surrogates(text)):
        shown.encode("utf-8")
    dumped = json_text(json.dumps({"t": text}, ensure_ascii=False))
    dumped.encode("utf-8")
    assert json.loads(dumped) == {"t": text}  # same data
