"""The ``todoke`` command line: keys, publishing, and serving the hub, node and LINE sandbox."""
