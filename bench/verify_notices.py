"""How fast one core verifies signed notices (CONTRACT §3, all seven steps), next to raw Ed25519.

Run: .venv/bin/python bench/verify_notices.py [--count 5000]
Prints envelopes/s for the full ``contracts.verify.verify_notice`` and for a bare Ed25519
verify of the same signing inputs, and the ratio. Nodes verify every feed item themselves and
the hub verifies every publish, so this bounds both.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

from contracts.jws import sign
from contracts.keys import b64url_decode, private_key_from_seed
from contracts.verify import TrustedKey, verify_notice
from todoke.demo.notices import genkyo_todoke_notice


class _Keys:
    def __init__(self, key: TrustedKey) -> None:
        self._key = key

    def get(self, kid: str) -> TrustedKey | None:
        return self._key if kid == self._key.kid else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=5000)
    args = parser.parse_args()

    private = private_key_from_seed(bytes(range(32)))
    now = datetime.now(UTC)
    trusted = TrustedKey(
        kid="gov-cfa/bench",
        publisher="gov-cfa",
        public_key=private.public_key(),
        not_before=now - timedelta(days=1),
        not_after=now + timedelta(days=30),
        revoked_at=None,
        areas=frozenset({"00"}),
        categories=frozenset({"procedure"}),
    )
    envelopes = [
        sign(
            genkyo_todoke_notice(now), typ="todoke-notice+jws", kid=trusted.kid, private_key=private
        )
        for _ in range(args.count)
    ]
    inputs = [(f"{e.protected}.{e.payload}".encode(), e) for e in envelopes]
    raw = [(data, b64url_decode(e.signature)) for data, e in inputs]
    public = private.public_key()

    started = time.perf_counter()
    for data, signature in raw:
        public.verify(signature, data)
    raw_seconds = time.perf_counter() - started

    keys = _Keys(trusted)
    started = time.perf_counter()
    for envelope in envelopes:
        verify_notice(envelope, keys=keys, received_at=now, now=now)
    full_seconds = time.perf_counter() - started

    raw_rate = args.count / raw_seconds
    full_rate = args.count / full_seconds
    print(f"envelopes               : {args.count}")
    print(f"raw Ed25519 verify      : {raw_rate:10,.0f} /s")
    print(f"verify_notice (7 steps) : {full_rate:10,.0f} /s")
    print(f"ratio full/raw          : {full_rate / raw_rate:10.1%}")


if __name__ == "__main__":
    main()
