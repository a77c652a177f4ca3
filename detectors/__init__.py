"""The detection core: pure functions and frozen records, no I/O, no clock reads.

Everything the live worker, replay and backtest share lives here: the event model and its
decoder, feature extraction, sliding-window arithmetic, the detectors and alert building.
"""
