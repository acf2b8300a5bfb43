"""HTTP plumbing shared by the node's endpoints: state, sessions, admin bearer auth."""
