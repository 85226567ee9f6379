"""Recordings and sounds: the in-memory recording types, the HDF5 cohort format, training frames, the synthetic sound
corpus, audio I/O and channel alignment between animals.

Modules: ``recording_types``, ``recordings`` (HDF5 + JSON index), ``dataset`` (frames and splits), ``corpus``
(synthesised sounds), ``speech`` (labelled vowel and consonant tokens for selectivity measures), ``audio_io``,
``alignment`` (optimal-transport channel permutations) and its ground cost
``rate_correlation``. Nothing here imports :mod:`simulator.model`.
"""
