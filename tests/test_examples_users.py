"""Examples are specs, part 2: what happens to runs around them. The examples 9-13
under examples/ (opting out during a run and withdrawing it, a cancel, a newer
publication during a run, scaling out and in during a run, the history view over
five runs in 60 days) are replayed (model.load_trace + model.replay) and their
outcome is asserted against what SPEC.md implies. The helpers are in
tests/example_support.py.

Every expected number is derived by hand from SPEC.md and the trace's timings; the
arithmetic is in the comments. Default timings (section 2, "Health, precisely"):
os_disk 120 s, extensions 60 s, app start 30 s, health wait 300 s. So a batch with a
probe takes 120 + 60 + 30 = 210 s (the run waits for the application, R6) and a batch
without one 120 + 60 = 180 s (no wait, R7). The first pre-batch check happens at the
run's start; with pause 0 the next check and batch follow at the batch's end (D7a).
History timestamps are the epoch 2018-10-01T00:00:00+00:00 plus the offset (section 1).
"""

from __future__ import annotations

from tests.example_support import (
    NEW,
    NEWER,
    OLD,
    batches,
    checks,
    history,
    instances,
    play,
    play_prefix,
    progress,
    rejected,
    warnings,
)


# --------------------------------------------------------------------------- 9
def test_d7_opt_out_lets_the_batch_finish_then_cancels_r12_user_run() -> None:
    """D7: opting out at 200 during batch 1 (100-310) lets it finish, then the Platform
    run ends Cancelled with error null. R12: a manual start at 400, while opted out,
    runs (startedBy User); a second opt-out at 500 does not affect it (D7)."""
    rep = play("opt-out-during-run.json")
    first, second = rep.result.runs
    assert (first.started_by, first.code, first.error) == ("Platform", "Cancelled", None)
    assert batches(first) == [([0, 1], 100, 310)]
    assert (first.start, first.end) == (100, 310)
    assert first.progress == progress(2, 0, 0, 8)
    # R12: instances already on the latest (0, 1) are not touched: scope 2-9.
    assert (second.started_by, second.target_version) == ("User", NEW)
    assert batches(second) == [
        ([2, 3], 400, 610),  # 400 + 210
        ([4, 5], 610, 820),
        ([6, 7], 820, 1030),
        ([8, 9], 1030, 1240),  # 400 + 4 x 210
    ]
    assert (second.code, second.error, second.end) == ("Completed", None, 1240)
    assert second.progress == progress(8, 0, 0, 0)
    assert rep.result.rejected == []
    assert instances(rep) == {
        i: (NEW, "running", "Succeeded", True, f"os-{i}-1") for i in range(10)
    }
    assert rep.result.time == 1240
    assert history(rep) == [
        (
            "Completed",
            "User",
            NEW,
            "2018-10-01T00:06:40+00:00",  # 400 s
            "2018-10-01T00:20:40+00:00",  # 1240 s = 20 min 40 s
            None,
        ),
        (
            "Cancelled",
            "Platform",
            NEW,
            "2018-10-01T00:01:40+00:00",
            "2018-10-01T00:05:10+00:00",  # 310 s
            None,
        ),
    ]


def test_d7_opting_in_again_before_the_decision_withdraws_the_opt_out() -> None:
    """D7: opt-out is judged by the setting when the run decides (310): opting in
    again at 200 withdraws the opt-out at 150, and the run completes as in example 1."""
    rep = play("opt-out-withdrawn.json")
    (run,) = rep.result.runs
    assert (run.code, run.error, run.end) == ("Completed", None, 1150)  # 100 + 5 x 210
    assert [b[0] for b in batches(run)] == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]
    assert run.progress == progress(10, 0, 0, 0)
    assert rep.result.rejected == []


# --------------------------------------------------------------------------- 10
def test_d7_r12_cancel_finishes_the_batch_and_409s() -> None:
    """D7: a cancel at 200 lets batch 1 (100-310) finish, then the run is Cancelled with
    error null. A cancel with no run and a manual start during a run are refused with
    409 (R12) and change nothing."""
    rep = play("cancel-upgrade.json")
    assert rejected(rep) == [
        (50, "cancel_upgrade", "409: no run is active"),
        (150, "start_upgrade", "409: a run is active"),
    ]
    (run,) = rep.result.runs
    assert (run.started_by, run.code, run.error) == ("Platform", "Cancelled", None)
    assert batches(run) == [([0, 1], 100, 310)]  # 100 + 210
    assert (run.start, run.end) == (100, 310)
    assert run.progress == progress(2, 0, 0, 8)
    states = instances(rep)
    assert {i: s[0] for i, s in states.items()} == {
        **{i: NEW for i in (0, 1)},
        **{i: OLD for i in range(2, 10)},
    }
    assert rep.result.time == 310
    assert history(rep) == [
        (
            "Cancelled",
            "Platform",
            NEW,
            "2018-10-01T00:01:40+00:00",
            "2018-10-01T00:05:10+00:00",  # 310 s = 5 min 10 s
            None,
        )
    ]


# --------------------------------------------------------------------------- 11
def test_d3_d4_publication_during_a_run_keeps_the_target_then_reruns() -> None:
    """D3: a publication at 500 does not change the running target; D4: when the run
    Completes (1150) a newer version exists, so a Platform run towards it starts at
    once. D14: a publication that is not newer is refused."""
    rep = play("publication-during-run.json")
    first, second = rep.result.runs
    assert (first.target_version, first.code, first.end) == (NEW, "Completed", 1150)
    assert batches(first) == [
        ([0, 1], 100, 310),
        ([2, 3], 310, 520),
        ([4, 5], 520, 730),
        ([6, 7], 730, 940),
        ([8, 9], 940, 1150),  # 100 + 5 x 210
    ]
    assert first.progress == progress(10, 0, 0, 0)
    assert (second.started_by, second.target_version, second.start) == ("Platform", NEWER, 1150)
    assert batches(second) == [
        ([0, 1], 1150, 1360),  # 1150 + 210
        ([2, 3], 1360, 1570),
        ([4, 5], 1570, 1780),
        ([6, 7], 1780, 1990),
        ([8, 9], 1990, 2200),  # 1150 + 5 x 210
    ]
    assert (second.code, second.end) == ("Completed", 2200)
    assert second.progress == progress(10, 0, 0, 0)
    ((at, event, reason),) = rejected(rep)
    assert (at, event) == (600, "publish_image")
    assert reason.startswith("D14") and NEW in reason and NEWER in reason
    # Two OS disk replacements each.
    assert instances(rep) == {
        i: (NEWER, "running", "Succeeded", True, f"os-{i}-2") for i in range(10)
    }
    assert rep.result.time == 2200
    assert history(rep) == [
        (
            "Completed",
            "Platform",
            NEWER,
            "2018-10-01T00:19:10+00:00",  # 1150 s
            "2018-10-01T00:36:40+00:00",  # 2200 s = 36 min 40 s
            None,
        ),
        (
            "Completed",
            "Platform",
            NEW,
            "2018-10-01T00:01:40+00:00",
            "2018-10-01T00:19:10+00:00",
            None,
        ),
    ]


# --------------------------------------------------------------------------- 12
def test_r18_d9_d1_scale_out_during_a_run() -> None:
    """R18: 5 instances created at 200 are built on the latest version; D9: they are not
    in the run's scope; D1: the cap uses N at each check (10, then 15). With
    pause PT5M each check comes 300 s after a batch, when the new instances are up.
    D9: a scale-in at 1700 removes the highest ids outside the batch in flight; a
    scale-out beyond V9 is refused."""
    rep = play("scale-out-during-run.json")
    (run,) = rep.result.runs
    assert batches(run) == [
        ([0, 1], 100, 310),  # N 10: cap 2; 100 + 210
        ([2, 3, 4], 610, 820),  # 310 + 300 pause = 610; N 15: cap floor(15 x 20/100) = 3
        ([5, 6, 7], 1120, 1330),  # 820 + 300 = 1120
        ([8, 9], 1630, 1840),  # 1330 + 300 = 1630; only 2 pending
    ]
    # New instances: created 200 + 120 + 60 + 30 = 410, healthy by the check at 610.
    assert checks(rep) == [
        (100, 10, 0, 2),
        (610, 15, 0, 3),
        (1120, 15, 0, 3),
        (1630, 15, 0, 3),
    ]
    assert (run.code, run.error, run.end) == ("Completed", None, 1840)  # no pause after
    assert run.progress == progress(10, 0, 0, 0)  # scope 0-9 only
    # Scale-in at 1700 (batch [8, 9] in flight): removes 14 and 13; ids never reused.
    states = instances(rep)
    assert sorted(states) == list(range(13))
    for i in range(10):
        assert states[i] == (NEW, "running", "Succeeded", True, f"os-{i}-1")
    for i in (10, 11, 12):  # R18: built on NEW, their first disk
        assert states[i] == (NEW, "running", "Succeeded", True, f"os-{i}-0")
    # V9: 13 + 90 = 103 > 100 instances in a single placement group.
    ((at, event, reason),) = rejected(rep)
    assert (at, event) == (1750, "scale_out")
    assert reason.startswith("V9") and "103" in reason
    # D4: the new instances are on the latest version: no further run.
    assert rep.result.time == 1840
    assert history(rep) == [
        (
            "Completed",
            "Platform",
            NEW,
            "2018-10-01T00:01:40+00:00",
            "2018-10-01T00:30:40+00:00",  # 1840 s = 30 min 40 s
            None,
        )
    ]


def test_r18_d9_new_instances_are_creating_and_out_of_scope() -> None:
    """At 250 the 5 new instances are still Creating (200 + 120 + 60 = 380) on NEW."""
    rep = play_prefix("scale-out-during-run.json", 250)
    states = instances(rep)
    assert {i: (states[i][0], states[i][2]) for i in range(10, 15)} == {
        i: (NEW, "Creating") for i in range(10, 15)
    }
    (run,) = rep.result.runs
    assert sum(run.progress.values()) == 10  # D11: scope stays 0-9


# --------------------------------------------------------------------------- 13
DAY = 86400
SIXTY_DAYS = 60 * DAY  # 5,184,000 s


def test_r16_history_shows_last_five_within_60_days_newest_first() -> None:
    """R16: 9 runs; until 75 days = 6,480,000 s. Window: start >= 6,480,000 - 5,184,000
    = 1,296,000 (day 15): runs 4-9 qualify, the view shows the newest five; runs 8 (User)
    and 9 (Platform) start together at 74 d + 100 s: the later-created one first."""
    rep = play("history-five-in-60-days.json")
    r = rep.result
    assert r.time == 75 * DAY == 6480000
    # Every run lists (section 7), oldest first. One instance, no probe: 180 s a run.
    assert [(run.started_by, run.target_version, run.start, run.end) for run in r.runs] == [
        ("Platform", "1.0.1", 100, 280),
        ("Platform", "1.0.2", DAY + 100, DAY + 280),
        ("Platform", "1.0.3", 2 * DAY + 100, 2 * DAY + 280),
        ("Platform", "1.0.4", 70 * DAY + 100, 70 * DAY + 280),
        ("Platform", "1.0.5", 71 * DAY + 100, 71 * DAY + 280),
        ("Platform", "1.0.6", 72 * DAY + 100, 72 * DAY + 280),
        # D4: a User run with an empty scope ends Completed at once.
        ("User", "1.0.6", 73 * DAY + 100, 73 * DAY + 100),
        ("User", "1.0.6", 74 * DAY + 100, 74 * DAY + 100),
        ("Platform", "1.0.7", 74 * DAY + 100, 74 * DAY + 280),
    ]
    assert all(run.code == "Completed" for run in r.runs)
    assert r.runs[6].progress == progress(0, 0, 0, 0) and r.runs[6].batches == []
    # Oct 1 + 71 days = Dec 11 (Oct has 31 days, Nov 30).
    assert history(rep) == [
        (
            "Completed",
            "Platform",
            "1.0.7",
            "2018-12-14T00:01:40+00:00",
            "2018-12-14T00:04:40+00:00",
            None,
        ),
        (
            "Completed",
            "User",
            "1.0.6",
            "2018-12-14T00:01:40+00:00",
            "2018-12-14T00:01:40+00:00",
            None,
        ),
        (
            "Completed",
            "User",
            "1.0.6",
            "2018-12-13T00:01:40+00:00",
            "2018-12-13T00:01:40+00:00",
            None,
        ),
        (
            "Completed",
            "Platform",
            "1.0.6",
            "2018-12-12T00:01:40+00:00",
            "2018-12-12T00:04:40+00:00",
            None,
        ),
        (
            "Completed",
            "Platform",
            "1.0.5",
            "2018-12-11T00:01:40+00:00",
            "2018-12-11T00:04:40+00:00",
            None,
        ),
    ]
    assert instances(rep) == {0: ("1.0.7", "running", "Succeeded", True, "os-0-7")}
    assert warnings(rep) == ["V8"]


def test_r16_history_window_is_start_at_or_after_now_minus_60_days() -> None:
    """R16, section 7: at 61 d + 100 s the window starts at 86,500 = run 2's start
    (included, >=); run 1 (start 100) is older than 60 days."""
    until = 61 * DAY + 100
    assert until - SIXTY_DAYS == 86500
    rep = play_prefix("history-five-in-60-days.json", until)
    assert len(rep.result.runs) == 3
    assert history(rep) == [
        (
            "Completed",
            "Platform",
            "1.0.3",
            "2018-10-03T00:01:40+00:00",
            "2018-10-03T00:04:40+00:00",
            None,
        ),
        (
            "Completed",
            "Platform",
            "1.0.2",
            "2018-10-02T00:01:40+00:00",
            "2018-10-02T00:04:40+00:00",
            None,
        ),
    ]
