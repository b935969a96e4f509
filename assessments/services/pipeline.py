"""The hiring pipeline: each invitation's stage and what is overdue, searched, filtered and paged in SQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Row, and_, case, exists, func, literal, or_, select, true
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Select, Subquery

from assessments.extensions import db
from assessments.models import (
    Candidate,
    Case,
    GradeRun,
    GradeStatus,
    HiringDecision,
    Invitation,
    InvitationStatus,
    PanelMember,
    Scorecard,
    ScorecardPurpose,
    ScorecardStatus,
    Submission,
    User,
)
from assessments.models.types import utcnow

# In the order a candidate moves through them.
STAGES: dict[str, str] = {
    "invited": "invited",
    "opened": "opened the link",
    "downloaded": "downloaded",
    "submitted": "submitted",
    "checked": "checked",
    "scorecards": "scorecards",
    "debriefed": "debriefed",
    "decided": "decided",
}
# Scorecards are overdue this long after the (latest) submission.
SCORECARDS_DUE_AFTER = timedelta(days=2)
PER_PAGE = 25


@dataclass(frozen=True)
class PipelineFilters:
    """What the pipeline page asks for; empty values filter nothing."""

    search: str = ""
    case: str = ""
    stage: str = ""
    invited_from: date | None = None
    invited_to: date | None = None
    overdue: bool = False
    needs_panel: bool = False
    page: int = 1


@dataclass(frozen=True)
class PipelineRow:
    """One invitation on the pipeline."""

    invitation_id: int
    candidate_name: str
    candidate_email: str
    case_title: str
    invited_at: datetime
    due_at: datetime
    revoked: bool
    stage: str
    panel_size: int
    scorecards_in: int
    submissions: int
    overdue: tuple[str, ...]
    decision: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None

    @property
    def needs_panel(self) -> bool:
        """True when nobody is on the panel (invited with "panel later")."""
        return self.panel_size == 0 and not self.revoked

    @property
    def stage_label(self) -> str:
        """The stage as the page says it; scorecards with their count."""
        if self.stage == "scorecards":
            return f"scorecards {self.scorecards_in} of {self.panel_size}"
        if self.stage == "decided" and self.decision:
            return f"decided: {self.decision}"
        return STAGES[self.stage]


@dataclass(frozen=True)
class PipelinePage:
    """A page of the pipeline with what the filters need."""

    rows: list[PipelineRow]
    total: int
    page: int
    pages: int


def _facts(ids: list[int] | None = None) -> Subquery:
    # One row per invitation with what its stage is made of: each related table is aggregated
    # once by invitation_id and outer-joined (hash joins, linear in the rows), rather than a
    # subquery per invitation; the stage and overdue expressions read these columns. With `ids`
    # every aggregate reads only those invitations' rows (a page whose invitations are known).
    def only(column: ColumnElement) -> ColumnElement:
        return column.in_(ids) if ids is not None else true()

    subs = (
        select(
            Submission.invitation_id.label("invitation_id"),
            func.count(Submission.id).label("n"),
            func.max(Submission.uploaded_at).label("last"),
        )
        .where(only(Submission.invitation_id))
        .group_by(Submission.invitation_id)
        .subquery("subs")
    )
    checked = (
        select(Submission.invitation_id.label("invitation_id"))
        .join(GradeRun, GradeRun.submission_id == Submission.id)
        .where(GradeRun.status == GradeStatus.DONE, only(Submission.invitation_id))
        .group_by(Submission.invitation_id)
        .subquery("checked")
    )
    panel = (
        select(PanelMember.invitation_id.label("invitation_id"), func.count(PanelMember.id).label("n"))
        .where(only(PanelMember.invitation_id))
        .group_by(PanelMember.invitation_id)
        .subquery("panel")
    )
    # Scorecards of the current panel only: a removed panelist's scorecard is kept, not counted here.
    cards = (
        select(
            Scorecard.invitation_id.label("invitation_id"),
            func.count(func.distinct(Scorecard.interviewer_id)).label("n"),
        )
        .join(
            PanelMember,
            and_(
                PanelMember.invitation_id == Scorecard.invitation_id,
                PanelMember.interviewer_id == Scorecard.interviewer_id,
            ),
        )
        .where(
            Scorecard.purpose == ScorecardPurpose.HIRING,
            Scorecard.status == ScorecardStatus.SUBMITTED,
            only(Scorecard.invitation_id),
        )
        .group_by(Scorecard.invitation_id)
        .subquery("cards")
    )
    decided = (
        select(HiringDecision.invitation_id.label("invitation_id"))
        .where(only(HiringDecision.invitation_id))
        .group_by(HiringDecision.invitation_id)
        .subquery("decided")
    )
    return (
        select(
            Invitation.id.label("id"),
            Invitation.candidate_id.label("candidate_id"),
            Invitation.case_id.label("case_id"),
            Invitation.created_at.label("created_at"),
            Invitation.due_at.label("due_at"),
            Invitation.status.label("status"),
            Invitation.first_opened_at.label("first_opened_at"),
            Invitation.first_downloaded_at.label("first_downloaded_at"),
            func.coalesce(subs.c.n, 0).label("submissions"),
            subs.c.last.label("last_upload"),
            checked.c.invitation_id.is_not(None).label("checked"),
            func.coalesce(panel.c.n, 0).label("panel_size"),
            func.coalesce(cards.c.n, 0).label("scorecards_in"),
            decided.c.invitation_id.is_not(None).label("decided"),
        )
        .outerjoin(subs, subs.c.invitation_id == Invitation.id)
        .outerjoin(checked, checked.c.invitation_id == Invitation.id)
        .outerjoin(panel, panel.c.invitation_id == Invitation.id)
        .outerjoin(cards, cards.c.invitation_id == Invitation.id)
        .outerjoin(decided, decided.c.invitation_id == Invitation.id)
        .where(only(Invitation.id))
        .subquery("facts")
    )


def _columns(f: Subquery, now: datetime) -> dict[str, ColumnElement]:
    c = f.c
    stage = case(
        (c.decided, literal("decided")),
        (and_(c.panel_size > 0, c.scorecards_in >= c.panel_size, c.submissions > 0), literal("debriefed")),
        (c.scorecards_in > 0, literal("scorecards")),
        (c.checked, literal("checked")),
        (c.submissions > 0, literal("submitted")),
        (c.first_downloaded_at.is_not(None), literal("downloaded")),
        (c.first_opened_at.is_not(None), literal("opened")),
        else_=literal("invited"),
    )
    missing_submission = and_(c.status == InvitationStatus.ACTIVE, c.due_at < now, c.submissions == 0)
    late_scorecards = and_(
        c.last_upload < now - SCORECARDS_DUE_AFTER, c.panel_size > 0, c.scorecards_in < c.panel_size, ~c.decided
    )
    return {"stage": stage, "missing_submission": missing_submission, "late_scorecards": late_scorecards}


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def count_pipeline(filters: PipelineFilters, now: datetime | None = None) -> int:
    """How many invitations the filters match, in one query (for a count shown without its rows)."""
    if not _needs_facts(filters):
        return _count(_plain(filters))
    query, _ = _filtered(filters, now or utcnow())
    return _count(query)


def _count(query: Select) -> int:
    return db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0


def _needs_facts(filters: PipelineFilters) -> bool:
    """True when a filter reads a stage or what is overdue, so every invitation's facts are needed."""
    return filters.stage in STAGES or filters.overdue or filters.needs_panel


def _plain_conditions(filters: PipelineFilters, created_at: ColumnElement) -> list[ColumnElement]:
    # The filters on the invitation, its candidate and its case alone.
    conditions: list[ColumnElement] = []
    if filters.search.strip():
        pattern = f"%{_escape_like(filters.search.strip().lower())}%"
        conditions.append(
            or_(func.lower(Candidate.name).like(pattern, escape="\\"), Candidate.email.like(pattern, escape="\\"))
        )
    if filters.case:
        conditions.append(Case.slug == filters.case)
    if filters.invited_from:
        conditions.append(created_at >= _day_start(filters.invited_from))
    if filters.invited_to:
        conditions.append(created_at < _day_start(filters.invited_to + timedelta(days=1)))
    return conditions


def _plain(filters: PipelineFilters) -> Select:
    """The invitations the filters match, when no filter reads a stage: no aggregate over other tables."""
    return (
        select(Invitation.id)
        .join(Candidate, Invitation.candidate_id == Candidate.id)
        .join(Case, Invitation.case_id == Case.id)
        .where(*_plain_conditions(filters, Invitation.created_at))
    )


def _filtered(filters: PipelineFilters, now: datetime, ids: list[int] | None = None) -> tuple[Select, Subquery]:
    f = _facts(ids)
    cols = _columns(f, now)
    query = (
        select(
            f.c.id,
            Candidate.name,
            Candidate.email,
            Case.title,
            f.c.created_at,
            f.c.due_at,
            f.c.status,
            cols["stage"].label("stage"),
            f.c.panel_size,
            f.c.scorecards_in,
            f.c.submissions,
            cols["missing_submission"].label("missing_submission"),
            cols["late_scorecards"].label("late_scorecards"),
        )
        .join(Candidate, f.c.candidate_id == Candidate.id)
        .join(Case, f.c.case_id == Case.id)
        .where(*_plain_conditions(filters, f.c.created_at))
    )
    if filters.stage in STAGES:
        query = query.where(cols["stage"] == filters.stage)
    if filters.overdue:
        query = query.where(or_(cols["missing_submission"], cols["late_scorecards"]))
    if filters.needs_panel:
        query = query.where(f.c.panel_size == 0, f.c.status == InvitationStatus.ACTIVE)
    return query, f


def list_pipeline(
    filters: PipelineFilters, now: datetime | None = None, per_page: int = PER_PAGE, total: int | None = None
) -> PipelinePage:
    """One page of the pipeline, newest invitations first, with each one's stage and what is overdue.

    `total` is how many the filters match when the caller has counted already. Without a filter on
    the stage or what is overdue, the page's invitations are found first and only theirs are
    aggregated; otherwise every invitation's facts are computed to filter on them.
    """
    now = now or utcnow()
    plain = not _needs_facts(filters)
    if total is None:
        total = _count(_plain(filters)) if plain else count_pipeline(filters, now)
    pages = max(1, -(-total // per_page))
    page = min(max(1, filters.page), pages)
    if plain:
        ids = list(
            db.session.scalars(
                _plain(filters)
                .order_by(Invitation.created_at.desc(), Invitation.id.desc())
                .limit(per_page)
                .offset((page - 1) * per_page)
            )
        )
        query, f = _filtered(PipelineFilters(), now, ids)
    else:
        query, f = _filtered(filters, now)
        query = query.limit(per_page).offset((page - 1) * per_page)
    result = db.session.execute(query.order_by(f.c.created_at.desc(), f.c.id.desc())).all()
    decisions = _latest_decisions([r.id for r in result])
    return PipelinePage(rows=[_row(r, decisions.get(r.id)) for r in result], total=total, page=page, pages=pages)


def _row(r: Row, decision: tuple[str, str, datetime] | None) -> PipelineRow:
    overdue = []
    if r.missing_submission:
        overdue.append("deadline passed without a submission")
    if r.late_scorecards:
        overdue.append("scorecards due two days after the submission")
    return PipelineRow(
        invitation_id=r.id,
        candidate_name=r.name,
        candidate_email=r.email,
        case_title=r.title,
        invited_at=r.created_at,
        due_at=r.due_at,
        revoked=r.status == InvitationStatus.REVOKED,
        stage=r.stage,
        panel_size=r.panel_size,
        scorecards_in=r.scorecards_in,
        submissions=r.submissions,
        overdue=tuple(overdue),
        decision=decision[0] if decision else None,
        decided_by=decision[1] if decision else None,
        decided_at=decision[2] if decision else None,
    )


@dataclass(frozen=True)
class HiringSummary:
    """The hiring part of the dashboard."""

    to_decide: PipelinePage  # every panelist has submitted: the hiring manager's decision is next
    recent: PipelinePage
    overdue: int
    needs_panel: int


def hiring_summary(now: datetime | None = None, per_list: int = 10) -> HiringSummary:
    """What the dashboard shows a hiring manager: the counts in one pass over every invitation's
    facts, the decisions to make in a second, the newest invitations from their own facts only."""
    now = now or utcnow()
    query, f = _filtered(PipelineFilters(), now)
    every = query.subquery()

    def how_many(condition: ColumnElement) -> ColumnElement:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    total, to_decide, overdue, needs_panel = db.session.execute(
        select(
            func.count(),
            how_many(every.c.stage == "debriefed"),
            how_many(or_(every.c.missing_submission, every.c.late_scorecards)),
            how_many(and_(every.c.panel_size == 0, every.c.status == InvitationStatus.ACTIVE)),
        ).select_from(every)
    ).one()
    return HiringSummary(
        to_decide=list_pipeline(PipelineFilters(stage="debriefed"), now, per_list, total=int(to_decide)),
        recent=list_pipeline(PipelineFilters(), now, per_list, total=int(total)),
        overdue=int(overdue),
        needs_panel=int(needs_panel),
    )


def _latest_decisions(invitation_ids: list[int]) -> dict[int, tuple[str, str, datetime]]:
    # One query for the page: every decision of these invitations, oldest first, so the newest wins.
    if not invitation_ids:
        return {}
    rows = db.session.execute(
        select(HiringDecision.invitation_id, HiringDecision.outcome, User.display_name, HiringDecision.decided_at)
        .join(User, HiringDecision.decided_by_id == User.id)
        .where(HiringDecision.invitation_id.in_(invitation_ids))
        .order_by(HiringDecision.decided_at, HiringDecision.id)
    ).all()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def case_choices() -> list[tuple[str, str]]:
    """Every case that has an invitation, as (slug, title), for the filter."""
    # Every case that has an invitation, by slug (a case has one row per content version).
    rows = db.session.execute(
        select(Case.slug, func.max(Case.title))
        .where(exists(select(Invitation.id).where(Invitation.case_id == Case.id)))
        .group_by(Case.slug)
        .order_by(Case.slug)
    ).all()
    return [(slug, title) for slug, title in rows]
