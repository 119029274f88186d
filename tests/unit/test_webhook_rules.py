"""Webhook rules without I/O: signatures, the retry schedule, URLs and addresses, sealing."""
import ast
import json
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from chalicelib.delivery.http import AddressGuard
from chalicelib.domain import signature
from chalicelib.domain.errors import InvalidArgument
from chalicelib.domain.signature import SignatureError, sign, verify
from chalicelib.domain.webhooks import (
    WebhookUrlNotAllowed,
    address_allowed,
    parse_url,
    retry_delay,
)
from chalicelib.persistence.secret_box import FernetSecretBox

BODY = json.dumps({"id": "7", "type": "RoomOpened"}).encode()
SECRET = "whsec_test"
T = 1_800_000_000


def test_a_signed_body_verifies_and_gives_the_event():
    header = sign(BODY, SECRET, T)
    assert header.startswith(f"t={T},v1=")
    assert verify(BODY, header, SECRET, now=T + 299) == {"id": "7", "type": "RoomOpened"}


@pytest.mark.parametrize("body,header,secret,now", [
    (BODY.replace(b"7", b"8"), sign(BODY, SECRET, T), SECRET, T),  # tampered body
    (BODY, sign(BODY, SECRET, T), "whsec_other", T),  # another secret
    (BODY, sign(BODY, SECRET, T), SECRET, T + 301),  # too old
    (BODY, sign(BODY, SECRET, T), SECRET, T - 301),  # from the future
    (BODY, None, SECRET, T), (BODY, "", SECRET, T), (BODY, "v1=abc", SECRET, T),
    (BODY, f"t={T}", SECRET, T), (BODY, "t=x,v1=ab", SECRET, T),
])
def test_anything_else_fails_verification(body, header, secret, now):
    with pytest.raises(SignatureError):
        verify(body, header, secret, now=now)


def test_one_matching_signature_among_several_is_enough():
    good = sign(BODY, SECRET, T).split(",")[1]
    assert verify(BODY, f"t={T},v1={'0' * 64},{good}", SECRET, now=T)["id"] == "7"
    both = sign(BODY, [SECRET, "whsec_previous"], T)  # during a rotation, both secrets sign
    assert both.count("v1=") == 2
    assert verify(BODY, both, SECRET, now=T) == verify(BODY, both, "whsec_previous", now=T)


def test_the_verifier_imports_the_standard_library_only():
    tree = ast.parse(Path(signature.__file__).read_text())
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module.split(".")[0] for n in ast.walk(tree)
              if isinstance(n, ast.ImportFrom) and n.module and not n.level}
    assert names - {"__future__"} <= set(sys.stdlib_module_names), names


def test_retries_back_off_exponentially_up_to_the_cap():
    assert [retry_delay(n, 1.0, 3600) for n in range(1, 14)] == [
        1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 3600]
    # with the defaults, about 30 attempts fit in the 24 hours before an endpoint fails
    total, n = 0.0, 0
    while total < 24 * 3600:
        n += 1
        total += retry_delay(n, 1.0, 3600)
    assert 25 <= n <= 35


@pytest.mark.parametrize("url", [
    "ftp://example.com/", "http://", "example.com", "http://user:pw@example.com/",
    "http://exa mple.com/", "http://example.com:99999/", "https://" + "a" * 2050, 7, None])
def test_malformed_urls_are_invalid(url):
    with pytest.raises(InvalidArgument) as e:
        parse_url(url)
    assert e.value.code == "invalid_field"


def test_a_url_taken_apart():
    u = parse_url("https://hooks.example.com:8443/in?x=1")
    assert (u.scheme, u.host, u.port, u.target) == ("https", "hooks.example.com", 8443, "/in?x=1")
    assert parse_url("http://example.com").target == "/" and parse_url("http://example.com").port == 80


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "::1",
    "fe80::1", "fc00::1", "::ffff:127.0.0.1", "0.0.0.0", "100.64.0.1", "224.0.0.1", "240.0.0.1"])
def test_internal_addresses_are_refused_by_default(address):
    assert not address_allowed(address, allow_private=False)


def test_public_addresses_pass_and_the_setting_allows_private_ones():
    assert address_allowed("93.184.216.34", False) and address_allowed("2606:4700::1111", False)
    assert address_allowed("127.0.0.1", True) and address_allowed("10.0.0.1", True)
    assert not address_allowed("0.0.0.0", True) and not address_allowed("224.0.0.1", True)


def test_the_guard_refuses_a_host_if_any_of_its_addresses_is_internal():
    fake = {"public.test": ["93.184.216.34"], "mixed.test": ["93.184.216.34", "10.0.0.5"]}
    guard = AddressGuard(False, resolver=lambda host, port: fake[host])
    guard.check("https://public.test/hook")
    with pytest.raises(WebhookUrlNotAllowed) as e:
        guard.check("https://mixed.test/hook")
    assert e.value.code == "webhook_url_not_allowed"
    AddressGuard(True, resolver=lambda host, port: fake[host]).check("https://mixed.test/")


def test_an_unresolvable_host_is_not_allowed():
    def fail(host, port):
        raise OSError("no such host")
    with pytest.raises(WebhookUrlNotAllowed):
        AddressGuard(False, resolver=fail).check("https://nowhere.test/")


def test_secrets_are_sealed_and_the_key_is_never_shown():
    key = Fernet.generate_key().decode()
    box = FernetSecretBox(key)
    sealed = box.seal("whsec_abc")
    assert "whsec_abc" not in sealed and box.open(sealed) == "whsec_abc"
    assert key not in repr(box)
    with pytest.raises(ValueError):
        FernetSecretBox(Fernet.generate_key().decode()).open(sealed)
    with pytest.raises(ValueError):
        FernetSecretBox("not-a-key")
