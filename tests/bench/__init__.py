"""The benchmark behind ``make bench``: ``python -m tests.bench [--quick] [--skip-scale] ...``.

It starts, on loopback: a PostgreSQL server of its own (``tests.pg_cluster``, removed at
the end; ``--postgres-url`` uses another) with a fresh database, the Walmart
simulator, the vault (``python -m app.serve --workers 2``), ``bao server -dev`` with a Transit
``rsa-2048`` key, and the ceiling (:mod:`tests.bench.ceiling`, a bare FastAPI app that only
RSA-signs). ``wrk`` drives every target with the same concurrency and duration, round by
round, and the report (also written to ``tests/bench/last-run.txt``) gives throughput,
p50/p99, error counts, ratios per round and their medians, the scale run (resident memory
per worker, latency and CPU per answer for random credentials, uniform and by Zipf's law,
100 vs N registered; the bulk import's rate against parsing alone; ``/metrics`` time) and
the simulator's token-call count per OAuth credential, with PASS/FAIL for each target.

Modules: :mod:`.services` (processes, database, RSS), :mod:`.wrk` (load generator),
:mod:`.fixtures` (credentials and targets), :mod:`.loader` (registration over HTTP),
:mod:`.bulk` (the import and the parse rate), :mod:`.scrape` (``/metrics`` timing),
:mod:`.scale` (the scale run), :mod:`.scale_checks` (its targets), :mod:`.report` (tables
and checks), :mod:`.runner` (the order of it all), :mod:`.profiling` (optional ``py-spy``
summary of one vault worker), :mod:`.machine` (CPU accounting: the vault idle between runs,
other processes' load during each run).
"""
