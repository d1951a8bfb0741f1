"""``kofu serve``: the monthly cycle in a browser, over the same library as the CLI.

Nothing here is imported by ``kofu --help``: the CLI imports :mod:`kofu_excel.serve.server`
only when ``kofu serve`` runs, so the web stack (Flask, waitress) costs the other commands
nothing.
"""
