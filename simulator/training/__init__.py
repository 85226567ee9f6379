"""Training nu-ICNet and its baselines: the epoch loop, the losses, shared-frame batches, cohort preparation, resumable
training state and the stages of Table 1.

Modules: ``loop`` (:func:`train_model`), ``losses``, ``frames``, ``cohort`` (:func:`prepare_cohort`), ``state``
(resumable checkpoints), ``stages`` (multibranch -> nu-ICNet-6 -> nu-ICNet-3 / ABRNet / ICNets).
"""
