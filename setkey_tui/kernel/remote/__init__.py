"""A remote machine's kernel over ssh: ``--kernel ssh:HOST[/SPEC]`` and the ``setkey-tui bridge`` relay."""
