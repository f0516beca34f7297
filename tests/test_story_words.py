"""Before a post's reveal (front matter `reveal: HEADING`), its figures speak the story: a room, seats,
badges, notes and a notebook; from the heading on, the kernel's names. Both are read back and held
to the trace by the figure check (netsim.render.figfacts)."""

from __future__ import annotations

import html
import re
from pathlib import Path

import golden
import jinja2
import pytest

from netsim.pages.book import Book
from netsim.pages.macros import Page, split_front_matter
from netsim.render import figfacts, graph, tables, ticks
from netsim.render.words import capital, step_caption
from netsim.scenario import load_scenario
from netsim.simulation import run

ROOT = Path(__file__).resolve().parent.parent
REAL_WORDS = ("test frame", "flood", "podman0", "bridge fdb show", "MAC table", "(port)", "seat5", "decision")


def page_text(calls: str, reveal: str = "The real names", key: str = "reveal") -> tuple[str, Page]:
    """A page of margarets-room: `calls`, then the reveal's heading, then the same calls again."""
    source = f"---\nscenario: margarets-room\n{key}: {reveal}\n---\n\n{calls}\n\n## The real names\n\n{calls}\n"
    _meta, body = split_front_matter(source)
    page = Page(Book(ROOT), "page.md", source, "margarets-room")
    out = jinja2.Environment(undefined=jinja2.ChainableUndefined).from_string(body).render(**page.functions())
    for marker, inside in page.set_aside.items():
        out = out.replace(marker, inside)
    return out, page


def visible(part: str) -> str:
    """The words a reader sees: the text of the HTML and of the SVG, without tags or attributes."""
    return html.unescape(re.sub(r"<[^>]+>", " ", part))


def test_a_figure_before_the_reveal_speaks_the_story_and_after_it_the_kernel() -> None:
    out, page = page_text('{{ figure("bob-writes-to-alice") }}')
    assert not page.errors, page.errors
    before, after = out.split("The real names")
    story, real = visible(before), visible(after)
    for word in REAL_WORDS:
        assert word not in story, word
    for word in ("note", "copy", "badge not in the notebook", "the laptop's seat", "The notebook of Margaret's room"):
        assert word in story, word
    for word in ("test frame", "flood", "podman0 (the laptop's seat)", "bridge fdb show", "seat5"):
        assert word in real, word


def test_post_one_names_its_reveal() -> None:
    meta, _body = split_front_matter((ROOT / "docs" / "posts" / "margarets-room.md").read_text(encoding="utf-8"))
    assert meta["reveal"] == "The real names"


def test_a_reveal_that_names_no_heading_is_a_clear_error() -> None:
    _out, page = page_text('{{ figure("bob-writes-to-alice") }}', reveal="The unreal names")
    assert page.errors
    assert str(page.errors[0]) == (
        "page.md:3: reveal: 'The unreal names' is no heading of this page; expected the heading's text"
    )


@pytest.mark.parametrize("key", ['"reveal"', "'reveal'", "reveal "])
def test_a_reveal_under_a_quoted_key_names_the_key_s_line(key: str) -> None:
    # Text after the front matter that says "reveal:" must not be taken for the key either.
    _out, page = page_text('reveal: {{ figure("bob-writes-to-alice") }}', reveal="The unreal names", key=key)
    assert page.errors
    assert str(page.errors[0]) == (
        "page.md:3: reveal: 'The unreal names' is no heading of this page; expected the heading's text"
    )


def test_a_step_the_story_has_no_words_for_must_come_after_the_reveal() -> None:
    # ARP is named in post one after the reveal: before it, the story has no word for it.
    _out, page = page_text('{{ figure("bob-asks-for-toasters") }}')
    assert len(page.errors) == 1
    assert "the story has no word for a 'ARP who-has 10.88.0.3 tell 10.88.0.5'" in str(page.errors[0])


def test_the_figure_check_reads_the_story_words_back() -> None:
    """A story figure whose words say a different decision than the trace fails the figure check."""
    scenario = load_scenario(ROOT / "diagrams" / "margarets-room.yaml")
    step = run(scenario).step("alice-replies")  # a forward: "hand on"
    svg = graph.room(scenario, step, story=True)
    caption = step_caption(scenario, step, story=True)
    notebook = tables.fdb_table(scenario, step, story=True)
    assert figfacts.check(scenario, step, svg, caption, notebook) == []
    assert figfacts.check(scenario, step, svg.replace("hand on", "copy"), caption, notebook)
    assert figfacts.check(scenario, step, svg, caption.replace("handed to", "copied to"), notebook)
    wrong_seat = notebook.replace('data-port="seat3"', 'data-port="seat7"')
    assert wrong_seat != notebook
    assert figfacts.check(scenario, step, svg, caption, wrong_seat)


# The kernel's names a tick may not use before the reveal (whole words: "Portainer" is a name).
KERNEL_WORDS = re.compile(r"\b(frames?|MAC|bridge|flood\w*|forward\w*|connect\(\)|ARP|ports?|fdb|SYN|RST|podman0)\b")


def tips(part: str) -> list[str]:
    """The sentences the ticks and set-up marks of a piece of page say when pressed."""
    return [html.unescape(t) for t in re.findall(r'data-tip="([^"]*)"', part)]


def test_a_tick_before_the_reveal_speaks_the_story_and_after_it_the_kernel() -> None:
    call = '{{ claim("bob-writes-to-alice", decision="flood", learns={"bob": "seat5"}) }}'
    out, page = page_text(call + ' {{ claim("terminal-curl", outcome="connected") }}')
    assert not page.errors, page.errors
    before, after = out.split("The real names")
    story, real = tips(before), tips(after)
    assert len(story) == len(real) == 2
    for tip in story:
        assert not KERNEL_WORDS.search(tip), tip
    assert "the receptionist hands a copy to every other seat" in story[0]
    assert "the notebook gains Bob at seat 5" in story[0]
    assert "the knock is answered" in story[1]
    assert "the bridge floods the frame" in real[0] and "MAC table" in real[0]
    assert "connect() succeeds" in real[1]


def test_every_tick_before_post_one_s_reveal_speaks_the_story() -> None:
    """The post's own claims before its reveal, rendered where they stand: no kernel word in a tip."""
    source = (ROOT / "docs" / "posts" / "margarets-room.md").read_text(encoding="utf-8")
    _meta, body = split_front_matter(source)
    story_part = body.split("\n## The real names\n")[0]
    calls = re.findall(r"\{\{ (?:claim|given)\(.*?\) \}\}", story_part)
    assert len(calls) >= 8, calls  # the morning at the table is all claimed
    out, page = page_text("\n".join(calls))
    assert not page.errors, page.errors
    before = out.split("The real names")[0]
    said = tips(before)
    assert len(said) == len(calls)
    for tip in said:
        assert not KERNEL_WORDS.search(tip), tip


def test_a_claim_the_story_has_no_words_for_must_come_after_the_reveal() -> None:
    _out, page = page_text('{{ claim("portainer-connects", counts={"SYN": 1, "RST": 1}) }}')
    assert len(page.errors) == 1  # after the reveal the same claim is fine
    assert "the story has no words for counts: put this claim after the reveal" in str(page.errors[0])


def test_the_reveal_is_a_heading_as_markdown_reads_one() -> None:
    from netsim.pages.macros import headings

    source = (
        "---\n# The real names (a YAML comment)\nreveal: The real names\n---\n\n"
        "```sh\n# The real names\n```\n\n"  # a shell comment in a code block: not a heading
        "~~~~\n```\n## The real names\n~~~~\n\n"  # a shorter fence of the other kind does not close it
        "#The real names\n\n"  # no space after the hashes: a paragraph
        "## The real names ##\n"  # a closing run of hashes is not part of the text
    )
    assert headings(source) == {"The real names": 17}
    assert headings("# One\n    # indented four: code\n   ### Two   #  \n") == {"One": 1, "Two": 3}


def test_a_heading_inside_code_does_not_start_the_reveal() -> None:
    # The first "## The real names" is inside a fenced block: the figure under it is still the story's.
    calls = '{{ figure("bob-writes-to-alice") }}'
    source = (
        f"---\nscenario: margarets-room\nreveal: The real names\n---\n\n"
        f"```\n## The real names\n```\n\n{calls}\n\n## The real names\n\n{calls}\n"
    )
    _meta, body = split_front_matter(source)
    page = Page(Book(ROOT), "page.md", source, "margarets-room")
    out = jinja2.Environment(undefined=jinja2.ChainableUndefined).from_string(body).render(**page.functions())
    for marker, inside in page.set_aside.items():
        out = out.replace(marker, inside)
    story, real = out.rsplit("## The real names", 1)
    assert not page.errors
    assert "seat5" not in visible(story) and "seat5" in visible(real)


def test_a_story_caption_names_the_magic_badge_once() -> None:
    # A broadcast note in the story: "Alice's note for the magic badge: copied to ...", not "... for the
    # magic badge for the magic badge" (an adversary's finding).
    from netsim.scenario import parse_scenario
    from tests.test_scenario_errors import GOOD

    scenario = parse_scenario(GOOD.replace("seat3: {label: seat 3}", "seat3: {label: seat 3}\n      seat4: {}"))
    caption = step_caption(scenario, run(scenario).steps[0], story=True)
    assert "for the magic badge for" not in caption, caption
    assert caption.startswith("Alice's note for the magic badge: "), caption


MARGARET = load_scenario(ROOT / "diagrams" / "margarets-room.yaml")


@pytest.mark.parametrize(
    ("facts", "said"),
    [
        # a cold reader found "bob None" (Python's None, a raw host id) in post one's ticks
        (
            {"neighbours": {"portainer": {"bob": None}, "laptop": {"bob": None}}},
            "in the ARP tables, the Portainer container has no entry for Bob; the laptop has no entry for Bob",
        ),
        (
            {"neighbours": {"carlos": {"bob": None, "alice": None}, "bob": {"alice": "REACHABLE"}}},
            "in the ARP tables, Carlos has no entry for Bob or Alice; Bob has Alice REACHABLE",
        ),
        ({"frames": 1}, "1 frame crosses the bridge"),  # not "1 frame cross"
        ({"frames": 2}, "2 frames cross the bridge"),
        ({"counts": {"SYN": 1}}, "1 SYN crosses the bridge"),
        ({"counts": {"SYN": 1, "RST": 1}}, "1 SYN and 1 RST cross the bridge"),
        ({"crossed": {"podman0": 1}}, "1 frame crosses podman0"),
        # "the addresses are the container: lo ." for an empty list
        ({"addresses": {"portainer": {"lo": []}}}, "the Portainer container's lo has no address"),
        (
            {"links": {"portainer": {"eth0": "DOWN", "lo": "UP"}}},
            "the Portainer container's eth0 is DOWN and its lo is UP",
        ),
        ({"listening": {"laptop": []}}, "nothing listens on the laptop"),
        ({"listening": {"laptop": ["10.88.0.1:19001"]}}, "the laptop listens on 10.88.0.1:19001"),
        (
            {"cable": {"laptop": {"seat9": "portainer/eth0"}}},
            "the laptop's seat9 is cabled to the Portainer container's eth0",
        ),
        ({"routes": {"portainer": []}}, "the Portainer container's routing table is empty"),
        (
            {"ip": {"src": "10.88.0.2", "dst": "10.88.0.1"}},
            "its IP header reads 10.88.0.2 to 10.88.0.1",
        ),  # no "TTL None"
        ({"carries": "RST"}, "it carries an RST"),
        ({"carries": "SYN"}, "it carries a SYN"),
        ({"carries": "ICMP port unreachable"}, "it carries an ICMP port unreachable"),
        ({"carries": "DNS query"}, "it carries a DNS query"),
        ({"udp": {"dport": 53}}, "its UDP destination port is 53"),
    ],
)
def test_a_tick_says_its_facts_in_reader_words(facts: dict, said: str) -> None:
    assert ticks.sentence(MARGARET, facts) == f"Checked: in the simulation, {said}."


@pytest.mark.parametrize(
    ("facts", "said"),
    [
        ({"frame": 0, "ip": {"ttl": 63}}, "in frame 1, its IP header has TTL 63"),
        ({"ip": {"dst": "10.88.0.1", "ttl": 64}}, "its IP header reads to 10.88.0.1 with TTL 64"),
        ({"ip": {"src": "10.88.0.2"}}, "its IP header reads from 10.88.0.2"),
        ({"outcome": "on-fire"}, "connect() gets on-fire"),
        ({"reads": "garbage"}, "a read() gets garbage"),
        ({"ssh_says": []}, "ssh says nothing"),
        ({"ssh_says": ["a", "b"]}, "ssh says \u2018a\u2019 and \u2018b\u2019"),
        ({"learns": {}}, "the MAC table learns nothing new"),
        # A fact with no words of its own is still said, names as the reader knows them.
        ({"mood": "alice"}, "mood: Alice"),
        ({"mood": ["alice", "bob"]}, "mood: Alice and Bob"),
        ({"mood": 3}, "mood: 3"),
        (
            {"sitting": {"alice": "bob", "carlos": 7, "portainer": ["seat3", "x"]}},
            "sitting: Alice: Bob; Carlos: 7; the Portainer container: seat3, x",
        ),
        ({"sitting": {}}, "sitting: nothing"),
        ({"rewrites": []}, "NAT rewrites nothing"),
    ],
)
def test_a_tick_says_facts_no_post_uses_yet_in_reader_words(facts: dict, said: str) -> None:
    """The words for facts the posts' claims do not reach (the golden sentences hold the rest): a new
    post's first claim of a kind reads right, and a fact netsim has no words for is still said."""
    assert ticks.sentence(MARGARET, facts) == f"Checked: in the simulation, {said}."


def test_before_the_reveal_a_tick_counts_notes_not_frames() -> None:
    said = ticks.sentence(MARGARET, {"frame": 1, "decision": "forward"}, story=True)
    assert said == "Checked: in the simulation, in note 2, the receptionist hands the note to one seat."


def test_before_the_reveal_a_tick_says_whether_the_host_s_seat_gets_the_note() -> None:
    assert ticks.sentence(MARGARET, {"to_host": True}, story=True).endswith("the host's seat gets it.")
    assert ticks.sentence(MARGARET, {"to_host": False}, story=True).endswith("the host's seat does not get it.")


def test_a_caption_says_an_outcome_in_the_kernel_s_words() -> None:
    """Captions once showed netsim's ids ("connect(): network-unreachable.", "bind(): address-in-use.");
    they say what strerror() says, with the errno, as the ticks and the prose do."""
    seen = {}
    for name in ("margarets-room", "rooms-inside-rooms", "three-ways-to-say-no", "the-doormans-address"):
        scenario = load_scenario(ROOT / "diagrams" / f"{name}.yaml")
        for step in run(scenario).steps:
            if step.outcome and step.outcome != "deadline":
                caption = step_caption(scenario, step)
                assert not re.search(r"\b[a-z]+-[a-z]+(?:-[a-z]+)*\.$", caption), caption
                seen[step.outcome] = caption.rsplit(": ", 1)[-1]
    assert seen["network-unreachable"] == "Network is unreachable (ENETUNREACH)."
    assert seen["address-in-use"] == "Address already in use (EADDRINUSE)."
    assert seen["host-unreachable"] == "No route to host (EHOSTUNREACH)."
    assert seen["refused"] == "Connection refused (ECONNREFUSED)."


def test_a_room_s_alt_text_seats_whoever_the_step_s_cable_reaches() -> None:
    """Post two plugs the container into seat 9 by steps: the alt text read the scenario's static
    cables and said "seat 9: empty" while the container sent its first note through it."""
    from netsim.pages.macros import _room_alt

    scenario = load_scenario(ROOT / "diagrams" / "rooms-inside-rooms.yaml")
    trace = run(scenario)
    assert _room_alt(scenario, trace.step("first-note")).startswith(
        "Diagram of the room. Seats: seat 9: the container."
    )
    assert _room_alt(scenario, trace.step("new-room")).startswith("Diagram of the room. Seats: seat 9: empty.")


def test_an_empty_notebook_still_passes_notes_for_the_host_s_own_badge_up() -> None:
    """An empty MAC table floods frames to the ports' far ends, not frames to the bridge's own MAC:
    that is a permanent local entry (br_handle_frame_finish() passes it up). Post one's step 6 once
    said 'Every unicast note to anyone gets flooded'."""
    from netsim.render.tables import fdb_table

    step = run(MARGARET).step("ten-quiet-seconds")
    assert step.fdb == {"podman0": {}}
    for story in (True, False):
        said = html.unescape(re.sub(r"<[^>]+>", "", fdb_table(MARGARET, step, story)))
        assert "to anyone gets flooded" not in said
        assert (
            "the laptop's own badge still goes straight to the laptop's seat"
            if story
            else "still goes up to the laptop"
        ) in said, said


def test_a_drawn_knock_says_its_outcome_in_words_not_netsim_s_id() -> None:
    """The knock's label in a figure said "host-unreachable ✗"; it says "no route to host ✗", and the
    figure check reads only those words back (an id drawn instead is an outcome of no step)."""
    from netsim.render.words import KNOCK_WORDS, knock_words

    assert knock_words("host-unreachable") == "no route to host ✗"
    assert knock_words("network-unreachable") == "network unreachable ✗"
    for outcome, said in KNOCK_WORDS.items():
        assert "-" not in said
        assert figfacts._outcome([said]) == outcome
    assert figfacts._outcome(["host-unreachable ✗"]) != "host-unreachable"


def test_a_caption_told_by_events_is_sentences() -> None:
    """A step without frames is captioned by its events: each a sentence with a capital ('The
    container's eth0 is now up.', not '. the container's'), a device's own name left as spelled,
    and a default route said in words, not 'everything for default'."""
    scenario = load_scenario(ROOT / "diagrams" / "rooms-inside-rooms.yaml")
    trace = run(scenario)
    up = step_caption(scenario, trace.step("eth0-up"))
    assert up == (
        "The container's eth0 is now up, and with it a route to 10.88.0.0/16. "
        "podman0 starts forwarding on veth0, now that it has carrier."
    )
    way_out = step_caption(scenario, trace.step("a-way-out"))
    assert way_out == "The container sends everything it has no other route for to 10.88.0.1.", way_out


def test_a_namespaces_alt_text_is_sentences_in_the_kernel_s_words() -> None:
    """'Diagram of the namespaces. the laptop's namespace: … the container knocks on 127.0.0.1:19001:
    network-unreachable.' was read out to a screen-reader user; it is sentences with the kernel's words."""
    from netsim.pages.macros import _namespaces_alt

    scenario = load_scenario(ROOT / "diagrams" / "rooms-inside-rooms.yaml")
    step = run(scenario).step("knock-in-the-dark")
    alt = _namespaces_alt(scenario, step, ("portainer", "127.0.0.1:19001"))
    assert alt == (
        "Diagram of the namespaces. The laptop's namespace: lo up, podman0 up; the container's namespace: lo down."
        " The container knocks on 127.0.0.1:19001: Network is unreachable (ENETUNREACH)."
    ), alt


def test_two_rooms_alt_text_seats_each_in_its_own_room() -> None:
    """Post one's forged knock draws Margaret's room and the café's Wi-Fi; the alt text once listed
    every seat as one room's, so a screen reader put the container in the café (cold read 8)."""
    from netsim.pages.macros import _room_alt

    scenario = load_scenario(ROOT / "diagrams" / "who-else-can-knock.yaml")
    trace = run(scenario)
    alt = _room_alt(scenario, trace.step("stranger-forges-a-loopback-knock"))
    assert alt.startswith("Diagram of 2 rooms. Margaret's room (podman0), seats: seat 9: "), alt
    assert "The café's Wi-Fi (wifi0), seats: " in alt and "seat 9" not in alt.split("Wi-Fi (wifi0)")[1], alt


@pytest.mark.parametrize(
    ("event", "sentence"),
    [
        ("the laptop asks", "The laptop asks"),
        ("a frame floods", "A frame floods"),
        ("an ARP request goes", "An ARP request goes"),
        ("inside the room", "Inside the room"),
        ("no listener answers", "No listener answers"),
        ("nothing answers", "Nothing answers"),
        ("podman0 floods it", "podman0 floods it"),  # a name the kernel spells in lower case stays so
        ("conntrack drops it", "conntrack drops it"),
        ("another host", "another host"),  # only whole words count: "another" is no "an"
    ],
)
def test_a_sentence_starts_with_a_capital_but_a_kernel_name_keeps_its_case(event: str, sentence: str) -> None:
    assert capital(event) == sentence


def test_every_sentence_a_tick_says_is_the_golden_one() -> None:
    """What each claim checked, word for word, as the posts and the decoder page say it beside the tick:
    the checks above test the words of one fact at a time; this holds every sentence a reader sees (a
    fact said with another's words, a list said as "nobody", a stray word between two facts)."""
    differ = golden.words_differ(golden.tick_sentences(), golden.TICK_WORDS)
    assert not differ, differ
