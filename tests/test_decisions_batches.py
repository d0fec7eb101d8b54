"""D1-D3 and D9-D11 (SPEC section 5): which instances a run's batches hold and
how they are counted: the batch cap and the unhealthy limit (D1), the batch order
(D2), the target and the scope of a run (D3), scaling during a run (D9), outages
(D10) and progress (D11). Through the Python API. Timings are the defaults
(os_disk 120 s, extensions 60 s, app start 30 s, health wait 300 s): a batch takes
180 s without a probe and 210 s with one."""

from __future__ import annotations

from model import OutageEnd, OutageStart, Policy, PublishImage, ScaleIn, ScaleOut, StartUpgrade
from model.actors import orchestrator
from model.run import ErrorCode
from tests.support import PROBE, batches, make, play, summary


# ----------------------------------------------------------------------- D1
def test_d1_batch_cap_formula() -> None:
    ss = make()
    # max(1, floor(N x 20 / 100))
    assert [orchestrator.batch_cap(ss, n) for n in (1, 4, 5, 9, 10, 14, 15, 100)] == [
        1,
        1,
        1,
        1,
        2,
        2,
        3,
        20,
    ]


def test_d1_unhealthy_limit_floor() -> None:
    # 4 instances: limit floor(0.8) = 0, one down blocks the run.
    four = play(make(4), [OutageStart(50, (3,)), PublishImage(100, "1.0.1")], until=100)
    assert summary(four.runs[0]) == ("Faulted", 100, ErrorCode.BEFORE_ROLLING_UPGRADE)
    assert four.runs[0].checks[0].limit == 0
    # 5 instances: limit floor(1.0) = 1, one down is allowed.
    five = play(make(5), [OutageStart(50, (4,)), PublishImage(100, "1.0.1")], until=100)
    assert five.runs[0].code == "RollingForward"
    assert five.runs[0].checks[0].limit == 1


def test_d1_n_is_the_instance_count_at_the_check() -> None:
    # Five instances created at 100 are done at 280 (instance steps first, D12);
    # the check at 280 sees N = 15: cap floor(15 x 0.2) = 3.
    ss = play(make(), [PublishImage(100, "1.0.1"), ScaleOut(100, 5)], until=280)
    run = ss.runs[0]
    assert batches(run) == [([0, 1], 100, 280), ([2, 3, 4], 280, None)]
    assert (run.batches[1].instance_count, run.batches[1].cap) == (15, 3)


# ----------------------------------------------------------------------- D2
def test_d2_ascending_id() -> None:
    ss = play(make(), [PublishImage(100, "1.0.1")], until=1000)
    assert [sorted(b.instances) for b in ss.runs[0].batches] == [
        [0, 1],
        [2, 3],
        [4, 5],
        [6, 7],
        [8, 9],
    ]


def test_d2_prioritize_unhealthy_first() -> None:
    events = [OutageStart(50, (4, 7)), PublishImage(100, "1.0.1")]
    prioritized = play(make(policy=Policy(prioritize_unhealthy_instances=True)), events, 100)
    assert batches(prioritized.runs[0]) == [([4, 7], 100, None)]
    plain = play(make(), events, 100)
    assert batches(plain.runs[0]) == [([0, 1], 100, None)]
    # One unhealthy: it goes first, then the lowest healthy id.
    one = play(
        make(policy=Policy(prioritize_unhealthy_instances=True)),
        [OutageStart(50, (7,)), PublishImage(100, "1.0.1")],
        100,
    )
    assert one.runs[0].batches[0].instances == [7, 0]


# ----------------------------------------------------------------------- D3
def test_d3_target_fixed_during_run() -> None:
    ss = play(make(), [PublishImage(100, "1.0.1"), PublishImage(200, "1.0.2")], until=1000)
    run = ss.runs[0]
    assert (run.target, run.code, run.end) == ("1.0.1", "Completed", 1000)
    assert len(run.batches) == 5


def test_d3_instances_at_target_not_in_scope() -> None:
    # Instances 10, 11 created at 100 on 1.0.1 are at the target of a run started at 300.
    ss = play(
        make(automatic_os_upgrade=False),
        [PublishImage(100, "1.0.1"), ScaleOut(100, 2), StartUpgrade(300)],
        until=300,
    )
    assert sorted(ss.runs[0].scope) == list(range(10))


# ----------------------------------------------------------------------- D9
def test_d9_scale_in_spares_batch_in_flight() -> None:
    # 8 and 9 are down, prioritized: batch 1 = [8, 9]. Scale in 2 removes 7 and 6.
    ss = play(
        make(policy=Policy(prioritize_unhealthy_instances=True)),
        [OutageStart(50, (8, 9)), PublishImage(100, "1.0.1"), ScaleIn(150, 2)],
    )
    assert sorted(ss.instances) == [0, 1, 2, 3, 4, 5, 8, 9]
    assert sorted(ss.runs[0].scope) == [0, 1, 2, 3, 4, 5, 8, 9]


def test_d9_scale_in_removes_highest_ids() -> None:
    ss = play(make(), [ScaleIn(10, 3)])
    assert sorted(ss.instances) == list(range(7))
    # Ids are never reused.
    play(ss, [ScaleOut(20, 1)])
    assert sorted(ss.instances) == [*range(7), 10]


def test_d9_scale_in_refused_when_too_few() -> None:
    # Batch 1 [0, 1] in flight: only 8 instances are outside it.
    ss = play(make(), [PublishImage(100, "1.0.1")])
    rejection = ss.apply(ScaleIn(150, 9))
    assert rejection is not None and rejection.reason.startswith("D9: cannot remove 9 instances")
    assert len(ss.instances) == 10
    # Removing all 8 others is allowed; the run completes with batch 1 at 280.
    assert ss.apply(ScaleIn(160, 8)) is None
    ss.advance(280)
    assert sorted(ss.instances) == [0, 1]
    assert summary(ss.runs[0]) == ("Completed", 280, None)


def test_d9_scale_out_refused_beyond_v9() -> None:
    ss = make(100)
    rejection = ss.apply(ScaleOut(10, 1))
    assert rejection is not None and rejection.reason.startswith("V9")
    assert len(ss.instances) == 100
    multi = make(999, single_placement_group=False, health_probe=PROBE)
    assert multi.apply(ScaleOut(10, 1)) is None
    assert multi.apply(ScaleOut(20, 1)).reason.startswith("V9")
    assert len(multi.instances) == 1000


def test_d9_new_instances_not_in_active_scope() -> None:
    ss = play(make(), [PublishImage(100, "1.0.1"), ScaleOut(150, 3)], until=5000)
    assert sorted(ss.runs[0].scope) == list(range(10))
    assert len(ss.runs) == 1  # they were built on 1.0.1 already


# ----------------------------------------------------------------------- D10
def test_d10_down_instance_fails_at_health_deadline() -> None:
    # Instance 0 down at 150: its disk (220) and extensions (280) go on;
    # never healthy: failed at 280 + 300 = 580. Instance 1 succeeds at 310.
    ss = play(
        make(health_probe=PROBE), [PublishImage(100, "1.0.1"), OutageStart(150, (0,))], until=580
    )
    inst = ss.instances[0]
    assert (inst.image_version, inst.provisioning_state, inst.power_state) == (
        "1.0.1",
        "Succeeded",
        "stopped",
    )
    batch = ss.runs[0].batches[0]
    assert (batch.outcomes[0].status, batch.outcomes[0].at) == ("failed", 580)
    assert (batch.outcomes[1].status, batch.outcomes[1].at) == ("successful", 310)
    assert batch.end == 580


def test_d10_instance_back_before_deadline_succeeds_then() -> None:
    ss = play(
        make(health_probe=PROBE),
        [PublishImage(100, "1.0.1"), OutageStart(150, (0,)), OutageEnd(400, (0,))],
        until=400,
    )
    batch = ss.runs[0].batches[0]
    assert (batch.outcomes[0].status, batch.outcomes[0].at, batch.end) == ("successful", 400, 400)


def test_d10_without_probe_down_at_extension_end_fails() -> None:
    ss = play(make(), [PublishImage(100, "1.0.1"), OutageStart(150, (0,))], until=280)
    outcomes = ss.runs[0].batches[0].outcomes
    assert (outcomes[0].status, outcomes[1].status) == ("failed", "successful")


# ----------------------------------------------------------------------- D11
def _progress_total(run) -> int:
    return sum(run.progress().values())


def test_d11_progress_sums_to_scope() -> None:
    ss = play(make(health_probe=PROBE), [PublishImage(100, "1.0.1")])
    run = ss.runs[0]
    expected = {
        100: (0, 0, 2, 8),
        250: (0, 0, 2, 8),
        310: (2, 0, 2, 6),  # batch 1 done, batch 2 started at once
        1150: (10, 0, 0, 0),
    }
    for t, counts in expected.items():
        ss.advance(t)
        p = run.progress()
        assert (
            p["successfulInstanceCount"],
            p["failedInstanceCount"],
            p["inProgressInstanceCount"],
            p["pendingInstanceCount"],
        ) == counts
        assert _progress_total(run) == len(run.scope) == 10


def test_d11_scale_in_leaves_every_scope() -> None:
    ss = play(make(), [PublishImage(100, "1.0.1")], until=1000)
    assert ss.runs[0].progress()["successfulInstanceCount"] == 10
    play(ss, [ScaleIn(2000, 3)])
    assert ss.runs[0].progress()["successfulInstanceCount"] == 7
    assert _progress_total(ss.runs[0]) == 7


def test_d11_rollback_counts_failed_and_rolled_back() -> None:
    # Batch 1: fails at 580, rolls back until 700; counted failed, rolled back.
    ss = play(
        make(health_probe=PROBE, policy=Policy(automatic_rollback=True)),
        [PublishImage(100, "1.0.1", app_healthy=False)],
        until=700,
    )
    run = ss.runs[0]
    batch = run.batches[0]
    assert batch.end == 700
    assert [(o.status, o.rolled_back, o.at) for o in batch.outcomes.values()] == [
        ("failed", True, 700),
        ("failed", True, 700),
    ]
    assert (ss.instances[0].image_version, ss.instances[0].os_disk) == ("1.0.0", "os-0-0")
    assert run.progress()["failedInstanceCount"] == 2
    assert (run.rolled_back, run.failed_rollbacks) == (2, 0)
