"""``aecnn-models``: train, profile and evaluate (needs the ``models`` extra).

  aecnn-models train STEP --run DIR ...   step-by-step training (backbone, attention, aecnn, bottlenet)
  aecnn-models profile --run DIR --out profiles/NAME
  aecnn-models evaluate PROFILE           the ratio/accuracy table and the issue's target figures
  aecnn-models pipeline --run DIR ...     every step and the profile, in order (resumable)
  aecnn-models time PROFILE --hardware KEY [--device cuda] [--merge]
                                          time a profile's stages here (random weights), merge them
"""
from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = ("train", "profile", "evaluate", "pipeline", "time")
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in commands:
        print(__doc__)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    cmd, rest = argv[0], argv[1:]
    if cmd != "evaluate":  # evaluate reads a profile only: it runs without torch
        try:
            import torch  # noqa: F401
        except ImportError:
            if "-h" in rest or "--help" in rest:  # the help needs no torch (models/args.py)
                from models import args
                parser = getattr(args, f"{cmd}_parser")()
                try:
                    parser.parse_args(rest)
                except SystemExit as e:
                    return int(e.code or 0)
            print(f"aecnn-models {cmd}: needs torch, which is not installed: pip install '.[models]' "
                  "(aecnn-models evaluate runs without it)", file=sys.stderr)
            return 2
    if cmd == "train":
        from models.train import main as run
    elif cmd == "profile":
        from models.profile import main as run
    elif cmd == "evaluate":
        from models.evaluate import main as run
    elif cmd == "time":
        from models.retime import main as run
    else:
        from models.pipeline import main as run
    from models.codecs import MissingDependency

    try:
        return run(rest)
    except MissingDependency as e:
        print(f"aecnn-models {cmd}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
