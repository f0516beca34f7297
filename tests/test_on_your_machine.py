"""on_your_machine(): the command a reader would type on a real laptop, and what it would print
at that step, in the tool's own format (tests/test_try_it_yourself.py holds the format to the
kernel's output line for line)."""

from __future__ import annotations

import html
import re
from pathlib import Path

import jinja2

from netsim.pages.book import Book
from netsim.pages.macros import Page

ROOT = Path(__file__).resolve().parent.parent


def shown(call: str, scenario: str) -> tuple[str, Page]:
    page = Page(Book(ROOT), "page.md", f"---\nscenario: {scenario}\n---\n\n{call}\n", scenario)
    out = jinja2.Environment(undefined=jinja2.ChainableUndefined).from_string(call).render(**page.functions())
    for marker, inside in page.set_aside.items():  # as the site's hook puts it back
        out = out.replace(marker, inside)
    return html.unescape(re.sub(r"<[^>]+>", "", out)), page


def test_the_containers_arp_table_after_nobody_answered() -> None:
    text, page = shown('{{ on_your_machine("ip neigh", "nobody-home", host="portainer") }}', "three-ways-to-say-no")
    assert not page.errors
    assert "$ sudo nsenter -n -t \"$(sudo podman inspect -f '{{.State.Pid}}' portainer)\" ip neigh" in text
    assert "10.88.0.99 dev eth0 FAILED" in text
    assert "10.88.0.1 dev eth0 lladdr 5e:88:00:00:00:01 REACHABLE" in text


def test_the_notebook_after_carlos_writes() -> None:
    text, page = shown('{{ on_your_machine("bridge fdb show", "carlos-writes-to-alice") }}', "margarets-room")
    assert not page.errors
    assert "$ bridge fdb show br podman0 | grep master | grep -v permanent" in text
    assert "ca:12:34:56:78:9a dev seat7 master podman0" in text


def test_an_unknown_command_is_a_clear_error() -> None:
    _, page = shown('{{ on_your_machine("ip route", "nobody-home", host="portainer") }}', "three-ways-to-say-no")
    assert page.errors and "expected one of 'ip neigh', 'bridge fdb show', 'ss -ltn'" in str(page.errors[0])


def test_the_doormen_before_and_after_the_fix() -> None:
    # ss -ltn on the laptop: the tunnel on its loopback, then on the bridge's address instead.
    before, page = shown('{{ on_your_machine("ss -ltn", "terminal-curl", host="laptop") }}', "margarets-room")
    after, _ = shown('{{ on_your_machine("ss -ltn", "bind-to-bridge", host="laptop") }}', "margarets-room")
    assert not page.errors
    assert "$ ss -ltn" in before and "State  Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess" in before
    assert "LISTEN 0      128        127.0.0.1:19001      0.0.0.0:*" in before and "10.88.0.1:19001" not in before
    assert "LISTEN 0      128        10.88.0.1:19001      0.0.0.0:*" in after and "127.0.0.1:19001" not in after


def test_ss_inside_a_container_is_typed_through_podman() -> None:
    text, page = shown('{{ on_your_machine("ss -ltn", "its-own-doorman", host="portainer") }}', "rooms-inside-rooms")
    assert not page.errors
    assert (
        "$ sudo nsenter -n -t \"$(sudo podman inspect -f '{{.State.Pid}}' portainer)\" ss -ltn" in text
        and "127.0.0.1:19001" in text
    )


def test_the_containers_hosts_file_as_podman_writes_it() -> None:
    # formatLine() in containers/common's etchosts: the address, a tab, the names.
    call = '{{ on_your_machine("cat /etc/hosts", "in-the-container", host="portainer") }}'
    text, page = shown(call, "a-name-for-the-host")
    assert not page.errors
    assert "$ cat \"$(podman inspect -f '{{.HostsPath}}' portainer)\"" in text
    assert "10.88.0.1       host.containers.internal host.docker.internal" in text  # the tab, as a terminal shows it
    laptop, _ = shown('{{ on_your_machine("cat /etc/hosts", "on-the-laptop", host="laptop") }}', "a-name-for-the-host")
    assert "$ cat /etc/hosts" in laptop and "host.containers.internal" not in laptop


def test_tcpdump_on_the_bridge_shows_the_refused_knock() -> None:
    text, page = shown('{{ on_your_machine("tcpdump", "kernel-says-no") }}', "three-ways-to-say-no")
    assert not page.errors
    assert "$ tcpdump -ttttt -eni podman0" in text
    assert "listening on podman0, link-type EN10MB (Ethernet), snapshot length 262144 bytes" in text
    assert "> 10.88.0.1.19001: Flags [S], seq " in text and "10.88.0.1.19001 > 10.88.0.2." in text
    assert "Flags [R.], seq 0, ack " in text


def test_tcpdump_shows_the_syns_a_second_apart() -> None:
    text, _ = shown('{{ on_your_machine("tcpdump", "silence") }}', "three-ways-to-say-no")
    stamps = [line.split()[0] for line in text.splitlines() if "Flags [S]" in line]
    assert stamps == [f"00:00:0{n}.000000" for n in range(6)]


def test_tcpdump_with_nothing_on_the_wire_is_a_clear_error() -> None:
    _, page = shown('{{ on_your_machine("tcpdump", "the-client-gives-up/and-then-quiet") }}', "three-ways-to-say-no")
    assert page.errors and "no frame crosses podman0" in str(page.errors[0])


def test_ss_ltnp_names_the_program_the_scenario_names() -> None:
    # The tunnel is ssh's, started anew for the new address (hosts.laptop.programs); ss -p prints
    # it as users:(("comm",pid=N,fd=N)).
    text, page = shown('{{ on_your_machine("ss -ltnp", "bind-to-bridge", host="laptop") }}', "margarets-room")
    assert not page.errors
    assert "$ ss -ltnp" in text
    assert 'LISTEN 0      128        10.88.0.1:19001      0.0.0.0:*    users:(("ssh",pid=3390,fd=4))' in text


def test_ss_ltnp_without_a_named_program_is_a_clear_error() -> None:
    _, page = shown('{{ on_your_machine("ss -ltnp", "its-own-doorman", host="portainer") }}', "rooms-inside-rooms")
    assert page.errors and "name it in rooms-inside-rooms's hosts.portainer.programs" in str(page.errors[0])


def test_a_host_the_command_cannot_run_in_is_a_clear_error() -> None:
    # An unknown host, a host given to a command that reads the bridge, and a host whose namespace
    # does not exist yet each name what is wrong instead of printing an empty table.
    for call, scenario, expected in (
        ('on_your_machine("tcpdump", "nobody-home", host="nosuchhost")', "three-ways-to-say-no", "is not in"),
        (
            'on_your_machine("bridge fdb show", "nobody-home", host="portainer")',
            "three-ways-to-say-no",
            "reads the bridge",
        ),
        ('on_your_machine("ip neigh", "new-room", host="laptop")', "rooms-inside-rooms", None),
    ):
        _, page = shown("{{ " + call + " }}", scenario)
        if expected is None:
            assert not page.errors, page.errors
        else:
            assert page.errors and expected in str(page.errors[0]), page.errors


def test_ss_shows_a_dns_servers_own_backlog() -> None:
    # The lab's DNS server is dnsmasq, which calls listen(fd, 32) (TCP_BACKLOG); ss -ltn shows the
    # backlog as Send-Q, and the kernel's SYN queue limit follows it (tcp.listen_backlog()).
    text, page = shown('{{ on_your_machine("ss -ltn", "on-the-laptop", host="laptop") }}', "a-name-for-the-host")
    assert not page.errors, page.errors
    rows = {line.split()[3]: line.split()[2] for line in text.splitlines() if line.startswith("LISTEN")}
    assert rows["10.88.0.1:53"] == "32", rows
    assert rows["127.0.0.53:53"] == "32", rows
