"""Registration codes and their lookup digests (pure functions)."""

from __future__ import annotations

import base64

import pytest

from municipal_node.linking.codes import ALPHABET, formatted, is_well_formed, new_code, normalise
from municipal_node.linking.digest import CodeLookup, node_lookup
from municipal_node.linking.service import access_base, account_link_url
from municipal_node.settings import NodeSettings


@pytest.mark.parametrize(
    "typed",
    [
        "ABCD-2345-EFGH",
        "abcd2345efgh",
        " ＡＢＣＤ－２３４５－ＥＦＧＨ ",  # full width, as a Japanese IME types it
        "ABCDー2345ーEFGH",  # the long vowel mark instead of a hyphen
        "ABCD 2345 EFGH",
    ],
)
def test_what_residents_type_normalises_to_the_code(typed: str) -> None:
    assert normalise(typed) == "ABCD2345EFGH"


@pytest.mark.parametrize(
    "text", ["こんにちは", "ABCD-2345-EFG", "ABCD-2345-EFGH-J", "", "12345678901234"]
)
def test_text_that_is_not_code_shaped_is_not_a_code(text: str) -> None:
    assert normalise(text) is None


def test_new_codes_use_the_unambiguous_alphabet_and_print_in_groups_of_four() -> None:
    code = new_code()
    assert len(code) == 12 and is_well_formed(code)
    assert not set("01ILO") & set(ALPHABET)
    assert formatted("ABCD2345EFGH") == "ABCD-2345-EFGH"
    assert not is_well_formed("ABCD2345EFG0")  # code-shaped, but 0 is never in a code


def test_a_code_digested_under_an_old_key_is_found_while_that_key_is_configured() -> None:
    old, new = bytes(32), bytes(range(32))
    issued = CodeLookup([old]).digest("23235", "ABCD2345EFGH")
    assert issued in CodeLookup([new, old]).candidates("23235", "ABCD2345EFGH")
    assert issued not in CodeLookup([new]).candidates("23235", "ABCD2345EFGH")
    assert issued != CodeLookup([old]).digest("23100", "ABCD2345EFGH")  # per tenant


def test_the_account_link_dialog_is_lines_for_the_real_api_else_the_sandbox() -> None:
    assert access_base("https://api.line.me") == "https://access.line.me"
    assert access_base("http://127.0.0.1:8090/") == "http://127.0.0.1:8090"
    assert account_link_url("https://api.line.me", "tok", "n+/=") == (
        "https://access.line.me/dialog/bot/accountLink?linkToken=tok&nonce=n%2B%2F%3D"
    )


def test_the_running_node_looks_codes_up_under_its_previous_keys_too() -> None:
    """After ``todoke node rotate-key`` the operator keeps the old key in
    ``previous_encryption_keys``: codes printed before the rotation must still link."""
    old, new = bytes(32), bytes(range(32))
    issued = CodeLookup([old]).digest("23235", "ABCD2345EFGH")
    settings = NodeSettings(
        encryption_key=base64.b64encode(new).decode(),
        previous_encryption_keys=base64.b64encode(old).decode(),
    )
    lookup = node_lookup(settings)
    assert lookup.digest("23235", "ABCD2345EFGH") == CodeLookup([new]).digest(
        "23235", "ABCD2345EFGH"
    )
    assert issued in lookup.candidates("23235", "ABCD2345EFGH")
