from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.canonical import canonicalize, is_canonical

# RFC 8785 §3.2.2 sample input (JSON text, floats included).
RFC_SAMPLE = r"""{
  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}"""
RFC_SAMPLE_OUT = (
    b'{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
    b'"string":"\xe2\x82\xac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
)
# RFC 8785 §3.2.3 sorting example: keys ordered by UTF-16 code units.
RFC_SORT = r"""{
  "\u20ac": "Euro Sign",
  "\r": "Carriage Return",
  "\ufb33": "Hebrew Letter Dalet With Dagesh",
  "1": "One",
  "\ud83d\ude00": "Emoji: Grinning Face",
  "\u0080": "Control",
  "\u00f6": "Latin Small Letter O With Diaeresis"
}"""
RFC_SORT_OUT = (
    b'{"\\r":"Carriage Return","1":"One","\xc2\x80":"Control",'
    b'"\xc3\xb6":"Latin Small Letter O With Diaeresis","\xe2\x82\xac":"Euro Sign",'
    b'"\xf0\x9f\x98\x80":"Emoji: Grinning Face","\xef\xac\xb3":"Hebrew Letter Dalet With Dagesh"}'
)


def test_rfc8785_sample_object_is_canonicalized_exactly() -> None:
    import rfc8785

    assert rfc8785.dumps(json.loads(RFC_SAMPLE)) == RFC_SAMPLE_OUT
    assert is_canonical(RFC_SAMPLE_OUT)


def test_rfc8785_sample_without_numbers_through_canonicalize() -> None:
    value = json.loads(RFC_SAMPLE)
    del value["numbers"]
    assert canonicalize(value) == RFC_SAMPLE_OUT.replace(
        b'"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],', b""
    )


def test_rfc8785_sort_example_orders_by_utf16() -> None:
    assert canonicalize(json.loads(RFC_SORT)) == RFC_SORT_OUT
    assert is_canonical(RFC_SORT_OUT)


def test_literal_canonical_strings() -> None:
    assert canonicalize({"b": 1, "a": [True, None, "x"]}) == b'{"a":[true,null,"x"],"b":1}'
    assert canonicalize({"s": '\u0001\n\t\u2028"\\/\u007f'}) == (
        b'{"s":"\\u0001\\n\\t\xe2\x80\xa8\\"\\\\/\x7f"}'
    )
    assert (
        canonicalize({"e": "👨‍👩‍👧"})
        == b'{"e":"\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7"}'
    )
    assert canonicalize({"n": [9007199254740991, -9007199254740991, 0]}) == (
        b'{"n":[9007199254740991,-9007199254740991,0]}'
    )
    assert canonicalize({"日本": "語", "a": {}}) == '{"a":{},"日本":"語"}'.encode()


@pytest.mark.parametrize(
    "value",
    [
        {"f": 1.5},
        {"f": 1.0},
        [float("nan")],
        {"i": 9007199254740992},
        {"i": -9007199254740992},
        {1: "non-string key"},
        {"b": b"bytes"},
        {"s": "\ud800"},
    ],
)
def test_canonicalize_rejects_what_the_contract_forbids(value: object) -> None:
    with pytest.raises(ValueError):
        canonicalize(value)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b'{"a":1,"b":2}', True),
        (b'{"b":2,"a":1}', False),
        (b'{"a": 1}', False),
        (b'{"a":1}\n', False),
        (b'\xef\xbb\xbf{"a":1}', False),
        (b'{"a":"\\u0041"}', False),
        (b'{"a":"\\/"}', False),
        (b'{"a":1.0}', False),
        (b'{"a":1e2}', False),
        (b'{"a":-0}', False),
        (b'{"a":1.5}', True),  # canonical, but a float: the schema (step 6) refuses it
        (b'{"a":9007199254740993}', False),
        (b'{"a":1,"a":1}', False),
        (b'{"a":NaN}', False),
        (b'{"a":"\xff"}', False),
        (b'{"a":"\\ud800"}', False),
        (b"not json", False),
    ],
)
def test_is_canonical(data: bytes, expected: bool) -> None:
    assert is_canonical(data) is expected


def test_code_point_order_is_not_taken_for_utf16_order() -> None:
    """The fast path sorts keys by code point; above U+FFFF that differs from JCS's UTF-16
    order, so data in code point order must still be refused."""
    code_point_order = b'{"\xef\xac\xb3":1,"\xf0\x9f\x98\x80":2}'  # U+FB33, then U+1F600
    assert not is_canonical(code_point_order)
    assert is_canonical(b'{"\xf0\x9f\x98\x80":2,"\xef\xac\xb3":1}')


def _reference_is_canonical(data: bytes) -> bool:
    """The verifier's check as RFC 8785 states it, without the fast path."""
    import rfc8785

    def number(text: str) -> int | float:
        value = int(text)
        return value if abs(value) <= 2**53 - 1 else float(value)

    def constant(name: str) -> object:
        raise ValueError(name)

    try:
        value = json.loads(data.decode("utf-8"), parse_int=number, parse_constant=constant)
        return rfc8785.dumps(value) == data
    except (ValueError, OverflowError, RecursionError):
        return False


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(value=_json_values, form=st.sampled_from(["jcs", "sorted", "python", "ascii"]))
def test_is_canonical_agrees_with_rfc8785(value: object, form: str) -> None:
    import rfc8785

    try:
        if form == "jcs":
            data = rfc8785.dumps(value)
        else:
            data = json.dumps(
                value,
                ensure_ascii=form == "ascii",
                separators=(",", ":"),
                sort_keys=form != "python",
            ).encode("utf-8", errors="surrogatepass")
    except (ValueError, OverflowError):
        return  # not serializable in this form (e.g. a lone surrogate for JCS)
    assert is_canonical(data) is _reference_is_canonical(data)


_contract_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(value=_contract_values)
def test_canonicalize_is_the_rfc8785_encoder(value: object) -> None:
    """The signer's fast path (the standard library's sorted compact form) gives exactly the
    bytes of the reference encoder, or refuses exactly what it refuses (lone surrogates)."""
    import rfc8785

    try:
        expected: bytes | None = rfc8785.dumps(value)
    except ValueError:
        expected = None
    if expected is None:
        with pytest.raises(ValueError):
            canonicalize(value)
    else:
        assert canonicalize(value) == expected
