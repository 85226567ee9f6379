"""Sub-commands of the ``hearloop`` CLI.

Each module here defines ``register(subparsers)`` which adds one top-level command (and its own sub-commands) to the
argparse parser. Command modules import heavy libraries (torch, ray) inside their handlers so ``--help`` stays fast.
"""
