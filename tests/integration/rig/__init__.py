"""The integration test rig: real nsd, unbound, nginx, a misbehaving HTTPS server and mtastsd,
all inside one network namespace on loopback addresses."""
