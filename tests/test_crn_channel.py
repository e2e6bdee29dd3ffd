"""Common random numbers, reproducibility, and the channel's statistics."""
import math

import numpy as np
import pandas as pd
import pytest
from helpers import write_profile, write_scenario

from sim.channel import BlockFading, GilbertElliott, Link, RateModel, make_snr_process, rng_for
from sim.engine import simulate
from sim.profile import load_profile
from sim.results import records_frame, summarize
from sim.scenario import Rate, load_scenario


def _profile(tmp_path):
    rng = np.random.default_rng(1)
    n = 200
    return write_profile(
        tmp_path / "p",
        stages={"full": {"hw": {1: 30.0}}, "head": {"hw": {1: 8.0}}, "enc": {"hw": {1: 0.5}},
                "png": {"hw": {1: 0.2}}, "tail": {"hw": {1: 3.0, 8: 9.0}}},
        schemes={"local": ("local", ["full"], []), "offload": ("offload", ["png"], ["tail"]),
                 "aecnn": ("split", ["head", "enc"], ["tail"])},
        columns={"label": rng.integers(0, 10, n), "local_bytes": np.zeros(n), "local_correct": rng.random(n) < 0.9,
                 "offload_bytes": rng.integers(300, 900, n), "offload_correct": rng.random(n) < 0.9,
                 "aecnn_bytes": rng.integers(20, 60, n), "aecnn_correct": rng.random(n) < 0.88})


def _scenario(tmp_path, prof, **kw):
    base = dict(schemes=["local", "offload", "aecnn"], seeds=[3],
                tasks={"arrival": {"process": "poisson", "rate_per_s": 20}, "count": 300, "deadline_ms": 80},
                devices={"count": 3, "hardware": "hw", "speed": 1.0},
                channel={"bandwidth_hz": 2e5, "snr_db": 3, "fading": {"model": "rayleigh", "coherence_ms": 5}})
    base.update(kw)
    return load_scenario(write_scenario(tmp_path / "s.yaml", prof, **base))


def test_same_seed_same_summary(tmp_path):
    prof = _profile(tmp_path)
    sc = _scenario(tmp_path, prof)
    p = load_profile(prof)
    a, b = simulate(sc, p, "aecnn", 3), simulate(sc, p, "aecnn", 3)
    sa, sb = summarize(records_frame(a), a), summarize(records_frame(b), b)
    assert sa == sb
    c = simulate(sc, p, "aecnn", 4)
    assert summarize(records_frame(c), c) != sa  # another seed really is another run


def test_schemes_share_arrivals_images_and_channel(tmp_path):
    prof = _profile(tmp_path)
    sc = _scenario(tmp_path, prof)
    p = load_profile(prof)
    frames = {s: records_frame(simulate(sc, p, s, 3)).sort_values(["device", "task"]) for s in sc.schemes}
    ref = frames["local"]
    for s, f in frames.items():
        assert f["arrival_ms"].tolist() == ref["arrival_ms"].tolist(), s
        assert f["image"].tolist() == ref["image"].tolist(), s
    # the channel: the same SNR at the same times, whatever traffic asked for it in whatever order
    a, b = make_snr_process(sc.channel, 3), make_snr_process(sc.channel, 3)
    times = np.linspace(0, 20, 500)
    fwd = [a.segment(t)[0] for t in times]
    rev = [b.segment(t)[0] for t in times[::-1]][::-1]
    assert fwd == rev
    assert len(set(np.round(fwd, 6))) > 100  # and it does fade


def test_gilbert_elliott_stationary_share():
    ge = GilbertElliott(10.0, -15.0, good_mean_s=0.8, bad_mean_s=0.2, rng=rng_for(5, 1))
    share = ge.share_good(20_000.0)
    assert abs(share - 0.8) < 0.01, share
    # equal mean SNR: the time-average linear SNR is the scenario's mean
    lin = 0.8 * 10 ** (ge.snr_db[True] / 10) + 0.2 * 10 ** (ge.snr_db[False] / 10)
    assert math.isclose(10 * math.log10(lin), 10.0, abs_tol=1e-9)


def test_rayleigh_mean_gain_and_transfer_across_blocks():
    bf = BlockFading(0.0, 0.01, (1, 1))
    g = [10 ** (bf.segment(i * 0.01 + 0.005)[0] / 10) for i in range(20000)]
    assert abs(np.mean(g) - 1.0) < 0.03
    link = Link(bf, RateModel(Rate(model="shannon", efficiency=1.0), 1e5))
    t = link.transfer_time(0.0, 1e5)  # about a second of air time: spans ~100 coherence blocks
    bits, tt = 0.0, 0.0
    while tt < t - 1e-12:
        snr, end = bf.segment(tt)
        dt = min(end, t) - tt
        bits += 1e5 * math.log2(1 + 10 ** (snr / 10)) * dt
        tt += dt
    assert t > 0.3 and abs(bits - 1e5) < 1e-3


def test_cqi_rate_table_and_outage():
    rm = RateModel(Rate(model="cqi", bler=0.1, max_harq=3), 1e6)
    assert rm.rate_bps(-20) == 0.0
    assert math.isclose(rm.rate_bps(30), 5.5547e6)
    tries = np.array(rm.attempts(10_000, 0, 0, 0)[0])
    assert abs(tries.mean() - (1 + 0.1 + 0.01 + 0.001)) < 0.02 and tries.max() <= 4


def test_harq_losses_and_outage_statuses(tmp_path):
    prof = _profile(tmp_path)
    sc = _scenario(tmp_path, prof, channel={"bandwidth_hz": 2e5, "snr_db": -30, "fading": {"model": "none"},
                                            "rate": {"model": "cqi"}})
    rec = records_frame(simulate(sc, load_profile(prof), "aecnn", 0))
    assert (rec["status"] == "outage").all() and not rec["met"].any()


def test_drop_frees_resources(tmp_path):
    prof = _profile(tmp_path)
    kw = dict(tasks={"arrival": {"process": "periodic", "period_ms": 10}, "count": 200, "deadline_ms": 40},
              devices={"count": 1, "hardware": "hw", "speed": 1.0})
    late = records_frame(simulate(_scenario(tmp_path, prof, **kw), load_profile(prof), "local", 0))
    kw["tasks"]["on_deadline"] = "drop"
    drop = records_frame(simulate(_scenario(tmp_path, prof, **kw), load_profile(prof), "local", 0))
    assert late["status"].eq("done").all() and late["latency_ms"].max() > 1000  # queue grows: 30 ms work per 10 ms
    assert drop["status"].eq("dropped").sum() > 100
    assert drop.loc[drop["status"] == "done", "latency_ms"].max() <= 40 + 1e-9


@pytest.mark.parametrize("gpus,edge_speed", [(1, 1.0), (3, 0.05)])
def test_lindley_queues_equal_simpy_resources(tmp_path, gpus, edge_speed):
    prof = _profile(tmp_path)
    sc = _scenario(tmp_path, prof, tasks={"arrival": {"process": "poisson", "rate_per_s": 25}, "count": 400,
                                          "deadline_ms": 80},
                   edge={"hardware": "hw", "speed": edge_speed, "gpus": gpus})
    p = load_profile(prof)
    for scheme in sc.schemes:
        fast = records_frame(simulate(sc, p, scheme, 3, lindley=True))
        slow = records_frame(simulate(sc, p, scheme, 3, lindley=False))
        pd.testing.assert_frame_equal(fast, slow, check_exact=False, rtol=1e-12, atol=1e-9)
        assert fast["device_wait_ms"].max() > 0 and (scheme == "local" or fast["uplink_wait_ms"].max() > 0)
        if gpus > 1 and scheme != "local":  # a slow edge: jobs queue for its GPUs
            assert fast["edge_wait_ms"].max() > 0


class _Plain:
    """A block-fading SNR seen only through segment(): Link integrates it block by block."""

    def __init__(self, bf):
        self.bf = bf

    def segment(self, t):
        return self.bf.segment(t)


def test_block_fading_is_drawn_lazily_in_any_order_with_bounded_memory():
    a, b = BlockFading(3.0, 1e-4, (5, 1)), BlockFading(3.0, 1e-4, (5, 1))
    times = [1e6, 0.0, 12.34567, 1e6 + 0.5, 3e-4]
    first = [a.segment(t) for t in times]
    second = [b.segment(t) for t in reversed(times)][::-1]
    assert first == second  # a block's value does not depend on what was asked before
    state = dict(vars(a))
    link = Link(a, RateModel(Rate(model="shannon", efficiency=1.0), 1e6))
    for t in np.linspace(0, 1000, 500):
        a.segment(float(t))
        link.transfer_time(float(t), 5e4)
    assert vars(a) == state  # nothing is kept: memory does not grow with simulated time
    assert set(vars(link)) == {"snr", "rate", "max_segments", "_block", "_last", "_mean_r", "_tc"}
    # the numpy constants and scratch of the batched draws are 0-d: nothing is kept in them either
    assert all(v.shape == () for v in (*vars(a).values(), *vars(link).values()) if isinstance(v, np.ndarray))
    assert BlockFading(3.0, 1e-4, (6, 1)).segment(0.0) != a.segment(0.0)  # another seed, other draws


@pytest.mark.parametrize("model", ["shannon", "cqi"])
def test_vectorised_block_transfer_matches_block_by_block(model):
    rate = Rate(model=model, efficiency=0.7) if model == "shannon" else Rate(model="cqi", bler=0.0)
    bf = BlockFading(0.0, 1e-4, (9, 1))
    fast, slow = Link(bf, RateModel(rate, 1e6)), Link(_Plain(bf), RateModel(rate, 1e6))
    rng = np.random.default_rng(0)
    for t0, bits in zip(rng.uniform(0, 0.3, 200), rng.uniform(1, 2e5, 200)):  # up to ~2000 blocks, across chunks
        assert fast.transfer_time(t0, bits) == pytest.approx(slow.transfer_time(t0, bits), rel=1e-9, abs=1e-12)
    assert fast.transfer_time(0.1024, 1.0) == pytest.approx(slow.transfer_time(0.1024, 1.0))  # a chunk boundary
    # transfers of a few blocks: some outlast the blocks walked one by one and end in the first of a batch
    for t0, bits in zip(rng.uniform(0, 0.3, 3000), rng.uniform(20, 400, 3000)):
        assert fast.transfer_time(t0, bits) == pytest.approx(slow.transfer_time(t0, bits), rel=1e-9, abs=1e-12)


def _ks(sample: np.ndarray, cdf) -> float:
    """Kolmogorov-Smirnov distance of a sample from a CDF."""
    x = np.sort(sample)
    f, n = cdf(x), len(x)
    return float(max(np.max(np.arange(1, n + 1) / n - f), np.max(f - np.arange(n) / n)))


def test_block_gains_follow_their_laws_independently():
    n = 100_000
    ray = BlockFading(3.0, 1e-3, (11, 1))
    g = np.array([ray.gain(i) for i in range(n)]) / 10 ** 0.3
    assert _ks(g, lambda x: 1 - np.exp(-x)) < 1.36 / math.sqrt(n)  # Exp(1): 95% KS bound
    assert abs(np.corrcoef(g[:-1], g[1:])[0, 1]) < 4 / math.sqrt(n)  # neighbouring blocks uncorrelated
    other = np.array([BlockFading(3.0, 1e-3, (11, 2)).gain(i) for i in range(n)]) / 10 ** 0.3
    assert abs(np.corrcoef(g, other)[0, 1]) < 4 / math.sqrt(n)  # another device's stream
    k = 3.0
    ric = np.array([BlockFading(0.0, 1e-3, (11, 1), k_factor=k).gain(i) for i in range(n)])
    # |h|^2 with E = 1 and E|h|^4 = (K^2 + 4K + 2) / (K + 1)^2 (Rician power moments)
    assert abs(ric.mean() - 1) < 0.01
    assert abs((ric**2).mean() - (k * k + 4 * k + 2) / (k + 1) ** 2) < 0.02
    assert abs(np.mean(ric < 0.1) - np.mean(g < 0.1)) > 0.05  # not Rayleigh: deep fades are rarer


@pytest.mark.parametrize("k", [None, 3.0])
def test_numpy_blocks_are_the_scalar_blocks(k):
    bf = BlockFading(2.0, 1e-3, (3, 5), k_factor=k)
    batch = bf.gains(123_456, 3000)
    one = np.array([bf.gain(i) for i in range(123_456, 126_456)])
    np.testing.assert_allclose(batch, one, rtol=1e-15, atol=0)  # the same draws (libm, numpy: last bit)
    assert np.mean(batch == one) > 0.99


def test_rng_for_is_the_stream_of_default_rng_on_the_seed_sequence():
    # built without default_rng for speed, the streams (arrivals, images, SNR) must not change
    for key in ([0, 2, 5], [3, 1], [7, 3, 1023]):
        ref = np.random.default_rng(np.random.SeedSequence(key))
        assert (rng_for(*key).random(64) == ref.random(64)).all()


@pytest.mark.parametrize("seed", [0, 9, 2**32 - 1, 2**32, 2**40 + 5, 2**64 + 17, 10**30])
def test_rng_streams_are_the_streams_of_rng_for(seed):
    # each device's arrivals and images come from rng_streams, built from one hash over all devices:
    # the same streams as rng_for, seeds of one to four 32-bit words included
    from sim.channel import rng_streams

    for stream in (2, 3, 2**33):
        for d, gen in enumerate(rng_streams(seed, stream, 70)):
            ref = rng_for(seed, stream, d)
            assert gen.bit_generator.state == ref.bit_generator.state, (seed, stream, d)
            assert (gen.random(6) == ref.random(6)).all(), (seed, stream, d)
            assert (gen.integers(0, 10_000, 5) == ref.integers(0, 10_000, 5)).all()


def test_rng_streams_refuse_a_device_index_past_one_word():
    from sim.channel import _pcg64_states

    assert len(_pcg64_states((0, 2), np.array([2**32 - 1]))) == 1
    with pytest.raises(ValueError, match=r"^each key.s last part must fit one 32-bit word"):
        _pcg64_states((0, 2), np.array([5, 2**32]))


def test_normal_draws_are_standard_normal():
    from sim.channel import _mix, normal

    n = 200_000
    z = np.array([normal(_mix(i)) for i in range(n)])
    assert abs(z.mean()) < 4 / math.sqrt(n) and abs(z.var() - 1) < 4 * math.sqrt(2 / n)
    cdf = np.vectorize(lambda x: 0.5 * (1 + math.erf(x / math.sqrt(2))))
    assert _ks(z, cdf) < 1.36 / math.sqrt(n)  # N(0, 1): 95% KS bound


def test_block_index_follows_the_products_i_times_tc():
    # block i spans [i tc, (i + 1) tc) with the products as computed: just below 267460 tc is block
    # 267459 though t / tc rounds to 267460
    bf = BlockFading(0.0, 1e-4, (1, 1))
    for k, tc in ((267460, 1e-4), (279268, 0.1), (3, 0.1), (7, 0.01)):
        bf.tc = tc
        below = math.nextafter(k * tc, 0)
        assert bf.block(below) == k - 1 and bf.block(k * tc) == k
        i = bf.block(below)
        assert i * tc <= below < (i + 1) * tc


def test_the_engine_s_rician_channel_has_the_rician_law():
    # |h|^2 of Rician K = 3: E = 1, E[x^2] = (2 + 4K + K^2) / (K + 1)^2 = 1.4375 (Rayleigh: 2)
    from sim.scenario import Channel, Fading

    ch = Channel(snr_db=0.0, fading=Fading(model="rician", k_factor=3.0, coherence_ms=1.0))
    proc = make_snr_process(ch, 0, 0)
    g = np.array([proc.gain(i) for i in range(40_000)])
    assert g.mean() == pytest.approx(1.0, abs=0.03) and (g**2).mean() == pytest.approx(1.4375, abs=0.06)


def test_cqi_rates_switch_at_each_threshold_in_both_paths():
    # at a CQI threshold exactly, the higher efficiency applies (scalar and numpy alike)
    from sim.channel import _CQI_LIN, NR_CQI1_EFFICIENCY

    model = RateModel(Rate(model="cqi", bler=0.0), 1e6)
    at = np.array(_CQI_LIN)
    below = np.nextafter(at, 0)
    assert model.rates_of_linear(at).tolist() == [e * 1e6 for e in NR_CQI1_EFFICIENCY]
    assert model.rates_of_linear(at).tolist() == [model.rate_of_linear(float(x)) for x in at]
    assert model.rates_of_linear(below).tolist() == [model.rate_of_linear(float(x)) for x in below]
    assert model.rates_of_linear(below)[0] == 0.0


def test_transfers_that_outlast_their_first_batch_and_a_first_query_in_block_one():
    # CQI at a mean SNR on a threshold: the rate at the mean SNR overstates the mean rate, the span
    # guessed from it falls short and long transfers run on over several numpy batches
    rate = Rate(model="cqi", bler=0.0)
    bf = BlockFading(-6.7, 1e-4, (4, 2))
    fast, slow = Link(bf, RateModel(rate, 1e6)), Link(_Plain(bf), RateModel(rate, 1e6))
    for t0, bits in zip(np.random.default_rng(1).uniform(0, 0.3, 40), np.geomspace(1e3, 3e6, 40)):
        assert fast.transfer_time(t0, bits) == pytest.approx(slow.transfer_time(t0, bits), rel=1e-9)
    shannon = Rate(model="shannon", efficiency=1.0)  # a rate above 0 in every block
    for t0 in (1.5e-4, 1.0e-4):  # a new link asked first about block 1
        new, ref = Link(bf, RateModel(shannon, 1e6)), Link(_Plain(bf), RateModel(shannon, 1e6))
        assert new.transfer_time(t0, 500.0) == pytest.approx(ref.transfer_time(t0, 500.0), rel=1e-9)


def test_the_engine_s_rayleigh_and_gilbert_elliott_channels_by_seed_and_law():
    from sim.scenario import Channel, Fading

    ray = make_snr_process(Channel(snr_db=0.0, fading=Fading(model="rayleigh", coherence_ms=1.0)), 0, 1)
    g = np.array([ray.gain(i) for i in range(40_000)])
    assert g.mean() == pytest.approx(1.0, abs=0.03) and (g**2).mean() == pytest.approx(2.0, abs=0.1)  # Exp(1)
    ge = Channel(snr_db=10.0, fading=Fading(model="gilbert-elliott", good_mean_ms=1.0, bad_mean_ms=1.0))
    for d in (0, 1):  # every device's channel changes with the seed
        a, b = (make_snr_process(ge, seed, d) for seed in (0, 1))
        assert [a.segment(t / 1e3) for t in range(200)] != [b.segment(t / 1e3) for t in range(200)]


def test_no_bits_take_no_time_and_a_mean_snr_below_every_cqi_level_still_sends():
    cqi = RateModel(Rate(model="cqi", bler=0.0), 1e6)
    dead = BlockFading(-12.0, 1e-4, (2, 1))  # mean SNR below CQI 1: most blocks carry nothing
    fast, slow = Link(dead, cqi), Link(_Plain(dead), cqi)
    for t0 in (0.0, 0.01234, 0.5):
        assert fast.transfer_time(t0, 0.0) == 0.0 and slow.transfer_time(t0, 0.0) == 0.0
        assert fast.transfer_time(t0, 50.0) == pytest.approx(slow.transfer_time(t0, 50.0), rel=1e-9)


def test_the_engine_s_gilbert_elliott_channel_spends_its_share_in_the_good_state():
    from sim.scenario import Channel, Fading

    ch = Channel(snr_db=10.0, fading=Fading(model="gilbert-elliott", good_mean_ms=30.0, bad_mean_ms=10.0))
    assert make_snr_process(ch, 0, 1).share_good(200.0) == pytest.approx(0.75, abs=0.03)


def test_gilbert_elliott_devices_have_their_own_realisations():
    from sim.scenario import Channel, Fading

    ge = Channel(snr_db=10.0, fading=Fading(model="gilbert-elliott", good_mean_ms=1.0, bad_mean_ms=1.0))
    seen = [tuple(make_snr_process(ge, 3, d).segment(t / 1e3) for t in range(300)) for d in (0, 1, 2)]
    assert len(set(seen)) == 3  # devices 0, 1 and 2: three independent state sequences
    shared = Channel(snr_db=10.0, fading=Fading(model="gilbert-elliott", good_mean_ms=1.0, bad_mean_ms=1.0,
                                                 shared=True))
    assert tuple(make_snr_process(shared, 3, 2).segment(t / 1e3) for t in range(300)) == seen[0]


def test_block_offsets_grown_past_their_cache_are_2_j_gamma():
    from sim import channel

    # ask for more than any earlier call kept, so the growth path runs whatever ran before
    n = 2 * len(channel._STEPS) + 1000
    steps = channel._steps(n)
    j = np.array([0, 1, 2, 63, 64, n // 2, n - 1], dtype=object)
    want = [(2 * int(k) * channel._GAMMA) % 2**64 for k in j]
    assert len(steps) == n and [int(steps[int(k)]) for k in j] == want
    assert len(channel._steps(5)) == 5 and int(channel._steps(5)[4]) == (8 * channel._GAMMA) % 2**64


def test_an_snr_process_that_stops_time_is_an_error_naming_the_instant():
    from sim.channel import SnrProcess

    class Stuck(SnrProcess):
        def segment(self, t):
            return -50.0, 0.25  # a segment that ends at 0.25 s whatever the time asked

    with pytest.raises(RuntimeError, match=r"no progress at t=0\.25"):
        Link(Stuck(), RateModel(Rate(), 1e6)).transfer_time(0.0, 1e9)
