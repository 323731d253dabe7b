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
    copies = catalog.table("copies")
    loans = catalog.table("loans")

    stock = (
        sa.select(copies.c.branch_id, sa.func.count().label("copies"))
        .group_by(copies.c.branch_id)
        .subquery("stock")
    )
    open_loans = (
        sa.select(
            copies.c.branch_id,
            sa.func.count().label("on_loan"),
            sa.func.count().filter(loans.c.due_on < sa.func.current_date()).label("overdue"),
        )
        .select_from(
            loans.join(
                copies,
                sa.and_(
                    loans.c.book_id == copies.c.book_id,
                    loans.c.copy_no == copies.c.copy_no,
                ),
            )
        )
        .where(loans.c.returned_at.is_(None))
        .group_by(copies.c.branch_id)
        .subquery("open_loans")
    )
    stmt = (
        sa.select(
            branches.c.name,
            branches.c.city,
            sa.func.coalesce(stock.c.copies, 0).label("copies"),
            sa.func.coalesce(open_loans.c.on_loan, 0).label("on_loan"),
            sa.func.coalesce(open_loans.c.overdue, 0).label("overdue"),
        )
        .outerjoin(stock, stock.c.branch_id == branches.c.id)
        .outerjoin(open_loans, open_loans.c.branch_id == branches.c.id)
        .order_by(branches.c.name)
    )
    rows = Session.execute(stmt).all()
    return render_template("branch_report.html", rows=rows)
