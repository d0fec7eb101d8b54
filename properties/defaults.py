"""Section 7's defaults: what a trace leaves out of its ``scale_set``, the
model runs with the default the spec gives (section 7's table and nested
fields, section 4's option defaults; with the switch, T2, T8, T9, T18 and
section 9.13's Service Fabric fields).

The layer keeps its own table of the defaults and reads a ``scale_set``
document with it: each field the document gives is that value, each field
it leaves out is the table's default. It compares that reading, field by
field, with the configuration the model runs with. A replayed file is read
as the file gave it; in the campaign (where the scale set is drawn, not
read) the layer writes the drawn scale set as a document, leaves out every
field that may be (and, again, all but one field of each object), and has
the loader read it back.
"""

from __future__ import annotations

import json
from typing import Any

from model.trace import Trace, TraceError, load_trace_text, trace_to_dict
from model.trace_schema import SEED, TODAY  # T1's two values
from properties.rule import Property, rule

#: section 7: the top-level fields and their defaults (``health_probe``,
#: ``extensions``, ``credentials``, ``service_fabric``: none)
TOP: dict[str, Any] = {
    "catalog": ["1.0.0"],
    "automatic_os_upgrade": True,
    "health_probe": None,
    "extensions": [],
    "credentials": {},
    "data_disks_per_instance": 1,
    "disk_encryption": False,
    "single_placement_group": True,
    "service_fabric": None,
    "location": "westeurope",
    "epoch": "2018-10-01T00:00:00+00:00",
}
#: section 4's default column (T8 with the switch: the upgraded-unhealthy
#: percent left out is T8's 20, which each run applies: expect_today.run_policy)
POLICY: dict[str, Any] = {
    "max_batch_instance_percent": 20,
    "max_unhealthy_instance_percent": 20,
    "max_unhealthy_upgraded_instance_percent": None,
    "pause_time_between_batches": "PT0S",
    "prioritize_unhealthy_instances": False,
    "automatic_rollback": False,
}
#: section 7 (section 2, "Health, precisely")
TIMINGS: dict[str, Any] = {
    "os_disk_seconds": 120,
    "extension_seconds": 60,
    "app_start_seconds": 30,
    "health_wait_seconds": 300,
}
#: section 7's nested fields: ``lb_sku`` Standard, the interval by kind
PROBE_INTERVAL = {"load_balancer": 15, "application_health": 5}
LB_SKU = "Standard"
UPDATE_DOMAINS = 5
#: T9, T18 (with the switch only)
TODAY_POLICY: dict[str, Any] = {
    "disable_automatic_rollback": False,
    "use_rolling_upgrade_policy": False,
}
FIRST_ROLLOUT_DELAY = 0
#: section 9.13 (with the switch only); ``extension_durability``: ``durability``
FABRIC_TODAY: dict[str, Any] = {"stateless_only": False, "extension_version": "1.1"}


def _probes(value: Any) -> list[dict[str, Any]]:
    """T6: one source, or an array of one or two."""
    return [] if value is None else value if isinstance(value, list) else [value]


def reading(doc: dict[str, Any]) -> dict[str, Any]:
    """This layer's reading of a ``scale_set`` document: every field, as given
    or at its default, by its path."""
    today = doc.get("api_version") == TODAY
    out: dict[str, Any] = {"api_version": doc.get("api_version", SEED)}
    for name, default in TOP.items():
        out[name] = doc.get(name, default)
    out["catalog"] = tuple(out["catalog"])
    probes = _probes(out.pop("health_probe"))
    out["health_probe"] = len(probes)
    for i, probe in enumerate(probes):
        out[f"health_probe[{i}].kind"] = probe["kind"]
        out[f"health_probe[{i}].lb_sku"] = probe.get("lb_sku", LB_SKU)
        interval = probe.get("interval_seconds", PROBE_INTERVAL[probe["kind"]])
        out[f"health_probe[{i}].interval_seconds"] = interval
    extensions = out.pop("extensions")
    out["extensions"] = len(extensions)
    for i, ext in enumerate(extensions):
        out[f"extensions[{i}].name"] = ext["name"]
        out[f"extensions[{i}].credentials"] = tuple(ext.get("credentials", ()))
    credentials = out.pop("credentials")
    out["credentials"] = tuple(credentials)
    for name, cred in credentials.items():
        out[f"credentials.{name}.expires_at"] = cred["expires_at"]
    fabric = out.pop("service_fabric")
    out["service_fabric"] = fabric is not None
    if fabric is not None:
        out["service_fabric.durability"] = fabric["durability"]
        out["service_fabric.update_domains"] = fabric.get("update_domains", UPDATE_DOMAINS)
        if today:
            for name, default in FABRIC_TODAY.items():
                out[f"service_fabric.{name}"] = fabric.get(name, default)
            durability = fabric.get("extension_durability", fabric["durability"])
            out["service_fabric.extension_durability"] = durability
    policy = doc.get("policy", {})
    for name, default in POLICY.items():
        if not (today and name == "automatic_rollback"):  # T8: not a field today
            out[f"policy.{name}"] = policy.get(name, default)
    timings = doc.get("timings", {})
    for name, default in TIMINGS.items():
        out[f"timings.{name}"] = timings.get(name, default)
    if today:
        given = doc.get("automatic_os_upgrade_policy", {})
        for name, default in TODAY_POLICY.items():
            out[f"automatic_os_upgrade_policy.{name}"] = given.get(name, default)
        out["first_rollout_delay_seconds"] = doc.get(
            "first_rollout_delay_seconds", FIRST_ROLLOUT_DELAY
        )
    return out


def configured(config: Any, today: bool) -> dict[str, Any]:
    """The configuration the model runs with, by the same paths (a field of
    the configuration as given is a plain observation)."""
    out: dict[str, Any] = {
        "api_version": config.api_version,
        "automatic_os_upgrade": config.automatic_os_upgrade,
        "data_disks_per_instance": config.data_disks_per_instance,
        "disk_encryption": config.disk_encryption,
        "single_placement_group": config.single_placement_group,
        "location": config.location,
        "epoch": config.epoch,
    }
    out["catalog"] = tuple(config.catalog)
    probe = config.health_probe
    probes = [] if probe is None else list(probe) if isinstance(probe, tuple) else [probe]
    out["health_probe"] = len(probes)
    for i, p in enumerate(probes):
        out[f"health_probe[{i}].kind"] = p.kind
        out[f"health_probe[{i}].lb_sku"] = p.lb_sku
        out[f"health_probe[{i}].interval_seconds"] = p.interval_seconds
    out["extensions"] = len(config.extensions)
    for i, ext in enumerate(config.extensions):
        out[f"extensions[{i}].name"] = ext.name
        out[f"extensions[{i}].credentials"] = tuple(ext.credentials)
    out["credentials"] = tuple(config.credentials)
    for name, cred in config.credentials.items():
        out[f"credentials.{name}.expires_at"] = cred.expires_at
    fabric = config.service_fabric
    out["service_fabric"] = fabric is not None
    if fabric is not None:
        out["service_fabric.durability"] = fabric.durability
        out["service_fabric.update_domains"] = fabric.update_domains
        if today:
            out["service_fabric.stateless_only"] = fabric.stateless_only
            out["service_fabric.extension_version"] = fabric.extension_version
            durability = fabric.extension_durability
            out["service_fabric.extension_durability"] = (
                fabric.durability if durability is None else durability
            )
    policy = config.policy
    out["policy.max_batch_instance_percent"] = policy.max_batch_instance_percent
    out["policy.max_unhealthy_instance_percent"] = policy.max_unhealthy_instance_percent
    out["policy.max_unhealthy_upgraded_instance_percent"] = (
        policy.max_unhealthy_upgraded_instance_percent
    )
    out["policy.pause_time_between_batches"] = policy.pause_time_between_batches
    out["policy.prioritize_unhealthy_instances"] = policy.prioritize_unhealthy_instances
    if not today:  # T8: not a field today
        out["policy.automatic_rollback"] = policy.automatic_rollback
    timings = config.timings
    out["timings.os_disk_seconds"] = timings.os_disk_seconds
    out["timings.extension_seconds"] = timings.extension_seconds
    out["timings.app_start_seconds"] = timings.app_start_seconds
    out["timings.health_wait_seconds"] = timings.health_wait_seconds
    if today:
        given = config.automatic_os_upgrade_policy
        out["automatic_os_upgrade_policy.disable_automatic_rollback"] = (
            given.disable_automatic_rollback
        )
        out["automatic_os_upgrade_policy.use_rolling_upgrade_policy"] = (
            given.use_rolling_upgrade_policy
        )
        out["first_rollout_delay_seconds"] = config.first_rollout_delay_seconds
    return out


def left_out(doc: dict[str, Any]) -> list[str]:
    """The paths of the fields this layer has a default for that ``doc``
    leaves out."""
    today = doc.get("api_version") == TODAY
    found = [name for name in TOP if name not in doc]
    for i, probe in enumerate(_probes(doc.get("health_probe"))):
        found += [
            f"health_probe[{i}].{k}" for k in ("lb_sku", "interval_seconds") if k not in probe
        ]
    for i, ext in enumerate(doc.get("extensions", ())):
        if "credentials" not in ext:
            found.append(f"extensions[{i}].credentials")
    fabric = doc.get("service_fabric")
    if fabric is not None:
        names = ["update_domains"]
        if today:
            names += [*FABRIC_TODAY, "extension_durability"]
        found += [f"service_fabric.{k}" for k in names if k not in fabric]
    parts = [("policy", POLICY), ("timings", TIMINGS)]
    if today:
        parts.append(("automatic_os_upgrade_policy", TODAY_POLICY))
        if "first_rollout_delay_seconds" not in doc:
            found.append("first_rollout_delay_seconds")
    for part, table in parts:
        given = doc.get(part, {})
        found += [
            f"{part}.{k}"
            for k in table
            if k not in given and not (today and k == "automatic_rollback")
        ]
    return found


def without_defaults(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with every field that is at this layer's default left out (an
    object left empty goes too)."""
    today = doc.get("api_version") == TODAY
    out = {k: v for k, v in doc.items() if not (k in TOP and v == TOP[k])}
    if today and out.get("first_rollout_delay_seconds") == FIRST_ROLLOUT_DELAY:
        del out["first_rollout_delay_seconds"]
    probes = _probes(out.get("health_probe"))
    if probes:
        slim = [
            {
                k: v
                for k, v in p.items()
                if not (k == "lb_sku" and v == LB_SKU)
                and not (k == "interval_seconds" and v == PROBE_INTERVAL[p["kind"]])
            }
            for p in probes
        ]
        out["health_probe"] = slim if isinstance(out["health_probe"], list) else slim[0]
    if "extensions" in out:
        out["extensions"] = [
            {k: v for k, v in e.items() if not (k == "credentials" and not v)}
            for e in out["extensions"]
        ]
    fabric = out.get("service_fabric")
    if fabric is not None:
        table = {"update_domains": UPDATE_DOMAINS, **(FABRIC_TODAY if today else {})}
        slim = {k: v for k, v in fabric.items() if not (k in table and v == table[k])}
        if today and slim.get("extension_durability") == slim["durability"]:
            del slim["extension_durability"]
        out["service_fabric"] = slim
    parts = [("policy", POLICY), ("timings", TIMINGS)]
    if today:
        parts.append(("automatic_os_upgrade_policy", TODAY_POLICY))
    for part, table in parts:
        if part in out:
            slim = {k: v for k, v in out[part].items() if not (k in table and v == table[k])}
            if slim:
                out[part] = slim
            else:
                del out[part]
    return out


def bare(doc: dict[str, Any], partly: bool = False) -> dict[str, Any]:
    """``doc`` with every field left out that section 7 lets a trace leave
    out, nested ones included: what stays is required (``instances``,
    ``image``, a probe's ``kind``, an extension's ``name``, a cluster's
    ``durability``), or a value V9 needs (``single_placement_group``
    false), or the switch (T1). ``partly``: each object with defaults keeps
    its first field, so that the others are left out of a given object."""
    out = {"instances": doc["instances"], "image": doc["image"]}
    if "api_version" in doc:
        out["api_version"] = doc["api_version"]
    if doc.get("single_placement_group") is False:
        out["single_placement_group"] = False
    probes = _probes(doc.get("health_probe"))
    if probes:
        slim = [{"kind": p["kind"]} for p in probes]
        out["health_probe"] = slim if isinstance(doc["health_probe"], list) else slim[0]
    if doc.get("extensions"):
        out["extensions"] = [{"name": e["name"]} for e in doc["extensions"]]
    if doc.get("service_fabric") is not None:
        out["service_fabric"] = {"durability": doc["service_fabric"]["durability"]}
    if partly:
        parts = ["policy", "timings"]
        if "api_version" in doc:
            parts.append("automatic_os_upgrade_policy")
        for part in parts:
            given = doc.get(part) or {}
            first = next(iter(given), None)
            if first is not None:
                out[part] = {first: given[first]}
    return out


def problems(doc: dict[str, Any], config: Any) -> list[str]:
    """Where the configuration the model runs with differs from this layer's
    reading of ``doc``."""
    today = doc.get("api_version") == TODAY
    expected, actual = reading(doc), configured(config, today)
    missing = set(left_out(doc))
    found = []
    for path, value in expected.items():
        if actual.get(path) != value:
            how = "left out, so its default is" if path in missing else "given as"
            found.append(
                f"scale_set.{path}: {how} {value!r}, but the model runs with {actual.get(path)!r}"
            )
    return found


@rule
class OmittedFieldsTakeDefaults(Property):
    """Section 7, section 4, T8, T9, T18: a field a trace's ``scale_set``
    leaves out is the spec's default, a field it gives is that value."""

    name = "omitted_fields_take_section_7_defaults"
    rules = "section 7 defaults, section 4 defaults, T2, T8, T9, T18"
    title = "a scale set field a trace leaves out takes the spec's default"

    def start(self) -> None:
        config = self.published.config
        found: list[str] = []
        read = 0  # the documents read whose left-out fields were compared
        given = None if self.checker.given is None else self.checker.given["scale_set"]
        if given is not None and left_out(given):  # read from a document: as the model runs it
            found += [f"the trace: {problem}" for problem in problems(given, config)]
            read += 1
        # The scale set written with everything left out that may be, and with
        # one field of each object kept, each read back by the loader (a drawn
        # scale set gives every field; a replay checks the same as the campaign).
        written = trace_to_dict(Trace(scale_set=config))["scale_set"]
        for doc in (bare(written), bare(written, partly=True)):
            data = {"format": "vmss-upgrade-trace/1", "scale_set": doc, "events": []}
            try:
                loaded = load_trace_text(json.dumps(data), "trace").scale_set
            except TraceError:
                # A refusal is D16's business (malformed_traces_refused_v9_v10,
                # which the campaign hands these scale sets with their defaults
                # left out too): nothing was read, so no default to compare.
                continue
            found += [f"the loader: {problem}" for problem in problems(doc, loaded)]
            read += 1
        if read:
            self.check(not found, lambda: found[0])
