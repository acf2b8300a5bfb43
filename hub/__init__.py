"""The prefecture's GraphQL hub.

Publishers sign notices locally and call ``publishNotice``; the hub verifies them with
``contracts`` against its registry (``hub/publishers``), stores the exact bytes under a gap-free
``seq`` and countersigns a receipt. Municipal nodes read ``notices(after:)`` and the signed
``keySet`` (``hub/subscribers``) and verify everything themselves. ``hub.app.create_app`` builds
the service; ``hub.settings.HubSettings`` configures it (``TODOKE_HUB_*``).
"""
