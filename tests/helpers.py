"""Small profiles and scenarios that tests write themselves (no torch needed)."""
from __future__ import annotations

import importlib
import os
from pathlib import Path

import numpy as np
import yaml


def write_profile(folder: Path, stages: dict, schemes: dict, columns: dict[str, np.ndarray]) -> Path:
    """A profile folder through the package's own writer (``sim.profile.write_profile``).

    stages: {name: {hw: {batch: ms}}}; schemes: {name: (kind, device_stages, edge_stages)};
    columns hold label and, per scheme, <name>_bytes and <name>_correct.
    """
    from sim.profile import write_profile as write

    write(folder, stages, {n: {"kind": k, "device": list(d), "edge": list(e)} for n, (k, d, e) in schemes.items()},
          labels=columns["label"], payload_bytes={n: columns[f"{n}_bytes"] for n in schemes},
          correct={n: columns[f"{n}_correct"] for n in schemes}, hardware={"hw": "test hardware"},
          provenance={"command": "written by a test", "machine": {"cpu": "none"}})
    return folder


def simple_profile(folder: Path, payload: int = 1000, n: int = 10, device_ms: float = 5.0,
                   edge_ms: float = 2.0) -> Path:
    """Schemes 'local' (device full model) and 'split' (device head, fixed payload, edge tail)."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, n)
    return write_profile(
        folder,
        stages={"full": {"hw": {1: 4 * device_ms}}, "head": {"hw": {1: device_ms}},
                "tail": {"hw": {1: edge_ms, 4: 2 * edge_ms}}},
        schemes={"local": ("local", ["full"], []), "split": ("split", ["head"], ["tail"])},
        columns={"label": labels, "local_bytes": np.zeros(n), "local_correct": np.ones(n),
                 "split_bytes": np.full(n, payload), "split_correct": (np.arange(n) % 2 == 0)},
    )


def write_scenario(path: Path, profile: Path, **sections) -> Path:
    """A scenario YAML: top-level keys from ``sections`` over small defaults."""
    data = {"name": "test", "profile": str(profile), "schemes": ["split"], "seeds": [0],
            "tasks": {"arrival": {"process": "periodic", "period_ms": 1000}, "count": 1, "deadline_ms": 100},
            "devices": {"count": 1, "hardware": "hw", "speed": 1.0},
            "channel": {"bandwidth_hz": 1e6, "snr_db": 10, "fading": {"model": "none"},
                        "rate": {"model": "shannon", "efficiency": 1.0}},
            "edge": {"hardware": "hw", "speed": 1.0}}
    for k, v in sections.items():
        if isinstance(v, dict) and isinstance(data.get(k), dict):
            data[k] = {**data[k], **v}
        else:
            data[k] = v
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def require(module: str):
    """Import ``module`` for a model-side test: skip where it is missing, but fail in CI (CI set),
    where ``make test`` installs the models extra and a skip would hide a broken install."""
    import pytest

    if os.environ.get("CI"):
        return importlib.import_module(module)
    return pytest.importorskip(module)


def require_fashion_mnist() -> None:
    """Debian's Fashion-MNIST: skip where it is missing, fail in CI (``make test`` installs it)."""
    import pytest

    from models import data

    if not data.FASHION_MNIST_DIR.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{data.FASHION_MNIST_DIR} missing: apt-get install dataset-fashion-mnist")
        pytest.skip("apt-get install dataset-fashion-mnist")


def edge_log(gpus: int, max_batch: int, max_wait_ms: float, jobs, leave: dict | None = None,
             outages: list | None = None, ms: float = 1e-3) -> list:
    """Jobs ``(name, kind, arrival ms)`` through a lone ``sim.nodes.EdgeServer`` whose batch of n
    takes 10 + n ms; ``leave`` maps a job's name to the ms it leaves (its deadline); ``outages``
    lists the edge's down windows (start ms, end ms); ``ms`` is the unit (2^-10 s keeps sums exact).
    Returns, in order of completion, ``(name, ms, batch size, edge wait ms)`` (batch size None:
    lost to an outage), or ``(name, ms, "left")``."""
    import simpy

    from sim.faults import Outages
    from sim.nodes import EdgeServer

    env = simpy.Environment()
    down = Outages([(a * ms, b * ms) for a, b in outages]) if outages else None
    edge = EdgeServer(env, gpus, max_batch, max_wait_ms * ms, lambda n, kind: (10 + n) * ms, down)
    log = []

    def job(name, kind, at):
        yield env.timeout(at * ms)
        times = {}
        try:
            n = yield from edge.infer(times, kind)
            log.append((name, round(env.now / ms, 6), n, round(times["edge_wait"] / ms, 6)))
        except simpy.Interrupt:
            log.append((name, round(env.now / ms, 6), "left"))

    def leaves(proc, at):
        yield env.timeout(at * ms)
        proc.interrupt()

    for name, kind, at in jobs:
        proc = env.process(job(name, kind, at))
        if leave and name in leave:
            env.process(leaves(proc, leave[name]))
    env.run()
    return log


def recording_policies(tmp_path: Path, monkeypatch, module: str, classes: str):
    """Import a module of policy classes written to ``tmp_path``: ``classes`` is their source,
    which may append to the module's list ``SEEN`` (emptied here: an earlier import in this
    process keeps the module and its list)."""
    import importlib

    (tmp_path / f"{module}.py").write_text("from sim.policies import Policy\nSEEN = []\n" + classes)
    monkeypatch.syspath_prepend(str(tmp_path))
    mod = importlib.import_module(module)
    mod.SEEN.clear()
    return mod
