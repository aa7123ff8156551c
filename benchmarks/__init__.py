"""Benchmarks: healthscore against one hand-written DuckDB query and vectorized pandas.

Run ``python benchmarks/run.py``; see benchmarks/README.md.
"""
