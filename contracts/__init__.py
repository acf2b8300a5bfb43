"""Todoke's wire contract (docs: ../shared/design/CONTRACT.md), pure and without I/O.

How a signed object is made and checked:

- a publisher builds a ``notice.Notice`` (or the hub a ``keyset.KeySet`` / ``receipt.Receipt``,
  a node a ``report.Report``), takes ``to_payload()`` and calls ``jws.sign``, which serializes
  it with RFC 8785 (``canonical.canonicalize``) and signs it with Ed25519;
- a receiver calls ``verify.verify_notice`` (or ``verify_keyset`` / ``verify_receipt`` /
  ``verify_report``), which runs CONTRACT §3's steps in order and raises
  ``errors.ContractError`` with the step's ``RejectionCode``;
- ``python -m contracts.schemas`` and ``python -m contracts.vectors`` regenerate the published
  JSON Schemas and test vectors (the only code here that writes files).
"""
