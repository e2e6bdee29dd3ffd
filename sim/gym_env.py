"""A Gymnasium environment over the simulator: one step is one task's choice of scheme.

    from sim.gym_env import CoInferenceEnv
    env = CoInferenceEnv("scenarios/adaptive.yaml", options=["local", "aecnn-k64b1"])
    obs, info = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())

The simulation runs until a task arrives and waits for the action, which names the scheme
(``options[action]``). The observation is what a policy sees (:class:`sim.policies.Observation`)
as a vector, :data:`OBSERVATION`. A task's reward comes when it ends, which may be some steps
after its decision: each step returns the reward of the tasks that ended since the previous one,
and ``info["finished"]`` lists them as (device, task, reward) so a learner can credit each
decision. The default reward is 1 for a task on time and correct, else 0; ``reward`` may be
``"on-time"`` or a function of the record (a dict of :data:`sim.records.RECORD_FIELDS`).

``reset(seed=s)`` runs the scenario with seed s: the same arrivals, images and channel as every
scheme and policy of seed s in a sweep. Needs ``pip install 'aecnn-sim[rl]'`` (gymnasium).
"""
from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import numpy as np

from sim.engine import Simulation
from sim.policies import Observation, Policy
from sim.profile import load_profile
from sim.records import RECORD_FIELDS
from sim.scenario import PolicySpec, Scenario, load_scenario

OBSERVATION = ("snr_db", "mean_snr_db", "queue_s", "deadline_s", "uplink_load", "edge_load", "group")
_MET, _CORRECT = RECORD_FIELDS.index("met"), RECORD_FIELDS.index("correct")
_DEVICE, _TASK = RECORD_FIELDS.index("device"), RECORD_FIELDS.index("task")


class _External(Policy):
    """The environment's side of the policy seam: decisions wait for ``step``."""

    external = True

    def __init__(self, spec: PolicySpec, options: tuple[str, ...]) -> None:
        self.spec, self.options, self.pending = spec, options, deque()

    def choose(self, obs: Observation) -> str:  # never called: the engine waits for the step
        raise RuntimeError("decided by the environment's step")


def vector(obs: Observation) -> np.ndarray:
    """An observation as the environment's float32 vector (:data:`OBSERVATION` order; loads -1 when not observed)."""
    return np.array([obs.snr_db, obs.mean_snr_db, obs.queue_s, obs.deadline_s,
                     -1 if obs.uplink_load is None else obs.uplink_load,
                     -1 if obs.edge_load is None else obs.edge_load, obs.group], dtype=np.float32)


class CoInferenceEnv(gym.Env):
    """Per-task scheme choice in a scenario (see the module's docstring)."""

    metadata = {"render_modes": []}

    def __init__(self, scenario: str | Path | Scenario, options: list[str] | None = None,
                 reward: str | Callable[[dict], float] = "on-time-correct", snr_age_ms: float = 0.0,
                 snr_error_db: float = 0.0, load_delay_ms: float | None = 0.0, seed: int | None = None) -> None:
        self.sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        self.profile = load_profile(self.sc.profile)
        self.policy_spec = PolicySpec(policy="gym", name="gym", snr_age_ms=snr_age_ms, snr_error_db=snr_error_db,
                               load_delay_ms=load_delay_ms)
        probe = Simulation(self.sc, self.profile, "local" if "local" in self.profile.schemes else
                           next(iter(self.profile.schemes)), 0)
        self.options = tuple(options or probe.timed_schemes())
        self.action_space = gym.spaces.Discrete(len(self.options))
        big = np.float32(1e9)
        self.observation_space = gym.spaces.Box(low=-big, high=big, shape=(len(OBSERVATION),), dtype=np.float32)
        if reward == "on-time-correct":
            self.reward_of = lambda r: float(r[_MET] and r[_CORRECT])
        elif reward == "on-time":
            self.reward_of = lambda r: float(r[_MET])
        elif callable(reward):
            self.reward_of = lambda r: float(reward(dict(zip(RECORD_FIELDS, r))))
        else:
            raise ValueError(f"reward must be 'on-time-correct', 'on-time' or a function, not {reward!r}")
        self._seed = 0 if seed is None else seed
        self.sim: Simulation | None = None

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is not None:
            self._seed = int(seed)
        self.policy = _External(self.policy_spec, self.options)
        self.sim = Simulation(self.sc, self.profile, self.policy, self._seed)
        self.sim.start()
        self._seen = 0
        self._advance()
        _, finished = self._collect()
        return self._obs(), {"finished": finished, "time_s": self.sim.env.now}

    def step(self, action):
        if self.sim is None:
            raise RuntimeError("call reset() first")
        if not self.policy.pending:
            raise RuntimeError("the episode has ended; call reset()")
        obs, ev = self.policy.pending.popleft()
        ev.succeed(self.options[int(action)])
        self._advance()
        reward, finished = self._collect()
        done = not self.policy.pending
        return self._obs(), reward, done, False, {"finished": finished, "time_s": self.sim.env.now}

    def _advance(self) -> None:
        env = self.sim.env
        while not self.policy.pending and env.peek() < math.inf:
            env.step()

    def _collect(self) -> tuple[float, list[tuple[int, int, float]]]:
        recs = self.sim.records[self._seen:]
        self._seen = len(self.sim.records)
        finished = [(int(r[_DEVICE]), int(r[_TASK]), self.reward_of(r)) for r in recs]
        return float(sum(f[2] for f in finished)), finished

    def _obs(self) -> np.ndarray:
        if not self.policy.pending:
            return np.zeros(len(OBSERVATION), dtype=np.float32)
        return vector(self.policy.pending[0][0])

    def pending(self) -> Observation | None:
        """The observation the next action answers (the task's device and index among them)."""
        return self.policy.pending[0][0] if self.sim is not None and self.policy.pending else None
