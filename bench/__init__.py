"""blogpod benchmarks: ``python -m bench`` (``make bench``) runs the local Pod against a paced,
scripted OpenAI-compatible provider and writes ``bench/RESULTS.md`` and ``bench/results.json``.
"""
