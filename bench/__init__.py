"""The taurus-sessions benchmark: the service against honest references measured in the same run.

``python -m bench`` (or ``scripts/bench``) starts real MariaDB nodes, the service and pt-kill, runs
every scenario and writes the figures as JSON under ``bench/out/``. See ``bench/RESULTS.md``.
"""
