"""mkdocs hook: the settings reference, generated from eqxnqs's declarations."""

import dataclasses
import typing

from eqxnqs._workflow._cli import _words
from eqxnqs._workflow._configurations import configure
from eqxnqs._workflow._run_config import GROUPS, RunConfig
from eqxnqs._workflow._settings import flag, option_name
from eqxnqs._workflow._system_configs import SYSTEMS

MARK = "<!-- settings -->"


def _type(hint) -> str:
    return str(hint).replace("typing.", "").replace("<class '", "").replace("'>", "")


def _table(group, defaults: dict[str, dict]) -> list[str]:
    hints = typing.get_type_hints(group)
    systems = list(defaults)
    shown = systems if len(systems) > 1 else systems[:1]
    head = "| option | type | " + " | ".join(f"default ({s})" for s in shown) + " | meaning |"
    rows = [head, "|" + " --- |" * (3 + len(shown))]
    for field in dataclasses.fields(group):
        name = option_name(field)
        values = [f"`{_words(defaults[s][name])}`" for s in shown]
        help_ = field.metadata["help"].replace("|", "\\|")
        rows.append(
            f"| `{flag(name)}` | `{_type(hints[field.name])}` | {' | '.join(values)} | {help_} |"
        )
    return rows


def settings_reference() -> str:
    defaults = {name: configure(name).flat() for name in SYSTEMS}
    lines = []
    for name, system in SYSTEMS.items():
        lines += [f"### System `{name}` (`{system.__name__}`)", "", system.__doc__.strip(), ""]
        lines += _table(system, {name: defaults[name]}) + [""]
    for title, group in GROUPS.items():
        lines += [f"### `{title}` (`{group.__name__}`)", "", group.__doc__.strip(), ""]
        lines += _table(group, defaults) + [""]
    seed = next(f for f in dataclasses.fields(RunConfig) if f.name == "seed")
    lines += ["### `seed`", "", f"`--seed`, default `{seed.default}`: {seed.metadata['help']}."]
    return "\n".join(lines)


def on_page_markdown(markdown, page, config, files):
    if MARK in markdown:
        return markdown.replace(MARK, settings_reference())
    return markdown
