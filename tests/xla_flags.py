"""The XLA flags of the test suite (imported by conftest.py before JAX starts)."""

#: LLVM's optimisation off, and XLA's older CPU emitters (their fusions compile in half the
#: time): the suite's programs are tiny, so compiling them is most of its time.
FAST_COMPILATION = "--xla_backend_optimization_level=0 --xla_cpu_use_fusion_emitters=false"
#: Set in a process that tests at XLA's default optimisation (test_activations.py).
DEFAULT_OPTIMISATION = "EQXNQS_TEST_XLA_DEFAULT_OPTIMISATION"
