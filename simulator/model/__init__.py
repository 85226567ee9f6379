"""The nu-ICNet family of networks: configuration, factory, layers, streaming, spike counts and checkpoints.

Import from the modules (``simulator.model.nuicnet``, ``simulator.model.checkpoint``, ...); the package itself loads
nothing, so ``import simulator.model.config`` stays cheap. The names most callers need are re-exported lazily by
:mod:`simulator` (``simulator.build_model``, ``simulator.load_model``, ...).

Modules, bottom up: ``config`` (the :class:`ModelConfig` schema), ``causal_conv``, ``sincnet``, ``encoder``,
``conditioning``, ``combination``, ``icnet``, ``nuicnet`` (NuICNet, ABRNet), ``factory`` (presets, ``build_model``),
``checkpoint`` (safetensors + JSON), ``streaming``, ``spikes``.
"""
