"""hearloop.listeners: virtual listeners on the nu-ICNet simulator (population sampling, neurometric audiograms)."""
