"""``eqxnqs run`` as one of two JAX processes (CPU, a coordinator on localhost).

test_several_hosts.py starts it twice: ``python multihost_run.py PROCESS PORT ARGS...``
runs ``eqxnqs ARGS...`` as process PROCESS (0 or 1) of two, with Gloo's CPU collectives.
"""

import sys

import jax


def main():
    process, port, args = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        coordinator_address=f"localhost:{port}", num_processes=2, process_id=process
    )
    from eqxnqs._workflow._cli import main as eqxnqs_main

    sys.exit(eqxnqs_main(args))


if __name__ == "__main__":
    main()
