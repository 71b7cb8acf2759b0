"""The bottom layer: thin adapters over the outside world (git, DVC, GitHub, the Actions runtime,
files on disk, safe YAML, package resources). They import nothing above them."""
