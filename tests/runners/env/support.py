"""Constants shared by the environment tests: the tiny model's NH reference nu and three listeners' nu."""

REF_NU = [0.3, 0.4, 0.5, 0.6, 0.5, 0.4]
NUS = [[0.9, 0.1, 0.8, 0.2, 0.9, 0.1], [0.7, 0.7, 0.2, 0.3, 0.6, 0.8], [0.1, 0.9, 0.6, 0.9, 0.2, 0.5]]
