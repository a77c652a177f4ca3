"""Alert sinks: deliver alert messages (schema v1, contracts.md §2) to on-call receivers.

One module per job: `config` (the sinks file), `base` (the Sink interface and the alert's
state-change fields), `http` (one way to POST and classify the answer), one module per
receiver (`alertmanager`, `webhook`, `pagerduty`, `slack`), `delivery` (retry with backoff,
park what cannot be delivered), `metrics`, and `build` (config -> sinks).
"""
