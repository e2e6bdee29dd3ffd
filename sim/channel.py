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
_CQI_LIN = tuple(10 ** (x / 10) for x in NR_CQI1_SNR_DB)
_CQI_EFF = np.array((0.0, *NR_CQI1_EFFICIENCY))
_CQI_LIN_NP = np.array(_CQI_LIN)
_ONE = np.array(1.0)


def rng_for(seed: int, *stream: int) -> np.random.Generator:
    """An independent random stream for (seed, stream...): common random numbers across schemes.

    The stream of ``np.random.default_rng(SeedSequence(...))``, built directly: default_rng's own
    checks cost as much as the seeding, and a run of many devices builds two per device."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, *stream])))


# numpy's SeedSequence (O'Neill's seed_seq_fe, numpy/random/bit_generator.pyx) and PCG64's
# seeding (pcg64.c), for rng_streams: the same 32-bit hash, vectorised over keys
_SS_INIT_A, _SS_MULT_A, _SS_INIT_B, _SS_MULT_B = 0x43B0D7E5, 0x931E8875, 0x8B51F9DD, 0x58F38DED
_SS_MIX_L, _SS_MIX_R, _SS_POOL = 0xCA01F9DD, 0x4973F715, 4
_PCG_MULT = 0x2360ED051FC65DA44385DF649FCCF645
_M32, _M128 = 0xFFFFFFFF, (1 << 128) - 1


def _words(n: int) -> list[int]:
    """The 32-bit words SeedSequence makes of a non-negative integer (least significant first)."""
    out = [n & _M32]
    while n > _M32:
        n >>= 32
        out.append(n & _M32)
    return out


def _pcg64_states(prefix: tuple[int, ...], last: np.ndarray) -> list[tuple[int, int]]:
    """(state, inc) of ``PCG64(SeedSequence([*prefix, x]))`` for every x of ``last`` (each below 2^32).

    The SeedSequence hash is data-independent in its constants, so it runs on whole arrays."""
    if len(last) and int(last.max()) > _M32:
        raise ValueError("each key's last part must fit one 32-bit word (a device index below 2^32)")
    entropy = [np.full(len(last), w, dtype=np.uint32) for p in prefix for w in _words(int(p))]
    entropy.append(last.astype(np.uint32))
    h = _SS_INIT_A

    def hashmix(v):
        nonlocal h
        v = v ^ np.uint32(h)
        h = (h * _SS_MULT_A) & _M32
        v = v * np.uint32(h)
        return v ^ (v >> np.uint32(16))

    def mix(x, y):
        r = np.uint32(_SS_MIX_L) * x - np.uint32(_SS_MIX_R) * y
        return r ^ (r >> np.uint32(16))

    zero = np.zeros(len(last), dtype=np.uint32)
    pool = [hashmix(entropy[i] if i < len(entropy) else zero) for i in range(_SS_POOL)]
    for src in range(_SS_POOL):
        for dst in range(_SS_POOL):
            if src != dst:
                pool[dst] = mix(pool[dst], hashmix(pool[src]))
    for src in range(_SS_POOL, len(entropy)):
        for dst in range(_SS_POOL):
            pool[dst] = mix(pool[dst], hashmix(entropy[src]))
    h, words = _SS_INIT_B, []
    for i in range(8):  # generate_state(4, uint64): 8 words, little-endian pairs
        v = pool[i % _SS_POOL] ^ np.uint32(h)
        h = (h * _SS_MULT_B) & _M32
        v = v * np.uint32(h)
        words.append((v ^ (v >> np.uint32(16))).astype(np.uint64))
    u64 = [(words[2 * j] | (words[2 * j + 1] << np.uint64(32))).tolist() for j in range(4)]
    out = []
    for s0, s1, i0, i1 in zip(*u64):
        inc = ((((i0 << 64) | i1) << 1) | 1) & _M128
        state = ((inc + ((s0 << 64) | s1)) * _PCG_MULT + inc) & _M128  # from 0: a step (inc), + seed, a step
        out.append((state, inc))
    return out


def rng_streams(seed: int, stream: int, count: int):
    """``rng_for(seed, stream, d)`` for d = 0 ... count - 1: the same streams, built about ten times
    faster (one hash over all keys, then one generator re-seeded per key). The generator yielded
    is one object: use each stream up before taking the next."""
    bits = np.random.PCG64(0)  # (its seed is replaced)
    gen = np.random.Generator(bits)
    for state, inc in _pcg64_states((seed, stream), np.arange(count)):
        bits.state = {"bit_generator": "PCG64", "state": {"state": state, "inc": inc}, "has_uint32": 0,
                      "uinteger": 0}
        yield gen


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

    Block i's gain is a function of (key, i) alone: a counter-based draw (SplitMix64 at position
    2i and 2i + 1 of the stream ``key``), turned into |h|^2 by inversion (Rayleigh: -ln u, an
    Exp(1) variate) or Box-Muller (Rician: two Gaussians around the line-of-sight component). A
    block is drawn when a time inside it is queried, in a microsecond, the same whatever the order
    of queries, and nothing is kept: memory does not grow with simulated time, and the cost of a
    query does not depend on how far apart queries are.
    """

    def __init__(self, mean_snr_db: float, coherence_s: float, key: tuple[int, ...],
                 k_factor: float | None = None) -> None:
        self.mean_lin, self.tc, self.k = 10 ** (mean_snr_db / 10), coherence_s, k_factor
        z = 0x46414445  # "FADE"
        for part in key:
            z = _mix(z ^ (int(part) & _MASK))
        self.key = z
        self._neg_mean = np.array(-self.mean_lin)  # (0-d operands: numpy scalars cost more per call)
        self._off = np.zeros((), np.uint64)  # gains' first counter, written in place
        if k_factor is not None:
            self._los, self._s = math.sqrt(k_factor / (k_factor + 1)), math.sqrt(1 / (k_factor + 1))

    def gain(self, i: int) -> float:
        """Linear SNR of block i (|h|^2 times the mean SNR)."""
        base = self.key + 2 * i * _GAMMA
        u1 = ((_mix(base & _MASK) >> 11) + 1) * 2.0**-53  # in (0, 1]
        if self.k is None:
            return -math.log(u1) * self.mean_lin
        u2 = (_mix((base + _GAMMA) & _MASK) >> 11) * 2.0**-53
        r = math.sqrt(-math.log(u1))  # re, im ~ N(0, 1/2): radius^2 = -ln u1
        a, b = self._los + self._s * (r * math.cos(2 * math.pi * u2)), self._s * (r * math.sin(2 * math.pi * u2))
        return (a * a + b * b) * self.mean_lin

    def gains(self, i: int, n: int) -> np.ndarray:
        """:meth:`gain` of blocks i ... i + n - 1 with numpy: the same draws and the same operations
        (numpy's log, cos and sin may differ from the math module's in the last bit)."""
        # block i + j's counter, plus the gamma _mix adds first: base + 2 j gamma + gamma
        off = self._off
        off[()] = (self.key + (2 * i + 1) * _GAMMA) & _MASK
        z = np.add(_steps(n), off)
        if self.k is None:
            u1 = _uniform_np(z, 1)
            np.log(u1, u1)
            return np.multiply(u1, self._neg_mean, u1)
        u2 = _uniform_np(np.add(z, _U64[_GAMMA]), 0)
        r = np.sqrt(-np.log(_uniform_np(z, 1)))
        u2 *= 2 * math.pi
        a, b = self._los + self._s * (r * np.cos(u2)), self._s * (r * np.sin(u2))
        return (a * a + b * b) * self.mean_lin

    def block(self, t: float) -> int:
        """Index of the block holding time ``t``: block i spans [i tc, (i + 1) tc)."""
        i = int(t // self.tc)
        if (i + 1) * self.tc <= t:  # floating point: 0.03 // 0.01 == 2 (one step at most below 2^52 blocks)
            i += 1
        return i

    def segment(self, t: float) -> tuple[float, float]:
        i = self.block(t)
        return 10 * math.log10(max(self.gain(i), 1e-30)), (i + 1) * self.tc


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


def make_snr_process(ch: Channel, seed: int, device: int = 0, mean_snr_db: float | None = None) -> SnrProcess:
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
                           f.k_factor if f.model == "rician" else None)
    if f.model == "gilbert-elliott":
        rng = rng_for(seed, 1) if d == 0 else rng_for(seed, 1, d)
        return GilbertElliott(mean, f.bad_offset_db, f.good_mean_ms / 1e3, f.bad_mean_ms / 1e3, rng)
    return TraceSnr(f.trace, mean - ch.snr_db)


class RateModel:
    """Maps SNR (dB) to a bit rate (bit/s) and says how often a packet must be sent."""

    def __init__(self, rate: Rate, bandwidth_hz: float) -> None:
        self.cfg, self.bw = rate, bandwidth_hz
        # the products rate_of_linear makes, as 0-d arrays for the numpy forms
        self._bw = np.array(float(bandwidth_hz))
        self._eff_bw = np.array(rate.efficiency * self.bw) if rate.model == "shannon" else None
        self._harq: dict[tuple[int, int], int] = {}  # (seed, device) -> its HARQ stream key

    def rates_of_linear(self, snr_lin: np.ndarray) -> np.ndarray:
        """:meth:`rate_of_linear` of an array, with the same operations."""
        if self.cfg.model == "shannon":  # (efficiency x bandwidth) x log2(1 + snr), in one new array
            out = np.add(snr_lin, _ONE)
            np.log2(out, out)
            return np.multiply(out, self._eff_bw, out)
        return np.multiply(_CQI_EFF[np.searchsorted(_CQI_LIN_NP, snr_lin, side="right")], self._bw)

    def rate_of_linear(self, snr_lin: float) -> float:
        """:meth:`rate_bps` of a linear SNR."""
        if self.cfg.model == "shannon":
            return self.cfg.efficiency * self.bw * math.log2(1 + snr_lin)
        i = bisect.bisect_right(_CQI_LIN, snr_lin)
        return 0.0 if i == 0 else NR_CQI1_EFFICIENCY[i - 1] * self.bw

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
        stream = self._harq.get((seed, device))
        if stream is None:
            stream = self._harq[(seed, device)] = _mix(_mix(seed ^ 0x4841_5251) ^ device)  # "HARQ" stream
        base = _mix(stream ^ task)
        if n_packets == 1:  # (most payloads: the same draw without the lists)
            t = 1 + int(math.log(uniform(base, 0)) / log_bler)
            return [min(t, limit)], t <= limit
        tries = [1 + int(math.log(uniform(base, j)) / log_bler) for j in range(n_packets)]
        return [min(t, limit) for t in tries], all(t <= limit for t in tries)


_MASK = (1 << 64) - 1
_GAMMA = 0x9E3779B97F4A7C15  # SplitMix64's increment


def _mix(z: int) -> int:
    """splitmix64's finaliser: a bijection of 64-bit integers whose outputs pass as independent."""
    z = (z + 0x9E3779B97F4A7C15) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


_U64 = {c: np.array(c, dtype=np.uint64) for c in (1, 11, 27, 30, 31, _GAMMA, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB)}
_F53 = np.array(2.0**-53)
_S11, _S27, _S30, _S31 = _U64[11], _U64[27], _U64[30], _U64[31]
_C1, _C2 = _U64[0xBF58476D1CE4E5B9], _U64[0x94D049BB133111EB]


_STEPS = np.zeros(0, dtype=np.uint64)


def _steps(n: int) -> np.ndarray:
    """2 j gamma (mod 2^64) for j = 0 ... n - 1: the counters' offsets of n blocks, kept and grown."""
    global _STEPS
    if len(_STEPS) < n:
        z = np.arange(max(n, 2 * len(_STEPS), 64), dtype=np.uint64)
        np.multiply(z, _U64[_GAMMA], out=z)
        np.add(z, z, out=z)
        _STEPS = z
    return _STEPS[:n]


def _uniform_np(z: np.ndarray, plus: int) -> np.ndarray:
    """((_mix(c) >> 11) + plus) * 2^-53 as float64 for an array ``z`` of c + gamma (uint64, mod 2^64):
    the counters with _mix's first addition already made (``z`` is overwritten).

    Explicit ufuncs on 0-d uint64 constants, outputs passed by position: numpy scalars, and
    keyword arguments, cost more per call, and the calls are most of the cost at these lengths.
    """
    t, shift, xor, mul = np.empty(len(z), np.uint64), np.right_shift, np.bitwise_xor, np.multiply
    shift(z, _S30, t)
    xor(z, t, z)
    mul(z, _C1, z)
    shift(z, _S27, t)
    xor(z, t, z)
    mul(z, _C2, z)
    shift(z, _S31, t)
    xor(z, t, z)
    shift(z, _S11, z)
    if plus:
        np.add(z, _U64[plus], z)  # below 2^53: exact, as it then is in float64
    f = z.astype(np.float64)  # exact (below 2^53); a float product is cheaper than a mixed one
    return mul(f, _F53, f)  # (the product by 2^-53 exact too)


def uniform(key: int, j: int) -> float:
    """A uniform number in (0, 1] for counter ``j`` of stream ``key`` (53 random bits)."""
    return ((_mix(key ^ j) >> 11) + 1) * 2.0**-53


def normal(key: int) -> float:
    """A standard normal number for stream ``key`` (Box-Muller on counters 0 and 1 of the stream)."""
    return math.sqrt(-2 * math.log(uniform(key, 0))) * math.cos(2 * math.pi * uniform(key, 1))


class Link:
    """A rate that changes in time; integrates bits over the SNR segments."""

    def __init__(self, snr: SnrProcess, rate: RateModel, max_segments: int = 10_000_000) -> None:
        self.snr, self.rate, self.max_segments = snr, rate, max_segments
        self._block = isinstance(snr, BlockFading)
        self._last = (-1, 0.0)  # (block, rate) last asked: packets of one transfer share blocks
        if self._block:  # the rate at the mean SNR (a guess of a transfer's span), and tc as a 0-d array
            self._mean_r, self._tc = rate.rate_of_linear(snr.mean_lin), np.array(snr.tc)

    def _block_rate(self, i: int) -> float:
        if self._last[0] != i:
            self._last = (i, self.rate.rate_of_linear(self.snr.gain(i)))
        return self._last[1]

    def _rate_at(self, t: float) -> tuple[float, float]:
        """(rate in bit/s at ``t``, time at which it next changes)."""
        if self._block:
            i = self.snr.block(t)
            return self._block_rate(i), (i + 1) * self.snr.tc
        snr_db, end = self.snr.segment(t)
        return self.rate.rate_bps(snr_db), end

    def bits_between(self, t0: float, t1: float) -> float:
        """Bits the rate carries from ``t0`` to ``t1`` (what a transfer sent before it was cut)."""
        t, total = t0, 0.0
        while t < t1:
            r, end = self._rate_at(t)
            stop = min(end, t1)
            total += r * (stop - t)
            t = stop
        return total

    SCALAR_BLOCKS = 4  # a transfer expected to end within this many more blocks walks them one by one

    def _block_transfer_time(self, t0: float, bits: float) -> float:
        """:meth:`transfer_time` over block fading: most transfers end within a few blocks, taken one
        by one; a longer one goes on in numpy batches of growing size (each block is its own draw:
        nothing is generated that the transfer does not span)."""
        if bits <= 0:
            return 0.0
        snr, tc = self.snr, self.snr.tc
        i = snr.block(t0)
        r, end = self._block_rate(i), (i + 1) * tc
        if r > 0 and bits <= r * (end - t0):
            return bits / r
        # from here on bits are left (left > 0): each step ends the transfer or sends less than left
        left, i = bits - r * (end - t0), i + 1
        mean_r = self._mean_r
        span = left / (mean_r * tc) if mean_r > 0 else math.inf
        budget = self.max_segments
        if span <= self.SCALAR_BLOCKS:  # a few more blocks, probably: one by one
            for _ in range(min(self.SCALAR_BLOCKS, budget)):
                r = self._block_rate(i)
                if r > 0 and left <= r * tc:
                    return i * tc + left / r - t0
                left, i = left - r * tc, i + 1
            budget -= self.SCALAR_BLOCKS
        n = int(1.5 * span) + 16 if span < math.inf else 64  # most end within one batch
        while budget > 0:
            n = min(n, budget, 1 << 16)
            rates = self.rate.rates_of_linear(snr.gains(i, n))
            cum = np.multiply(rates, self._tc)
            np.add.accumulate(cum, out=cum)  # bits sent by the end of each block (cumsum, at half the cost)
            k = int(cum.searchsorted(left))  # the first block by whose end all is sent
            if k < n:
                return (i + k) * tc + (left - (float(cum[k - 1]) if k else 0.0)) / float(rates[k]) - t0
            left, i, budget, n = left - float(cum[-1]), i + n, budget - n, 2 * n
        return math.inf

    def transfer_time(self, t0: float, bits: float) -> float:
        """Seconds to send ``bits`` starting at ``t0``; inf if the rate never allows it."""
        if self._block:
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


def packet_counts(payload_bytes: np.ndarray, ch: Channel) -> np.ndarray:
    """:func:`packets`' number of packets for an array of payloads."""
    b = np.asarray(payload_bytes, dtype=np.int64)
    return np.maximum(1, -(-b // (ch.mtu_bytes - ch.header_bytes)))


def air_bytes(payload_bytes: np.ndarray, ch: Channel) -> np.ndarray:
    """:func:`packets`' bytes on the air for an array of payloads (one transmission each)."""
    b = np.asarray(payload_bytes, dtype=np.int64)
    return b + packet_counts(b, ch) * ch.header_bytes
