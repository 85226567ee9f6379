"""hearloop.runners: the command line, Gymnasium environment, fleet runs, human-in-the-loop fitting and regression runs."""
