"""SQL from a read's plan: the page's statement, and the statement its counts count."""

from __future__ import annotations

from dataclasses import replace

import sqlalchemy as sa

from .cursors import past
from .joined import join_embeds
from .plan import ReadPlan
from .query import build_select
from .related import Related


def select_for(plan: ReadPlan) -> sa.Select:
    """The statement of one response: columns, filters, order, start, joined embeds, size.

    It asks for one row more than the plan's limit, so the rows tell whether more follow.
    """
    relation, order = plan.relation, plan.sort_order
    related = Related(relation, plan.embeds)
    stmt = build_select(relation, replace(plan.read, order=order), plan.hidden, related)
    if plan.after is not None:
        keys = [(relation.column(term.column), term.descending) for term in order]
        stmt = stmt.where(past(keys, plan.after))
    stmt = join_embeds(stmt, relation, [each.joined for each in plan.embeds if each.joined])
    if plan.limit is not None:
        stmt = stmt.limit(plan.limit + 1)
    return stmt.offset(plan.offset) if plan.offset else stmt


def count_for(plan: ReadPlan) -> sa.Select:
    """Every row the read's filters match, whatever the page, cursor or order: what counts count."""
    related = Related(plan.relation, plan.embeds)
    return build_select(plan.relation, replace(plan.read, order=()), related=related)
