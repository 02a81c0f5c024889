"""The command line: `main` holds the table of sub-commands; one module per command.
"""
