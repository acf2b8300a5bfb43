"""Signed delivery reports (CONTRACT §6) from this node to the hub."""
