"""``python -m producer``: the same CLI as the ``producer`` console script."""

from producer.cli.app import main

main()
