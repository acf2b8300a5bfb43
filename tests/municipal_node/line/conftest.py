from tests.municipal_node.line.rig import chat

__all__ = ["chat"]
