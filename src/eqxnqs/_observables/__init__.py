"""Observables computed from samples: g(r), S(k), g1(r), n(k), the energy split."""
