"""A hand-written team view: reports over reflected tables, written with the view helpers.

It lives in webapp/views/, the home of the team's own views: create_app() registers every
Blueprint the modules here define, so nothing of pgfront's is edited to add one. Its
templates are its own too (webapp/views/templates/team/).

This is the pattern for your own views: take tables from the request's catalog
snapshot (`current_catalog().tables.books`), build Core statements, and let the
helpers run them through the scoped Session: `get_or_404` for one row by key,
`paginate` for pages of many. A miss is a 404 rendered like every other error.
"""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask import Blueprint, render_template

from db.session import Session
from webapp.lookups import get_or_404
from webapp.paging import paginate
from webapp.state import current_catalog

bp = Blueprint("team", __name__, url_prefix="/team", template_folder="templates")


@bp.get("/branches")
def branch_report():
    """Per branch: copies held, loans currently out and how many of those are overdue."""
    rows = Session.execute(branch_report_statement()).all()
    return render_template("team/branch_report.html", rows=rows)


@bp.get("/branches/<int:branch_id>")
def branch(branch_id: int):
    """One branch and its loans, newest first, paged by keyset (?per_page=, then next/previous)."""
    tables = current_catalog().tables
    found = get_or_404(tables.branches, branch_id)
    loans = paginate(
        branch_loans(branch_id),
        keyset=[sa.desc(tables.loans.c.loaned_at), sa.desc(tables.loans.c.id)],
        max_per_page=100,
        count=True,
    )
    return render_template("team/branch.html", branch=found, loans=loans)


@bp.cli.command("report")
def print_branch_report() -> None:
    """Print the branch report (flask --app webapp team report)."""
    for row in Session.execute(branch_report_statement()):
        click.echo(
            f"{row.name:<20} {row.copies:>6} copies {row.on_loan:>5} out {row.overdue:>5} late"
        )


def branch_report_statement() -> sa.Select:
    """id, name, city, copies, on_loan, overdue per branch, by name."""
    tables = current_catalog().tables
    branches = tables.branches
    stock = copies_per_branch(tables.copies)
    out = open_loans_per_branch(tables.loans, tables.copies)
    return (
        sa.select(
            branches.c.id,
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


def branch_loans(branch_id: int) -> sa.Select:
    """The loans of a branch's copies with the book's title and the member's name (unordered)."""
    tables = current_catalog().tables
    loans, copies, books, members = tables.loans, tables.copies, tables.books, tables.members
    return (
        sa.select(
            loans.c.id,
            loans.c.loaned_at,
            loans.c.due_on,
            loans.c.returned_at,
            books.c.title,
            members.c.full_name,
            sa.and_(loans.c.returned_at.is_(None), loans.c.due_on < sa.func.current_date()).label(
                "overdue"
            ),
        )
        .join(copies, copy_of_loan(loans, copies))
        .join(books, books.c.id == loans.c.book_id)
        .join(members, members.c.id == loans.c.member_id)
        .where(copies.c.branch_id == branch_id)
    )


def copy_of_loan(loans: sa.Table, copies: sa.Table) -> sa.ColumnElement[bool]:
    """The join of a loan to the copy it lent (a two-column key)."""
    return sa.and_(loans.c.book_id == copies.c.book_id, loans.c.copy_no == copies.c.copy_no)


def copies_per_branch(copies: sa.Table) -> sa.Subquery:
    """branch_id, copies: how many copies each branch holds."""
    return (
        sa.select(copies.c.branch_id, sa.func.count().label("copies"))
        .group_by(copies.c.branch_id)
        .subquery("stock")
    )


def open_loans_per_branch(loans: sa.Table, copies: sa.Table) -> sa.Subquery:
    """branch_id, on_loan, overdue: the open loans of each branch's copies."""
    return (
        sa.select(
            copies.c.branch_id,
            sa.func.count().label("on_loan"),
            sa.func.count().filter(loans.c.due_on < sa.func.current_date()).label("overdue"),
        )
        .select_from(loans.join(copies, copy_of_loan(loans, copies)))
        .where(loans.c.returned_at.is_(None))
        .group_by(copies.c.branch_id)
        .subquery("open_loans")
    )
