"""Pair potentials, Hamiltonians and the named systems."""
