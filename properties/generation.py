"""Generation: the initial scale sets the property machine draws (SPEC section 7
``scale_set``).

Hypothesis pays per choice (more than the model pays for a step), so each
draw here is one integer read as mixed-radix digits, lowest first: each
digit is near uniform and shrinks towards 0, the simplest value of its
field. The scale sets span the space V9 and V10 accept: 1 to 40 instances,
with or without a probe of either kind, Service Fabric with 1 to 5 update
domains and each durability tier, policies across their ranges, small
timings, credentials valid, expiring or expired, and now and then a
configuration that a V1-V6 check refuses.
"""

from __future__ import annotations

import math

import attrs
from hypothesis import strategies as st

from model.config import (
    SUPPORTED_SKUS,
    AutomaticOSUpgradePolicy,
    CredentialConfig,
    Extension,
    HealthProbe,
    ImageReference,
    Policy,
    ScaleSetConfig,
    ServiceFabric,
    Timings,
)
from model.today import TODAY_API, TODAY_SKUS

#: drives the model (tests/independence.py: not a statement of the spec)
DRIVER = True

_SKUS = sorted(SUPPORTED_SKUS)
_RANGES: dict[int, st.SearchStrategy[int]] = {}


def split(n: int, *bases: int) -> list[int]:
    """``n`` as digits in ``bases``, lowest first (the last one takes the rest)."""
    digits = []
    for base in bases[:-1]:
        n, digit = divmod(n, base)
        digits.append(digit)
    digits.append(n % bases[-1])
    return digits


def digits(draw: st.DrawFn, *bases: int) -> list[int]:
    """One choice, read as digits in ``bases`` (lowest first)."""
    size = math.prod(bases)
    strategy = _RANGES.get(size)
    if strategy is None:
        strategy = _RANGES[size] = st.integers(0, size - 1)
    return split(draw(strategy), *bases)


def _image(draw: st.DrawFn) -> ImageReference:
    """A supported platform image with version latest; now and then one that a
    V1-V3 check refuses (R9)."""
    sku, flaw = digits(draw, len(_SKUS), 25)
    publisher, offer, sku_name = _SKUS[sku]
    if flaw == 22:
        return ImageReference("Contoso", offer, sku_name, "latest")  # V1
    if flaw in (21, 23):  # twice as often: V2 was met in only a few examples of 500
        return ImageReference(publisher, offer, sku_name, "1.0.0")  # V2
    if flaw in (18, 20, 24):  # three times as often: a manual start on V3 alone was rare
        return ImageReference(id="/subscriptions/s/images/custom")  # V3
    return ImageReference(publisher, offer, sku_name, "latest")


_PROBE_KINDS = (None, "load_balancer", "application_health", "load_balancer")


def _probe(draw: st.DrawFn) -> HealthProbe | None:
    """None, a load balancer probe or the application health extension, with
    ``lb_sku`` Basic one time in four (for the extension the sku means
    nothing: it satisfies V5 whatever it says, D16); the interval sometimes
    at or above V7's 120 s."""
    kind, interval, basic = digits(draw, 4, 3, 4)
    if _PROBE_KINDS[kind] is None:
        return None
    lb_sku = "Basic" if basic == 3 else "Standard"
    return HealthProbe(_PROBE_KINDS[kind], lb_sku, (5, 15, 120)[interval])


def _percent(choice: int) -> int:
    """``choice`` in range(192): half the time one of the seed's values, else
    any from 5 to 100 (V10)."""
    return (20, 50, 100, 5, 10, 33)[choice // 2 % 6] if choice % 2 == 0 else 5 + choice // 2


def _policy(draw: st.DrawFn) -> Policy:
    """Section 4: every option across its V10 range, the seed's values often."""
    upgraded = None
    (choice,) = digits(draw, 404)
    if choice % 2:  # half the time: 0, 10, 50 or 100 half of that, else 0 to 100
        choice //= 2
        upgraded = (0, 10, 50, 100)[choice // 2 % 4] if choice % 2 == 0 else choice // 2
    pause, prioritize, rollback = digits(draw, 4, 2, 2)
    (batch,) = digits(draw, 192)
    (unhealthy,) = digits(draw, 192)
    return Policy(
        max_batch_instance_percent=_percent(batch),
        max_unhealthy_instance_percent=_percent(unhealthy),
        max_unhealthy_upgraded_instance_percent=upgraded,
        pause_time_between_batches=f"PT{(0, 0, 3, 10)[pause]}S",
        prioritize_unhealthy_instances=bool(prioritize),
        automatic_rollback=bool(rollback),
    )


def _timings(draw: st.DrawFn) -> Timings:
    """Small durations (seconds): the order of events matters, not their size;
    the health wait is sometimes shorter than the application's start."""
    os_disk, extension = digits(draw, 10, 11)
    app_start, health_wait = digits(draw, 11, 21)
    return Timings(
        os_disk_seconds=1 + os_disk,
        extension_seconds=extension,
        app_start_seconds=app_start,
        health_wait_seconds=health_wait,
    )


_CREDENTIAL_SETS = ((), ("sas",), ("sas", "cert"))
#: valid for long, already expired, expiring soon or a little later (R14)
_EXPIRIES = (10**8, 0, 30, 200)


@st.composite
def scale_sets(draw: st.DrawFn) -> ScaleSetConfig:
    """An initial scale set (SPEC section 7 ``scale_set``) that V9 and V10 accept:
    1 to 40 instances (1 to 10 half the time), with or without a probe, Service
    Fabric one time in four, credentials valid, expiring or expired."""
    (count,) = digits(draw, 80)
    instances = 1 + count % 10 if count < 40 else count - 39
    probe = _probe(draw)
    fabric, durability, domains = digits(draw, 4, 3, 5)
    sf = None
    if fabric == 3:
        sf = ServiceFabric(("Silver", "Gold", "Bronze")[durability], update_domains=1 + domains)
    names, first, second, bare = digits(draw, 3, 4, 4, 2)
    credentials = {
        name: CredentialConfig(expires_at=_EXPIRIES[expiry])
        for name, expiry in zip(_CREDENTIAL_SETS[names], (first, second), strict=False)
    }
    extensions = ()
    if credentials or bare:
        extensions = (Extension("CustomScript", tuple(sorted(credentials))),)
    image = _image(draw)
    catalog, manual_only, data_disks = digits(draw, 2, 6, 3)
    encrypted, multiple_groups = digits(draw, 25, 10)
    standard = probe is not None and (
        probe.kind == "application_health" or probe.lb_sku == "Standard"
    )
    config = ScaleSetConfig(
        instances=instances,
        image=image,
        catalog=(("1.0.0",), ("0.9.0", "1.0.0"))[catalog],
        automatic_os_upgrade=manual_only != 5,
        health_probe=probe,
        extensions=extensions,
        credentials=credentials,
        data_disks_per_instance=data_disks,
        disk_encryption=encrypted >= 23,  # V4 twice in 25: it refuses, and was met on few seeds
        # 30% multiple placement groups (V9's 1000), where the probe allows
        # it, and one time in ten whatever the probe (V5 refuses some)
        single_placement_group=not (multiple_groups == 9 or (multiple_groups >= 7 and standard)),
        service_fabric=sf,
        policy=_policy(draw),
        timings=_timings(draw),
    )
    return _today(draw, config)


_GALLERY = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/web"


def _today(draw: st.DrawFn, config: ScaleSetConfig) -> ScaleSetConfig:
    """Half the time, the same scale set with SPEC section 9's switch on: one of
    today's images (a platform sku, in another case now and then, TD4; a
    gallery image at latest, or with /versions/, T14; the seed's flaws, which
    today's V1-V3 refuse), none, one or two health sources (T6, TV1, TV2), Service
    Fabric's new fields (TV7-TV10), automatic rollback on or off and the
    policy used or not (T9), a first-rollout delay (T18); one time in
    three, five or fewer instances (T11)."""
    on, image, sources, fabric, delay, rollout, small = digits(draw, 2, 12, 16, 8, 4, 4, 3)
    if not on:
        return config
    if small == 1:  # T11: five or fewer instances, batches of 1, the first failure stops
        config = attrs.evolve(config, instances=1 + config.instances % 5)
    # Each of today's refusals (V2 on /versions/, TV1, TV2) one time in
    # twelve or sixteen, the seed's flaws one time in six: a refused scale
    # set starts no run, and most of section 9 is about runs.
    if image < 5:
        publisher, offer, sku = TODAY_SKUS[(0, 4, 19, 30, 0)[image]]
        if image == 3:
            sku = sku.lower()
        picture = ImageReference(publisher, offer, sku, "latest")
    elif image < 9:
        picture = ImageReference(id=_GALLERY)
    elif image == 9:
        picture = ImageReference(id=f"{_GALLERY}/versions/1.0.0")
    else:
        picture = config.image  # the seed's skus and flaws: V1, V2, V3 today
    probe = config.health_probe
    if sources == 1:
        probe = (HealthProbe("load_balancer"), HealthProbe("application_health"))
    elif sources == 2:
        probe = None  # T4, TV1: no health signal at all
    elif sources >= 4 and probe is None:
        probe = HealthProbe("application_health")
    sf = config.service_fabric
    if sf is not None:
        if fabric in (4, 7):
            sf = attrs.evolve(sf, durability="Bronze", stateless_only=True)
            if fabric == 7:
                probe = None  # TV8
        elif fabric == 5:
            sf = attrs.evolve(sf, extension_version="1.0")  # TV9
        elif fabric == 6:
            other = "Gold" if sf.durability != "Gold" else "Silver"
            sf = attrs.evolve(sf, extension_durability=other)  # TV10
    return attrs.evolve(
        config,
        api_version=TODAY_API,
        image=picture,
        health_probe=probe,
        service_fabric=sf,
        policy=attrs.evolve(config.policy, automatic_rollback=False),
        automatic_os_upgrade_policy=AutomaticOSUpgradePolicy(
            disable_automatic_rollback=rollout % 2 == 1, use_rolling_upgrade_policy=rollout >= 2
        ),
        first_rollout_delay_seconds=(0, 20, 3000, 10800)[delay],  # T18: up to its bound
    )


#: the strategy the machine draws its initial scale set from
SCALE_SETS = scale_sets()
