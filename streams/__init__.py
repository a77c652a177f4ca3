"""Everything that touches the outside world: Kafka, Redis, files, metrics, the CLI.

The detection logic lives in `detectors/`; the modules here drive it (live worker,
replay/backtest) and keep its state.
"""
