"""``python -m dropon``: the ``dropon`` command line."""
from .cli import main

main(prog_name="dropon")
