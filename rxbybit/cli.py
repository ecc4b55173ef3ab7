"""The ``rxbybit`` command: ``sim``, ``demo``, ``tail``, ``record`` and ``gateway``.

Each subcommand lives in its own layer's module and exposes ``add_arguments(parser)`` and
``run(args) -> int``; this file only wires them together (imports are lazy so ``rxbybit sim``
does not load pandas or widgets).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (``rxbybit demo: error: ...``), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


COMMANDS: dict[str, tuple[str, str]] = {
    "sim": ("rxbybit.sim.cli", "serve the local Bybit exchange simulator"),
    "demo": ("rxbybit.demo", "live terminal view of book, trades, ticker and health"),
    "tail": ("rxbybit.tools", "print the events of one topic"),
    "record": ("rxbybit.tools", "record raw frames of topics to a JSONL file"),
    "gateway": ("rxbybit.gateway.cli", "serve the path-based gateway protocol"),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rxbybit`` console script."""
    parser = OneLineParser(prog="rxbybit", description="Bybit streams, reactive.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    modules = {}
    for name, (module_name, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if not (exc.name or "").startswith("rxbybit"):
                raise
            p.set_defaults(unavailable=f"'rxbybit {name}' is not available in this build")
            continue
        adder = getattr(module, f"add_{name}_arguments", None) or module.add_arguments
        adder(p)
        modules[name] = module
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if getattr(args, "unavailable", None):
        print(args.unavailable, file=sys.stderr)
        return 2
    module = modules[args.command]
    runner = getattr(module, f"run_{args.command}", None) or module.run
    try:
        return int(runner(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
