"""compose.yaml and the nginx site it mounts agree with each other and with the Dockerfile.

No Docker daemon runs here (docs/deploy.md: `docker-compose config` checked the file by
hand), so what is checked is what would break silently: nginx proxying to services or
a port that do not exist, the servers trusting another address than nginx's for the
students' addresses, a mounted file missing, a Redis that could evict documents.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import yaml
from support.server import ROOT

COMPOSE = ROOT / "compose.yaml"


def compose() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE.read_text()))


def paramlab_services(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in doc["services"].items() if s.get("build") == "."}


def test_nginx_proxies_to_every_paramlab_service_on_the_port_its_image_listens_on() -> None:
    doc = compose()
    exposed = re.search(r"^EXPOSE (\d+)$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert exposed is not None
    site = (ROOT / "deploy" / "nginx" / "compose.conf").read_text()
    upstream = set(re.findall(r"^\s*server (\S+);", site, re.MULTILINE))
    services = paramlab_services(doc)
    assert len(services) >= 2
    assert upstream == {f"{name}:{exposed[1]}" for name in services}
    assert set(doc["services"]["nginx"]["depends_on"]) == set(services)


def test_the_services_trust_forwarded_addresses_from_nginx_alone() -> None:
    doc = compose()
    nginx_address = doc["services"]["nginx"]["networks"]["paramlab"]["ipv4_address"]
    subnet = doc["networks"]["paramlab"]["ipam"]["config"][0]["subnet"]
    assert ipaddress.ip_address(nginx_address) in ipaddress.ip_network(subnet)
    for name, service in paramlab_services(doc).items():
        assert service["environment"]["FORWARDED_ALLOW_IPS"] == nginx_address, name
        assert "ports" not in service, f"{name} is reachable without nginx"


def test_every_file_the_nginx_service_mounts_exists() -> None:
    volumes = compose()["services"]["nginx"]["volumes"]
    sources = [v.split(":")[0] for v in volumes]
    assert sources
    for source in sources:
        assert (ROOT / source).is_file(), source
    # The snippet is mounted where the site includes it.
    site = (ROOT / "deploy" / "nginx" / "compose.conf").read_text()
    included = re.findall(r"include (\S+);", site)
    assert included and all(any(v.endswith(f":{path}:ro") for v in volumes) for path in included), included


def test_the_services_share_the_compose_redis_which_never_evicts() -> None:
    doc = compose()
    for name, service in paramlab_services(doc).items():
        url = service["environment"]["PARAMLAB_REDIS_URL"]
        assert re.fullmatch(r"redis://redis:6379/\d+", url), (name, url)
    command = doc["services"]["redis"]["command"]
    settings = dict(zip(command[1::2], command[2::2]))
    assert settings["--maxmemory-policy"] == "noeviction" and settings["--appendonly"] == "yes"
