"""Evaluating trained models on held-out two-trial test sounds: per-sound scores, Table 1, the report and neurograms.

Modules: ``evaluate`` (FEVE and spike-histogram KL per sound), ``table`` (Table 1 and per-class tables), ``report``
(:func:`evaluate_run`, the ``hearloop evaluate`` report), ``plots`` (neurogram figures).
"""
