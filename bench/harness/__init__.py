"""bench/run's parts: the DNS and HTTPS world of generated domains, the three socketmap servers,
the load and the measurements, and the report. They build on tests/integration/rig."""
