import os

# The notebooks run at their small size under pytest; a user gets the full size.
os.environ.setdefault("EQXNQS_NOTEBOOK_SIZE", "small")
