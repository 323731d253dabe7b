"""Spread embeds (`...authors(name)`): the embedded columns lifted into the parent row.

A to-one spread puts each embedded column beside the parent's own (null when no row
matched); a to-many spread puts one array per column, the values of every matching row in
the embed's order. The keys go where the embed stands in `select=`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .plan import EmbedPlan


def output_keys(plan: EmbedPlan) -> list[str]:
    """The keys an embed puts in its parent row: its own, its columns' when spread, none if empty."""
    if plan.embed.empty:
        return []
    return embedded_keys(plan) if plan.embed.spread else [plan.key]


def embedded_keys(plan: EmbedPlan) -> list[str]:
    """The keys of one embedded row: its columns (renamed), then its own embeds' keys."""
    select = plan.embed.read.select
    if select is None:
        keys = [column.name for column in plan.join.child.columns]
    else:
        keys = [item.key for item in select]
    return keys + [key for inner in plan.embeds for key in output_keys(inner)]


def make_room(rows: list[dict], plans: tuple[EmbedPlan, ...]) -> None:
    """Every embed's keys in each row, in select= order, before any embed is attached."""
    keys = dict.fromkeys(key for plan in plans for key in output_keys(plan))
    for row in rows:
        row.update(keys)


def spread_embeds(rows: list[dict], plans: tuple[EmbedPlan, ...]) -> None:
    """Replace each spread embed's value in every row by its columns' values."""
    for plan in plans:
        if not plan.embed.spread or plan.embed.empty:
            continue
        keys = embedded_keys(plan)
        for row in rows:
            value = row.pop(plan.key)
            if plan.join.to_many:
                row.update({key: [child[key] for child in value] for key in keys})
            elif value is None:
                row.update(dict.fromkeys(keys))
            else:
                row.update({key: value[key] for key in keys})
