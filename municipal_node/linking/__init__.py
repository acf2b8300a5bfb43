"""ID連携: linking a LINE friend to a resident record with a one-time registration code.

Flow: staff issue codes for resident records (``POST /api/tenants/{code}/registration-codes``)
and print the letters once (``GET …/{issue_id}/letters``). The resident sends the code in the
chat; the inbox worker finds it by its keyed digest, asks LINE for a link token, stores a
random nonce (hashed, 10 minutes, bound to the LINE user and the code) and replies with a
button to LINE's account-link dialog. LINE then sends an ``accountLink`` event carrying the
nonce; when it matches, ``residents.line_user_id`` is set and the code is used up.

Keys: codes are found by HMAC-SHA256 over ``"<tenant>:<code>"`` keyed by
``HKDF-SHA256(node key, info="todoke/registration-code-lookup/v1")`` (``digest.py``). The code
itself is sealed with the node key only until its letters are rendered. Key rotation: the
digest of an outstanding code was made with the key current at issue time, so a
``CodeLookup`` built from the new key AND the previous keys (newest first) still finds it; once
an old key is dropped from the configuration, codes issued under it no longer match and must be
re-issued (letters carry an expiry of at most a year anyway). Sealed codes not yet printed are
re-sealed like every other sealed column (aad ``"<tenant>:regcode:<issue id>:<resident id>"``).
"""
