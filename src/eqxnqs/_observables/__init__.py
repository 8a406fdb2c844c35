"""Observables computed from samples."""
