"""The NetKet bridge: adapter, framework, kinetic energy, samplers, SR driver, Flax converters."""
