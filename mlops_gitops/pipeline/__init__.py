"""What a repository's DVC pipelines are, read through DVC's own parser (``dvcindex``) as plain data (``facts``)."""
