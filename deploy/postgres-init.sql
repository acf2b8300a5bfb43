-- The hub and the node keep separate databases, as they would on separate hosts.
CREATE DATABASE todoke_hub OWNER todoke;
CREATE DATABASE todoke_node OWNER todoke;
