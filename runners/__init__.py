"""hearloop.runners: the CLI, Gymnasium environment, fleet runs, human-in-the-loop fitting and regression runs."""
