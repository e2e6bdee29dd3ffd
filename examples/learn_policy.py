"""Learn a per-task offloading policy with the Gymnasium environment, then compare it.

A tabular contextual bandit: the state is the device's group, its observed SNR (5 dB bins) and
its own queue (20 ms bins); the value of each (state, scheme) is the mean reward (on time and
correct) of the tasks that chose it, learned epsilon-greedily on training seeds (100, 101, ...)
over the scenario's mean SNRs. Each decision is credited with its own task's outcome, which the
environment reports as (device, task, reward) when the task ends.

The learned table then runs as an ordinary policy (the ``Policy`` interface, docs/policies.md)
on the scenario's evaluation seeds, beside its fixed schemes and built-in policies, and the
accuracy within the deadline of each is printed per mean SNR, with the oracle's bound.

    python examples/learn_policy.py                       # scenarios/adaptive.yaml, a few minutes
    python examples/learn_policy.py --quick               # what CI runs (seconds)
"""
from __future__ import annotations

import argparse
import random
from collections import defaultdict
from pathlib import Path

import pandas as pd

from sim.engine import simulate
from sim.gym_env import CoInferenceEnv
from sim.policies import Observation, Policy
from sim.profile import load_profile
from sim.results import records_frame, summarize
from sim.scenario import load_scenario, override

ROOT = Path(__file__).resolve().parents[1]
OPTIONS = ["local", "full-offload", "aecnn-k64b1", "aecnn-k4b3", "aecnn-k4b1"]


def state(obs: Observation) -> tuple[int, int, int]:
    return obs.group, max(-6, min(8, int(obs.snr_db // 5))), min(4, int(obs.queue_s * 1e3 // 20))


class Tabular(Policy):
    """Greedy in a learned table of mean rewards; unseen states fall back to local."""

    def __init__(self, table: dict, options: list[str]) -> None:
        self.table, self.options, self.spec = table, options, None

    def choose(self, obs: Observation) -> str:
        values = self.table.get(state(obs))
        if not values:
            return "local"
        return self.options[max(range(len(self.options)), key=lambda a: values[a][0])]


def train(sc, snrs: list[float], episodes: int, epsilon: float, rng: random.Random) -> dict:
    table: dict = defaultdict(lambda: [[0.0, 0] for _ in OPTIONS])
    for ep in range(episodes):
        point = override(sc, {"channel.snr_db": snrs[ep % len(snrs)]})
        env = CoInferenceEnv(point, options=OPTIONS, load_delay_ms=None)
        env.reset(seed=100 + ep)
        decided, done = {}, False
        while not done:
            obs = env.pending()
            s = state(obs)
            values = table[s]
            if rng.random() < epsilon or all(n == 0 for _, n in values):
                a = rng.randrange(len(OPTIONS))
            else:
                a = max(range(len(OPTIONS)), key=lambda i: values[i][0])
            decided[(obs.device, obs.task)] = (s, a)
            _, _, done, _, info = env.step(a)
            for dev, task, r in info["finished"]:
                s2, a2 = decided.pop((dev, task))
                v = table[s2][a2]
                v[1] += 1
                v[0] += (r - v[0]) / v[1]
    return dict(table)


def evaluate(sc, profile, table: dict, snrs: list[float]) -> pd.DataFrame:
    rows = []
    for snr in snrs:
        point = override(sc, {"channel.snr_db": snr})
        for seed in sc.seeds:
            for label, arm in [("learned", Tabular(table, OPTIONS)), *((a.label, a) for a in point.arms)]:
                res = simulate(point, profile, arm, seed)
                row = summarize(records_frame(res), res)
                rows.append({"snr_db": snr, "seed": seed, "scheme": label, "acc": row["acc_within_deadline"],
                             "bound": row.get("acc_bound")})
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenario", nargs="?", default=str(ROOT / "scenarios" / "adaptive.yaml"))
    ap.add_argument("--episodes", type=int, default=36, help="training episodes (one seed each)")
    ap.add_argument("--epsilon", type=float, default=0.2, help="share of random choices while learning")
    ap.add_argument("--quick", action="store_true", help="a short run: 2 SNRs, 60 tasks a device, 1 seed")
    args = ap.parse_args(argv)
    sc = load_scenario(args.scenario)
    snrs = list(sc.sweep.grid.get("channel.snr_db", [sc.channel.snr_db]))
    if args.quick:
        sc = override(sc, {"tasks.count": 60, "seeds": [0]}) if sc.tasks.count else sc
        sc = override(sc, {"seeds": [0]})
        snrs, args.episodes = [snrs[0], snrs[-1]], 4
    profile = load_profile(sc.profile)
    table = train(sc, snrs, args.episodes, args.epsilon, random.Random(0))
    print(f"learned {len(table)} states from {args.episodes} episodes")
    df = evaluate(sc, profile, table, snrs)
    acc = df.pivot_table(index="snr_db", columns="scheme", values="acc", aggfunc="mean")
    bound = df.dropna(subset=["bound"]).groupby("snr_db")["bound"].mean()
    if len(bound):
        acc["oracle bound"] = bound
    print("accuracy within the deadline, mean over seeds", list(sc.seeds))
    print(acc.round(3).to_string())


if __name__ == "__main__":
    main()
