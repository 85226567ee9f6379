"""hearloop.compensation: hearing-aid strategies and the neural-fidelity objective."""
