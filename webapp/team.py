"""A hand-written team view: a report that queries reflected tables through the scoped Session.

This is the pattern for your own views: take tables from the request's catalog
snapshot, build Core statements, run them with `Session.execute`, render.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, render_template

from db.session import Session

from .state import current_catalog

bp = Blueprint("team", __name__, url_prefix="/team")


@bp.get("/branches")
def branch_report():
    """Per branch: copies held, loans currently out and how many of those are overdue."""
    catalog = current_catalog()
    branches = catalog.table("branches")
    stock = copies_per_branch(catalog.table("copies"))
    out = open_loans_per_branch(catalog.table("loans"), catalog.table("copies"))
    stmt = (
        sa.select(
            branches.c.name,
            branches.c.city,
            sa.func.coalesce(stock.c.copies, 0).label("copies"),
            sa.func.coalesce(out.c.on_loan, 0).label("on_loan"),
            sa.func.coalesce(out.c.overdue, 0).label("overdue"),
        )
        .outerjoin(stock, stock.c.branch_id == branches.c.id)
        .outerjoin(out, out.c.branch_id == branches.c.id)
        .order_by(branches.c.name)
    )
    rows = Session.execute(stmt).all()
    return render_template("branch_report.html", rows=rows)


def copies_per_branch(copies: sa.Table) -> sa.Subquery:
    """branch_id, copies: how many copies each branch holds."""
    return (
        sa.select(copies.c.branch_id, sa.func.count().label("copies"))
        .group_by(copies.c.branch_id)
        .subquery("stock")
    )


def open_loans_per_branch(loans: sa.Table, copies: sa.Table) -> sa.Subquery:
    """branch_id, on_loan, overdue: the open loans of each branch's copies."""
    copy_of_loan = sa.and_(loans.c.book_id == copies.c.book_id, loans.c.copy_no == copies.c.copy_no)
    return (
        sa.select(
            copies.c.branch_id,
            sa.func.count().label("on_loan"),
            sa.func.count().filter(loans.c.due_on < sa.func.current_date()).label("overdue"),
        )
        .select_from(loans.join(copies, copy_of_loan))
        .where(loans.c.returned_at.is_(None))
        .group_by(copies.c.branch_id)
        .subquery("open_loans")
    )
