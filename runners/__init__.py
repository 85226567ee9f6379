"""hearloop.runners: the CLI, Gymnasium environment, fleet runs, human-in-the-loop fitting and regression runs.

Importing ``runners`` registers the Gymnasium environment ``hearloop/HearingAidFitting-v0`` (string entry points only:
torch and the model load when the environment is made).
"""

from runners.env.registration import ENV_ID, register_envs

register_envs()

__all__ = ["ENV_ID", "register_envs"]
