"""Which of the machine's addresses a room link is built on, from made-up lists of
interfaces (no test here opens a socket)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.server import reach
from app.server.guard import HostPolicy
from app.settings import Settings

# A laptop on a school network: loopback, link-local of both families, a public
# IPv4, two private IPv4 (listed after it), IPv6 unique-local and global, an
# IPv4-mapped IPv6, and a duplicate.
LAPTOP = ["127.0.0.1", "::1", "169.254.12.1", "fe80::1c2b:3aff:fe4d:5e6f%wlan0", "203.0.113.9",
          "192.168.1.20", "2001:db8::20", "fd12:3456::20", "10.4.0.7", "::ffff:192.168.1.20",
          "192.168.1.20", "172.20.1.1"]


def test_private_ipv4_first_then_other_ipv4_then_ipv6_and_no_loopback_or_link_local() -> None:
    assert reach.student_addresses(LAPTOP) == [
        "192.168.1.20", "10.4.0.7", "172.20.1.1",  # RFC 1918, in listing order
        "203.0.113.9",
        "fd12:3456::20", "2001:db8::20"]  # unique-local before global


def test_only_ipv4_when_asked_and_names_that_are_not_addresses_are_skipped() -> None:
    assert reach.student_addresses(LAPTOP, ipv6=False) == ["192.168.1.20", "10.4.0.7", "172.20.1.1", "203.0.113.9"]
    assert reach.student_addresses(["teacher-laptop", "", "999.1.1.1", "172.32.0.1"]) == ["172.32.0.1"]


@pytest.mark.parametrize("addresses", [[], ["127.0.0.1", "::1"], ["169.254.0.5", "fe80::1", "fe80::2%eth0"],
                                       ["0.0.0.0", "::", "224.0.0.1"]])
def test_nothing_students_could_open_leaves_the_server_unreachable(addresses: list[str]) -> None:
    assert reach.student_addresses(addresses) == []
    described = reach.describe(Settings(host="::"), addresses, 8000)
    assert described.urls == [] and described.reachable is False
    assert described.advice == reach.ADVICE_NO_NETWORK


def test_base_urls_bracket_ipv6_and_leave_out_the_default_port() -> None:
    assert reach.base_url("192.168.1.20", 8000) == "http://192.168.1.20:8000"
    assert reach.base_url("fd12:3456::20", 8000) == "http://[fd12:3456::20]:8000"
    assert reach.base_url("paramlab.school.example", 443, "https") == "https://paramlab.school.example"
    assert reach.base_url("192.168.1.20", 80) == "http://192.168.1.20"


def test_a_server_on_every_address_lists_them_best_first() -> None:
    described = reach.describe(Settings(host="::"), LAPTOP, 8000)
    assert described.reachable and described.advice is None and described.public_url is None
    assert described.urls[:2] == ["http://192.168.1.20:8000", "http://10.4.0.7:8000"]
    assert described.urls[-1] == "http://[2001:db8::20]:8000"
    # 0.0.0.0 listens on IPv4 only: no IPv6 link.
    ipv4 = reach.describe(Settings(host="0.0.0.0"), LAPTOP, 8000).urls
    assert ipv4 == ["http://192.168.1.20:8000", "http://10.4.0.7:8000", "http://172.20.1.1:8000", "http://203.0.113.9:8000"]


def test_the_name_the_page_was_opened_on_comes_first() -> None:
    urls = reach.describe(Settings(host="::"), LAPTOP, 8000, page_base="http://10.4.0.7:8000").urls
    assert urls[:3] == ["http://10.4.0.7:8000", "http://192.168.1.20:8000", "http://172.20.1.1:8000"]
    assert urls.count("http://10.4.0.7:8000") == 1


def test_a_server_on_one_address_lists_that_one() -> None:
    assert reach.describe(Settings(host="10.4.0.7"), LAPTOP, 8000).urls == ["http://10.4.0.7:8000"]
    assert reach.describe(Settings(host="teacher-laptop.local"), [], 8000).urls == ["http://teacher-laptop.local:8000"]


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.0.0.2"])
def test_a_loopback_server_says_what_to_run_instead(host: str) -> None:
    described = reach.describe(Settings(host=host), LAPTOP, 8000, page_base="http://10.4.0.7:8000")
    assert described.urls == [] and described.reachable is False
    assert described.advice is not None and "paramlab --classroom" in described.advice
    assert "PARAMLAB_PUBLIC_URL" in described.advice and "127.0.0.1" in described.advice


@pytest.mark.parametrize("host", ["127.0.0.1", "::"])
def test_a_public_url_is_the_only_base(host: str) -> None:
    settings = Settings(host=host, public_url="https://paramlab.school.example/")
    assert settings.public_url == "https://paramlab.school.example"
    described = reach.describe(settings, LAPTOP, 8000, page_base="http://10.4.0.7:8000")
    assert described.urls == ["https://paramlab.school.example"] and described.reachable
    assert described.public_url == "https://paramlab.school.example" and described.advice is None


@pytest.mark.parametrize("url", ["ftp://paramlab.school.example", "paramlab.school.example", "https://",
                                 "https://paramlab.school.example/?a=1", "https://paramlab.school.example/#x",
                                 "https://paramlab.school.example?", "http://user:pw@paramlab.school.example",
                                 "http://paramlab.school.example:99999", "javascript:alert(1)",
                                 "https://paramlab school.example"])
def test_a_public_url_that_is_not_an_http_base_is_refused_with_what_is_allowed(url: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(public_url=url)
    message = str(caught.value)
    assert "PARAMLAB_PUBLIC_URL must be an http:// or https:// URL" in message and repr(url) in message


def test_an_empty_public_url_is_unset_and_a_path_is_kept() -> None:
    assert Settings(public_url="").public_url is None
    assert Settings(public_url="http://school.example:8080/paramlab/").public_url == "http://school.example:8080/paramlab"


def test_network_addresses_must_be_ip_addresses() -> None:
    assert reach.address_lister(Settings(network_addresses=["192.168.1.20"]))() == ["192.168.1.20"]
    with pytest.raises(ValidationError, match="PARAMLAB_NETWORK_ADDRESSES must list IP addresses"):
        Settings(network_addresses=["teacher-laptop"])


def test_the_host_guard_takes_the_public_url_s_name_and_the_listed_addresses() -> None:
    proxied = HostPolicy(Settings(public_url="https://Paramlab.School.example"))
    assert proxied.host_allowed("paramlab.school.example") and proxied.host_allowed("paramlab.school.example:443")
    assert not proxied.host_allowed("evil.example")
    everywhere = HostPolicy(Settings(host="::"), list_addresses=lambda: ["192.168.1.20", "fd12:3456::20"])
    assert everywhere.host_allowed("192.168.1.20:8000") and everywhere.host_allowed("[fd12:3456::20]:8000")
    assert not everywhere.host_allowed("192.168.1.21:8000")
    # A loopback server does not answer to the machine's addresses, listed or not.
    loopback = HostPolicy(Settings(host="127.0.0.1"), list_addresses=lambda: ["192.168.1.20"])
    assert not loopback.host_allowed("192.168.1.20:8000")
