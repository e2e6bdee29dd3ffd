"""aecnn-sim's discrete-event simulator of device-edge co-inference (SimPy; no torch).

The Python API (docs/api.md), importable as ``import sim``:

- scenarios: :func:`load_scenario` (a YAML file, with optional overrides), :func:`scenario_from_dict`
  (a dict, as YAML would give it), :func:`override` (dotted keys, checked like the file);
- profiles: :func:`load_profile`, :func:`write_profile` (a profile of your own model or hardware);
- one simulation: :func:`simulate` (a scenario, a profile, a scheme or policy, a seed) and
  :func:`summarize` / :func:`records_frame` of its result;
- many: :func:`run` (the scenario as written) and :func:`sweep` (its grid) into a results folder,
  returning the summary as a DataFrame; :func:`read_records`, :func:`plot_results`, :func:`compare`,
  :func:`report` on results folders;
- policies: :class:`Policy`, :class:`Observation`, :func:`register`.

Names are loaded on first use, so ``import sim`` stays cheap.
"""

__version__ = "0.1.0"

_EXPORTS = {
    "load_scenario": ("sim.scenario", "load_scenario"),
    "override": ("sim.scenario", "override"),
    "Scenario": ("sim.scenario", "Scenario"),
    "PolicySpec": ("sim.scenario", "PolicySpec"),
    "load_profile": ("sim.profile", "load_profile"),
    "write_profile": ("sim.profile", "write_profile"),
    "simulate": ("sim.engine", "simulate"),
    "summarize": ("sim.results", "summarize"),
    "records_frame": ("sim.results", "records_frame"),
    "read_records": ("sim.results", "read_records"),
    "plot_results": ("sim.plot", "plot_results"),
    "compare": ("sim.reports", "compare"),
    "report": ("sim.reports", "report"),
    "Policy": ("sim.policies", "Policy"),
    "Observation": ("sim.policies", "Observation"),
    "register": ("sim.policies", "register"),
    "ConfigError": ("sim.errors", "ConfigError"),
}

__all__ = sorted([*_EXPORTS, "scenario_from_dict", "run", "sweep", "__version__"])


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        module, attr = _EXPORTS[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sim' has no attribute {name!r}")


def scenario_from_dict(data: dict, base_dir: str = ".", source: str = "(dict)"):
    """A Scenario from a dict shaped like the YAML file; relative paths (profile, traces) resolve
    against ``base_dir``. Every check of the file applies; errors name ``source``."""
    from pathlib import Path

    from sim.scenario import from_dict

    return from_dict(data, source, Path(base_dir).resolve())


def sweep(scenario, out, workers: int = 1, progress: bool = False, force: bool = False, scheduler: str | None = None):
    """Every point of the scenario's grid x seeds into results folder ``out`` (resumable); returns
    summary.csv as a DataFrame. ``scenario``: a Scenario or a path to its YAML file."""
    return _run(scenario, out, workers, progress, force, scheduler, True)


def run(scenario, out, workers: int = 1, progress: bool = False, force: bool = False, scheduler: str | None = None):
    """The scenario as written (no grid), every seed, into ``out``; returns its summary."""
    return _run(scenario, out, workers, progress, force, scheduler, False)


def _run(scenario, out, workers, progress, force, scheduler, grid):
    from pathlib import Path

    from sim.runner import run_all
    from sim.scenario import Scenario, load_scenario

    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    return run_all(sc, Path(out), workers=workers, sweep=grid, progress=progress, force=force, scheduler=scheduler)
