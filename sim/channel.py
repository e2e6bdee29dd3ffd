"""The wireless uplink: an SNR process in time and a rate model.

An SNR process is piecewise constant: ``segment(t)`` gives the SNR at time ``t`` (seconds) and
when it next changes. Its realisation depends only on the seed and on time (blocks are drawn in
order from the process's own random stream, whatever order they are asked for in), so every
scheme of one seed meets the same channel. ``Link.transfer_time`` integrates the rate over the
segments a transfer spans.
"""
from __future__ import annotations

import bisect
import math
from collections import OrderedDict
from pathlib import Path

import numpy as np

from sim.scenario import Channel, Fading, Rate
from sim.tables import read_snr_trace

# 3GPP TS 38.214 V17 Table 5.2.2.1-2 (4-bit CQI table 1): spectral efficiency in bit/s/Hz of
# CQI 1..15 (the same values as TS 36.213 Table 7.2.3-1). 3GPP gives no SNR thresholds: the ones
# below are approximate 10%-BLER switching points of the kind system-level studies take from
# link-level simulation (AWGN, SISO); treat them as an assumption, not a standard.
NR_CQI1_EFFICIENCY = (0.1523, 0.2344, 0.3770, 0.6016, 0.8770, 1.1758, 1.4766, 1.9141,
                      2.4063, 2.7305, 3.3223, 3.9023, 4.5234, 5.1152, 5.5547)
NR_CQI1_SNR_DB = (-6.7, -4.7, -2.3, 0.2, 2.4, 4.3, 5.9, 8.1, 10.3, 11.7, 14.1, 16.3, 18.7, 21.0, 22.7)


def rng_for(seed: int, *stream: int) -> np.random.Generator:
    """An independent random stream for (seed, stream...): common random numbers across schemes."""
    return np.random.default_rng(np.random.SeedSequence([seed, *stream]))


class SnrProcess:
    """Piecewise-constant SNR in dB."""

    def segment(self, t: float) -> tuple[float, float]:
        """(SNR in dB at time t, time at which it next changes; inf if never)."""
        raise NotImplementedError


class StaticSnr(SnrProcess):
    def __init__(self, snr_db: float) -> None:
        self.snr_db = snr_db

    def segment(self, t: float) -> tuple[float, float]:
        return self.snr_db, math.inf


class BlockFading(SnrProcess):
    """Rayleigh (k_factor=None) or Rician block fading: a new |h|^2 every coherence time.

    Blocks come in chunks of ``CHUNK``. Chunk c is drawn by the counter-based Philox generator
    keyed by ``key`` (seed, stream) with its counter set to c, so any chunk is drawn only when a
    time inside it is queried, in a few microseconds, the same whatever the order of queries;
    only the ``KEEP`` most recently used chunks are held, so memory does not grow with simulated
    time.
    """

    CHUNK = 256
    KEEP = 32

    def __init__(self, mean_snr_db: float, coherence_s: float, key: tuple[int, int],
                 k_factor: float | None = None, keep: int | None = None) -> None:
        self.mean_lin, self.tc, self.k = 10 ** (mean_snr_db / 10), coherence_s, k_factor
        if keep is not None:
            self.KEEP = keep
        self.key = np.array([key[0], key[1] if len(key) > 1 else 0], dtype=np.uint64)
        self._bits = np.random.Philox(key=self.key)
        self._gen = np.random.Generator(self._bits)
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()

    def chunk_lin(self, c: int) -> np.ndarray:
        """Linear SNR of blocks c * CHUNK ... (c + 1) * CHUNK - 1."""
        got = self._cache.get(c)
        if got is not None:
            self._cache.move_to_end(c)
            return got
        self._bits.state = {"bit_generator": "Philox", "buffer": np.zeros(4, dtype=np.uint64), "buffer_pos": 4,
                            "state": {"counter": np.array([0, 0, c, 0], dtype=np.uint64), "key": self.key},
                            "has_uint32": 0, "uinteger": 0}
        re, im = self._gen.standard_normal((2, self.CHUNK)) * math.sqrt(0.5)
        if self.k is None:
            got = (re**2 + im**2) * self.mean_lin
        else:
            los, s = math.sqrt(self.k / (self.k + 1)), math.sqrt(1 / (self.k + 1))
            got = ((los + s * re) ** 2 + (s * im) ** 2) * self.mean_lin
        self._cache[c] = got
        if len(self._cache) > self.KEEP:
            self._cache.popitem(last=False)
        return got

    def block(self, t: float) -> int:
        """Index of the block holding time ``t``: block i spans [i tc, (i + 1) tc)."""
        i = int(t // self.tc)
        while (i + 1) * self.tc <= t:  # floating point: 0.03 // 0.01 == 2
            i += 1
        return i

    def segment(self, t: float) -> tuple[float, float]:
        i = self.block(t)
        c, j = divmod(i, self.CHUNK)
        return 10 * math.log10(max(float(self.chunk_lin(c)[j]), 1e-30)), (i + 1) * self.tc


class GilbertElliott(SnrProcess):
    """Two states, good and bad, with exponential sojourn times; time-average linear SNR = mean."""

    def __init__(self, mean_snr_db: float, bad_offset_db: float, good_mean_s: float, bad_mean_s: float,
                 rng: np.random.Generator) -> None:
        pg = good_mean_s / (good_mean_s + bad_mean_s)
        good = 10 ** (mean_snr_db / 10) / (pg + (1 - pg) * 10 ** (bad_offset_db / 10))
        self.snr_db = {True: 10 * math.log10(good), False: 10 * math.log10(good) + bad_offset_db}
        self.means = {True: good_mean_s, False: bad_mean_s}
        self.rng = rng
        self.starts, self.states = [0.0], [bool(rng.random() < pg)]  # start in the stationary law

    def _extend_to(self, t: float) -> None:
        while self.starts[-1] <= t:
            state = self.states[-1]
            self.starts.append(self.starts[-1] + self.rng.exponential(self.means[state]))
            self.states.append(not state)

    def segment(self, t: float) -> tuple[float, float]:
        self._extend_to(t)
        i = bisect.bisect_right(self.starts, t) - 1  # O(log n) on the list; no copy of the history
        return self.snr_db[self.states[i]], self.starts[i + 1]

    def share_good(self, horizon_s: float) -> float:
        """Fraction of [0, horizon) spent in the good state (for checks)."""
        self._extend_to(horizon_s)
        total = 0.0
        for a, b, s in zip(self.starts, self.starts[1:], self.states):
            if a >= horizon_s:
                break
            if s:
                total += min(b, horizon_s) - a
        return total / horizon_s


class TraceSnr(SnrProcess):
    """Replay of a CSV trace with columns time_s, snr_db; held at the last value after the end.

    ``offset_db`` is added to every value (a device group's SNR offset or path loss).
    """

    def __init__(self, path: str | Path, offset_db: float = 0.0) -> None:
        self.t, self.snr = read_snr_trace(path)
        if offset_db:
            self.snr = self.snr + offset_db

    def segment(self, t: float) -> tuple[float, float]:
        i = max(int(np.searchsorted(self.t, t, side="right")) - 1, 0)
        end = float(self.t[i + 1]) if i + 1 < len(self.t) else math.inf
        return float(self.snr[i]), end


def make_snr_process(ch: Channel, seed: int, device: int = 0, mean_snr_db: float | None = None,
                     keep: int | None = None) -> SnrProcess:
    """The SNR process a scenario's channel describes, for one seed and one device.

    Each device's fading is its own, drawn from a stream keyed by (seed, device): independent
    across devices, the same for every scheme and policy. Device 0's stream is the one a
    single-device scenario has always used. With ``fading.shared`` every device gets device 0's
    realization (co-located devices). ``mean_snr_db`` (default ``ch.snr_db``) is the device's
    mean SNR; a trace is shifted by its difference from ``ch.snr_db``.
    """
    f: Fading = ch.fading
    mean = ch.snr_db if mean_snr_db is None else mean_snr_db
    d = 0 if f.shared else device
    if f.model == "none":
        return StaticSnr(mean)
    if f.model in ("rayleigh", "rician"):
        return BlockFading(mean, f.coherence_ms / 1e3, (seed, 1 + (d << 16)),
                           f.k_factor if f.model == "rician" else None, keep)
    if f.model == "gilbert-elliott":
        rng = rng_for(seed, 1) if d == 0 else rng_for(seed, 1, d)
        return GilbertElliott(mean, f.bad_offset_db, f.good_mean_ms / 1e3, f.bad_mean_ms / 1e3, rng)
    return TraceSnr(f.trace, mean - ch.snr_db)


class RateModel:
    """Maps SNR (dB) to a bit rate (bit/s) and says how often a packet must be sent."""

    def __init__(self, rate: Rate, bandwidth_hz: float) -> None:
        self.cfg, self.bw = rate, bandwidth_hz

    def rates_of_linear(self, snr_lin: np.ndarray) -> np.ndarray:
        """:meth:`rate_bps` of an array of linear SNRs."""
        if self.cfg.model == "shannon":
            return self.cfg.efficiency * self.bw * np.log2(1 + snr_lin)
        eff = np.concatenate([[0.0], NR_CQI1_EFFICIENCY])
        thresholds = 10 ** (np.asarray(NR_CQI1_SNR_DB) / 10)
        return eff[np.searchsorted(thresholds, np.maximum(snr_lin, 1e-30), side="right")] * self.bw

    def rate_bps(self, snr_db: float) -> float:
        if self.cfg.model == "shannon":
            return self.cfg.efficiency * self.bw * math.log2(1 + 10 ** (snr_db / 10))
        i = int(np.searchsorted(NR_CQI1_SNR_DB, snr_db, side="right"))
        return 0.0 if i == 0 else NR_CQI1_EFFICIENCY[i - 1] * self.bw

    def attempts(self, n_packets: int, seed: int, device: int, task: int) -> tuple[list[int], bool]:
        """Transmissions each packet of a task needs (HARQ), and whether all got through within max_harq.

        Each packet fails independently with probability ``bler``: packet j of task ``task`` of
        ``device`` needs 1 + floor(ln u / ln bler) transmissions, u = :func:`uniform` of (seed,
        device, task, j), so every scheme meets the same draws for the same packet (common random
        numbers) without a random generator per task.
        """
        if self.cfg.model != "cqi" or self.cfg.bler == 0 or n_packets == 0:
            return [1] * n_packets, True
        limit, log_bler = self.cfg.max_harq + 1, math.log(self.cfg.bler)
        base = _mix(_mix(_mix(seed ^ 0x4841_5251) ^ device) ^ task)  # "HARQ" stream
        tries = [1 + int(math.log(uniform(base, j)) / log_bler) for j in range(n_packets)]
        return [min(t, limit) for t in tries], all(t <= limit for t in tries)


_MASK = (1 << 64) - 1


def _mix(z: int) -> int:
    """splitmix64's finaliser: a bijection of 64-bit integers whose outputs pass as independent."""
    z = (z + 0x9E3779B97F4A7C15) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def uniform(key: int, j: int) -> float:
    """A uniform number in (0, 1] for counter ``j`` of stream ``key`` (53 random bits)."""
    return ((_mix(key ^ j) >> 11) + 1) * 2.0**-53


class Link:
    """A rate that changes in time; integrates bits over the SNR segments."""

    def __init__(self, snr: SnrProcess, rate: RateModel, max_segments: int = 10_000_000) -> None:
        self.snr, self.rate, self.max_segments = snr, rate, max_segments
        self._rates: dict[int, np.ndarray] = {}

    def bits_between(self, t0: float, t1: float) -> float:
        """Bits the rate carries from ``t0`` to ``t1`` (what a transfer sent before it was cut)."""
        t, total = t0, 0.0
        while t < t1:
            snr_db, end = self.snr.segment(t)
            stop = min(end, t1)
            total += self.rate.rate_bps(snr_db) * (stop - t)
            t = stop
        return total

    def _block_rates(self, c: int) -> np.ndarray:
        """Rate in bit/s of each block of chunk ``c`` of a block-fading SNR (cached with the chunk)."""
        got = self._rates.get(c)
        if got is None:
            got = self._rates[c] = self.rate.rates_of_linear(self.snr.chunk_lin(c))
            if len(self._rates) > self.snr.KEEP:
                self._rates.pop(next(iter(self._rates)))
        return got

    def _block_transfer_time(self, t0: float, bits: float) -> float:
        """:meth:`transfer_time` over block fading: whole chunks of blocks at a time, with numpy."""
        snr, tc = self.snr, self.snr.tc
        i = snr.block(t0)
        c, j = divmod(i, snr.CHUNK)
        r, end = float(self._block_rates(c)[j]), (i + 1) * tc
        if r > 0 and bits <= r * (end - t0):
            return bits / r
        left, i = bits - r * (end - t0), i + 1
        for _ in range(4):  # most transfers end within a few blocks: plain arithmetic is faster there
            if left <= 0:
                return i * tc - t0
            c, j = divmod(i, snr.CHUNK)
            r = float(self._block_rates(c)[j])
            if r > 0 and left <= r * tc:
                return i * tc + left / r - t0
            left, i = left - r * tc, i + 1
        for _ in range(self.max_segments // snr.CHUNK + 1):
            if left <= 0:
                return i * tc - t0
            c, j = divmod(i, snr.CHUNK)
            rates = self._block_rates(c)[j:]
            cum = np.cumsum(rates) * tc  # bits sent by the end of each block
            k = int(np.searchsorted(cum, left))  # the first block by whose end all is sent
            if k < len(cum):
                return (i + k) * tc + (left - (cum[k - 1] if k else 0.0)) / float(rates[k]) - t0
            left, i = left - float(cum[-1]), i + len(cum)
        return math.inf

    def transfer_time(self, t0: float, bits: float) -> float:
        """Seconds to send ``bits`` starting at ``t0``; inf if the rate never allows it."""
        if isinstance(self.snr, BlockFading):
            return self._block_transfer_time(t0, float(bits))
        t, left = t0, float(bits)
        for _ in range(self.max_segments):
            if left <= 0:
                return t - t0
            snr_db, end = self.snr.segment(t)
            r = self.rate.rate_bps(snr_db)
            if r > 0 and left <= r * (end - t):
                return t + left / r - t0
            if math.isinf(end):
                return math.inf
            if end <= t:
                raise RuntimeError(f"SNR process made no progress at t={t}")
            left -= r * (end - t)
            t = end
        return math.inf


def packets(payload_bytes: int, ch: Channel) -> tuple[int, int]:
    """(number of packets, bytes on the air including headers) for one payload.

    An offloaded task always sends at least one packet: a zero-byte payload (an entropy-coded
    feature whose symbols cost nothing under the model) still needs its header on the air.
    """
    per = ch.mtu_bytes - ch.header_bytes
    n = max(1, -(-int(payload_bytes) // per))
    return n, int(payload_bytes) + n * ch.header_bytes


def air_bytes(payload_bytes: np.ndarray, ch: Channel) -> np.ndarray:
    """:func:`packets`' bytes on the air for an array of payloads (one transmission each)."""
    b = np.asarray(payload_bytes, dtype=np.int64)
    n = np.maximum(1, -(-b // (ch.mtu_bytes - ch.header_bytes)))
    return b + n * ch.header_bytes
