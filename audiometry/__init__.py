"""hearloop.audiometry: GP-PTA (Bayesian pure-tone audiometry) and the modified Hughson-Westlake baseline.

Imports nothing else of hearloop: it talks to any listener through the small responder protocol.
"""
