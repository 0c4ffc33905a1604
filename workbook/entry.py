"""The command's entry point: quiet from its first instant, whatever signal comes.

Ctrl-C or SIGTERM while the command line is still being imported (nothing written yet, no
worker started) ends the process at once with 130 or 143 instead of a traceback; once cli.main
runs, it handles both itself (unwinding, then one line). A process started with Ctrl-C ignored
(a background job) keeps ignoring it. Leaves out: everything else (cli.py).
"""

import os
import signal


def _early(signum, frame):
    os.write(2, b"Error: interrupted\n" if signum == signal.SIGINT else b"Error: stopped (SIGTERM)\n")
    os._exit(128 + signum)


def main():
    keep_ignoring = signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    if not keep_ignoring:
        signal.signal(signal.SIGINT, _early)
    signal.signal(signal.SIGTERM, _early)
    from workbook.cli import main as cli_main

    if not keep_ignoring:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    cli_main()
