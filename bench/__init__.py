"""Benchmarks: each module is a script, its command in its docstring.

Results and the commands that produced them: docs/benchmarks.md.
"""
