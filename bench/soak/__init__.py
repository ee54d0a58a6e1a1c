"""The soak: the service under a mixed load for minutes while its nodes fail and come back.

``python -m bench.soak --minutes N`` (or ``scripts/soak``) starts two real MariaDB nodes, each
behind a fault proxy, and the service as a real process; runs a closed-loop mix of lists, kills,
kills by filter, a kill task and console-like polling; blackholes a node every minute and restarts
one once; then checks, against the nodes themselves, that every kill is in the audit trail exactly
once and that the trail tells the truth. See ``bench/SOAK.md``.
"""
