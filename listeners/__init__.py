"""hearloop.listeners: virtual listeners built on the nu-ICNet simulator (population sampling, neurometric audiograms)."""
