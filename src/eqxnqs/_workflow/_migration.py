"""Reading the ``config.json`` of older eqxnqs versions.

eqxnqs 0.1 and 0.2 wrote one flat object of every setting, all systems'
included, under the names that are today's option names.
"""

from ._settings import ConfigError
from ._system_configs import SYSTEMS, system_options

#: Settings that development versions between 0.1.0 and 0.2.0 wrote and that are gone
#: (the neighbourhood Jastrow, dropped for no measured gain): the value with which a run
#: can be continued without them (``None``: any value).
REMOVED = {"neighbourhood": False, "neighbourhood_channels": None}

#: What the settings added after 0.1.0 were in 0.1.0 (to read its config.json).
BEFORE_0_2 = dict(
    rho_readout="netket",
    positive_cusp=False,
    zero_readout=False,
    chain_start="uniform",
    clip_local_energy=None,
    max_norm=None,
    final_samples=4096,
    target_acceptance=None,
    input_scale=1.0,
)


def migrated(data: dict, groups: dict, version: int) -> dict:
    """`data` in today's layout `version` (`eqxnqs.RunConfig.to_dict`) of the `groups`."""
    if not isinstance(data, dict):
        raise ConfigError("not a run configuration (not a JSON object)")
    if "format" in data:
        if data["format"] != version:
            raise ConfigError(
                f"config.json has format {data['format']!r}; this eqxnqs reads {version} "
                "and the flat format of 0.1 and 0.2"
            )
        return data
    data = dict(data)
    for name, allowed in REMOVED.items():
        if name in data and allowed is not None and data[name] != allowed:
            raise ConfigError(
                f"the run used {name}={data[name]!r}, a setting this eqxnqs no longer has"
            )
        data.pop(name, None)
    for name, value in BEFORE_0_2.items():
        data.setdefault(name, value)
    name = data.get("system")
    if name not in SYSTEMS:
        raise ConfigError(f"not a run configuration (system {name!r})")
    system = SYSTEMS[name]
    nested = {"format": version, "seed": data.pop("seed", 0)}
    nested["system"] = {"name": name}
    for option, field in system.options().items():
        if option in data:
            nested["system"][field.name] = data[option]
    for group_name, group in groups.items():
        nested[group_name] = {
            field.name: data[option] for option, field in group.options().items() if option in data
        }
    known = {"system", *system_options()}
    for group in groups.values():
        known.update(group.options())
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"settings this eqxnqs does not know: {', '.join(unknown)}")
    return nested
