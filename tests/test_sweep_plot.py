"""Sweeps run in parallel, resume without redoing finished points, and plot."""
import pandas as pd
from helpers import simple_profile, write_scenario

from sim.cli import main


def _scenario(tmp_path):
    prof = simple_profile(tmp_path / "p", payload=4000, n=50)
    return write_scenario(
        tmp_path / "s.yaml", prof, schemes=["local", "split"], seeds=[0, 1],
        tasks={"arrival": {"process": "poisson", "rate_per_s": 20}, "count": 80, "deadline_ms": 30},
        channel={"bandwidth_hz": 1e6, "snr_db": 10, "fading": {"model": "gilbert-elliott"}},
        sweep={"grid": {"channel.snr_db": [-5, 5, 15], "edge.speed": [1.0, 2.0]}})


def test_sweep_resumes_and_workers_agree(tmp_path):
    sc = _scenario(tmp_path)
    out1, out2 = tmp_path / "r1", tmp_path / "r2"
    assert main(["sweep", str(sc), "--out", str(out1), "--workers", "2", "--no-plot"]) == 0
    points = sorted((out1 / "points").glob("*.json"))
    assert len(points) == 3 * 2 * 2
    s1 = pd.read_csv(out1 / "summary.csv")
    assert len(s1) == 3 * 2 * 2 * 2
    # a poorer channel cannot help the split scheme meet its deadline
    split = s1[s1["scheme"] == "split"].groupby("channel.snr_db")["hit_rate"].mean()
    assert split[-5] < split[15]
    # interrupt: lose one point, touch the others' mtimes record, rerun
    victim = points[3]
    victim.unlink()
    mtimes = {p: p.stat().st_mtime_ns for p in points if p != victim}
    assert main(["sweep", str(sc), "--out", str(out1), "--workers", "1", "--no-plot"]) == 0
    assert victim.exists()
    assert all(p.stat().st_mtime_ns == t for p, t in mtimes.items())
    pd.testing.assert_frame_equal(pd.read_csv(out1 / "summary.csv"), s1)
    # one worker gives the same numbers as two
    assert main(["sweep", str(sc), "--out", str(out2), "--no-plot"]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(out2 / "summary.csv"), s1)


def test_plot_writes_four_figures(tmp_path, capsys):
    sc = _scenario(tmp_path)
    out = tmp_path / "r"
    assert main(["sweep", str(sc), "--out", str(out), "--workers", "2"]) == 0
    names = {p.name for p in (out / "figures").iterdir()}
    for stem in ("hit_rate", "latency_cdf", "stage_breakdown", "acc_vs_deadline"):
        assert {f"{stem}.png", f"{stem}.svg"} <= names
        assert (out / "figures" / f"{stem}.png").stat().st_size > 5000
    ci = pd.read_csv(out / "summary_ci.csv")
    assert {"hit_rate_ci95", "acc_within_deadline"} <= set(ci.columns) and ci["seeds"].eq(2).all()
    assert main(["plot", str(tmp_path / "nothing-here")]) == 2


def test_records_dataset_reads_and_exports_with_swept_keys(tmp_path, capsys):
    from sim.results import read_records

    sc = _scenario(tmp_path)
    out = tmp_path / "r"
    assert main(["sweep", str(sc), "--out", str(out), "--no-plot"]) == 0
    summary = pd.read_csv(out / "summary.csv")
    rec = read_records(out, ["channel.snr_db", "edge.speed", "scheme", "seed", "status", "no_such_column"])
    assert list(rec.columns) == ["channel.snr_db", "edge.speed", "scheme", "seed", "status"]  # only those asked
    assert len(rec) == summary["tasks"].sum() and set(rec["channel.snr_db"]) == {-5, 5, 15}
    counts = rec.groupby(["channel.snr_db", "edge.speed", "scheme", "seed"]).size()
    assert (counts == 80).all() and len(counts) == len(summary)
    assert main(["export", str(out)]) == 0
    csv = pd.read_csv(out / "records.csv")
    assert list(csv.columns[:4]) == ["channel.snr_db", "edge.speed", "scheme", "seed"] and len(csv) == len(rec)
    assert (csv.groupby("status").size() == rec.groupby("status").size()).all()
    assert main(["export", str(tmp_path / "nothing")]) == 2


def test_records_dataset_keeps_the_type_of_each_swept_key(tmp_path):
    from sim.results import read_records

    prof = simple_profile(tmp_path / "p", payload=4000, n=20)
    sc = write_scenario(tmp_path / "s.yaml", prof, schemes=["split"],
                        tasks={"arrival": {"process": "periodic", "period_ms": 50}, "count": 5},
                        channel={"fading": {"model": "none", "coherence_ms": 5.0}},
                        sweep={"grid": {"channel.fading.model": ["none", "rayleigh"], "edge.speed": [0.5, 2.0],
                                        "devices.count": [1, 3]}})
    out = tmp_path / "r"
    assert main(["sweep", str(sc), "--out", str(out), "--no-plot"]) == 0
    rec = read_records(out)
    model = rec["channel.fading.model"]
    assert pd.api.types.is_string_dtype(model) and set(model) == {"none", "rayleigh"}
    assert rec["edge.speed"].dtype == float and set(rec["edge.speed"]) == {0.5, 2.0}
    assert rec["devices.count"].dtype.kind == "i" and set(rec["devices.count"]) == {1, 3}
    # each partition holds its own point's tasks: 5 per device
    sizes = rec.groupby(["channel.fading.model", "edge.speed", "devices.count"]).size()
    assert all(n == 5 * dc for (_, _, dc), n in sizes.items())


def test_records_are_copied_where_hard_links_fail_and_stray_hidden_files_are_ignored(tmp_path, monkeypatch):
    # a file system without hard links (os.link raises): the records folder holds copies, read
    # back as the linked one; a stray hidden file in a partition (an editor's or NFS's) is not a
    # records file and is not read
    import os

    from sim.results import read_records

    sc = _scenario(tmp_path)
    linked, copied = tmp_path / "linked", tmp_path / "copied"
    assert main(["sweep", str(sc), "--out", str(linked), "--no-plot"]) == 0

    def no_links(src, dst):
        raise OSError(95, "Operation not supported")

    monkeypatch.setattr(os, "link", no_links)
    assert main(["sweep", str(sc), "--out", str(copied), "--no-plot"]) == 0
    files = sorted((copied / "records").rglob("*.parquet"))
    assert len(files) == 3 * 2 * 2 and all(f.stat().st_nlink == 1 for f in files)
    assert all(f.stat().st_nlink == 2 for f in (linked / "records").rglob("*.parquet"))
    keys = ["channel.snr_db", "edge.speed", "scheme", "seed", "device", "task"]
    want = read_records(linked).sort_values(keys, ignore_index=True)
    pd.testing.assert_frame_equal(read_records(copied).sort_values(keys, ignore_index=True), want)
    (files[0].parent / ".nfs0000000001").write_bytes(b"not parquet")
    pd.testing.assert_frame_equal(read_records(copied).sort_values(keys, ignore_index=True), want)


def test_a_swept_path_is_one_partition_and_a_stale_temporary_folder_is_not_assembled(tmp_path):
    # arrival traces swept by path: each value, slashes and all, is one hive segment that reads
    # back as the path; a temporary records folder left by a crash of an earlier assembly with the
    # same process id is removed before assembling, not merged into the dataset
    import os
    import shutil

    from sim.results import read_records

    prof = simple_profile(tmp_path / "p", payload=4000, n=20)
    (tmp_path / "tr").mkdir()
    traces = [str(tmp_path / "tr" / f"{n}.csv") for n in ("one", "two")]
    for path, times in zip(traces, (["0.0", "0.05"], ["0.0", "0.02", "0.04"])):
        with open(path, "w") as f:
            f.write("time_s\n" + "\n".join(times) + "\n")
    sc = write_scenario(tmp_path / "s.yaml", prof, schemes=["split"],
                        tasks={"arrival": {"process": "trace", "trace": traces[0]}, "count": 5},
                        sweep={"grid": {"tasks.arrival.trace": traces}})
    out = tmp_path / "r"
    assert main(["sweep", str(sc), "--out", str(out), "--no-plot"]) == 0
    stale = out / f".records.{os.getpid()}.tmp" / "tasks.arrival.trace=stale"
    stale.mkdir(parents=True)
    shutil.copyfile(next((out / "points").glob("*.parquet")), stale / "x.parquet")
    assert main(["sweep", str(sc), "--out", str(out), "--no-plot"]) == 0  # finished: assembled again
    parts = sorted(p.name for p in (out / "records").iterdir() if p.is_dir())
    assert len(parts) == 2 and all("/" not in p and "%2F" in p for p in parts)
    rec = read_records(out)
    assert rec.groupby("tasks.arrival.trace").size().to_dict() == {traces[0]: 2, traces[1]: 3}
