"""netsim.lab.netns.json_batch: one `ip -batch` for several reads, each read's JSON told apart.

The lab reads each namespace's addresses and REACHABLE draws with one `ip` process a step (they were
two). iproute2 prints one JSON document per batch line; a line that printed nothing would shift every
later document onto the wrong read, so that is an error, never a guess. Every lab test runs the real
thing; here the parsing, with `ip` replaced."""

from __future__ import annotations

import pytest

from netsim.errors import LabError
from netsim.lab import netns


def fake_ip(monkeypatch: pytest.MonkeyPatch, printed: str) -> list[tuple[tuple[str, ...], str | None]]:
    calls: list[tuple[tuple[str, ...], str | None]] = []

    def run(*args: str, check: bool = True, stdin: str | None = None) -> str:
        calls.append((args, stdin))
        return printed

    monkeypatch.setattr(netns, "run", run)
    return calls


def test_each_command_s_document_in_order_from_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = fake_ip(monkeypatch, '[{"ifname":"lo"}]\n[{"dev":"eth0","reachable":21000}, {"dev":"*"}]\n')
    found = netns.json_batch("ip", "h", ("-d",), [["addr", "show"], ["ntable", "show", "name", "arp_cache"]])
    assert found == [[{"ifname": "lo"}], [{"dev": "eth0", "reachable": 21000}, {"dev": "*"}]]
    assert calls == [(("ip", "-n", "lab-h", "-j", "-d", "-batch", "-"), "addr show\nntable show name arp_cache\n")]


def test_documents_back_to_back_and_empty_lists_are_told_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_ip(monkeypatch, "[][{}]  \n\n[ ]")
    assert netns.json_batch("ip", "h", (), [["a"], ["b"], ["c"]]) == [[], [{}], []]


@pytest.mark.parametrize("printed", ["", '[{"ifname":"lo"}]\n', "[1]\n[2]\n[3]\n"])
def test_a_read_that_printed_nothing_or_too_much_is_an_error(monkeypatch: pytest.MonkeyPatch, printed: str) -> None:
    fake_ip(monkeypatch, printed)
    with pytest.raises(LabError, match=r"JSON documents, expected one each"):
        netns.json_batch("ip", "h", (), [["addr", "show"], ["ntable", "show"]])
