"""Plotly figures from frames (no queries): each titled with its n.

Pages and exports embed a figure as JSON (`script_json`) and draw it with plotly.js, served from
the installed plotly package (`PLOTLY_JS`).
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.resources import files

import pandas as pd
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from assessments.stats.ratings import OVERALL
from assessments.stats.report import CalibrationReport

PLOTLY_JS = files("plotly") / "package_data" / "plotly.min.js"

# Error bars take a colour of their own: left unset they inherit a per-point marker colour list,
# which plotly.js rejects ("Invalid color specifier").
_ERROR_BAR_COLOUR = "#1d2330"
# Rows top to bottom in the frame's order (the tables' order), not plotly's bottom-up default.
_TOP_DOWN = {"autorange": "reversed"}

_LAYOUT = {
    "margin": {"l": 160, "r": 20, "t": 50, "b": 40},
    "height": 380,
    "paper_bgcolor": "white",
    "plot_bgcolor": "white",
    "font": {"family": "system-ui, sans-serif", "size": 13},
}


def leniency_figure(leniency: pd.DataFrame) -> go.Figure:
    """Each interviewer's overall shrunken effect with its 95% interval, least squares beside it.

    Each interviewer's label carries the candidates behind the estimate ("Ana (n = 12)").
    """
    overall = leniency[leniency["dimension"] == OVERALL].dropna(subset=["effect"])
    labels = [f"{name} (n = {n})" for name, n in zip(overall["interviewer"], overall["n_candidates"], strict=True)]
    figure = go.Figure(
        go.Scatter(
            x=overall["effect"],
            y=labels,
            mode="markers",
            marker={"size": 10, "color": ["#b3261e" if w else "#2454c5" for w in overall["min_n_warning"]]},
            error_x={
                "type": "data",
                "symmetric": False,
                "visible": True,
                "array": overall["ci_high"] - overall["effect"],
                "arrayminus": overall["effect"] - overall["ci_low"],
                "color": _ERROR_BAR_COLOUR,
            },
            customdata=overall[["n_candidates", "stands_out"]],
            hovertemplate="%{y}: %{x:+.2f} levels<br>stands out: %{customdata[1]}<extra>shrunken</extra>",
            name="shrunken (random effects)",
        )
    )
    figure.add_scatter(
        x=overall["fixed_effect"],
        y=labels,
        mode="markers",
        name="least squares",
        marker={"size": 8, "symbol": "circle-open", "color": "#555555"},
        hovertemplate="%{y}: %{x:+.2f} levels<extra>least squares</extra>",
    )
    figure.add_vline(x=0, line_dash="dot", line_color="#888")
    figure.update_layout(
        title=(
            f"Rater leniency<br><sup>adjusted for candidates seen · {len(overall)} interviewers · "
            f"n = {int(overall['n_candidates'].sum())} scorecards (red: fewer than 10 candidates)</sup>"
        ),
        xaxis_title="levels above (+) or below (−) the weighted average interviewer",
        yaxis=_TOP_DOWN,
        **_LAYOUT,
    )
    return figure


def reliability_figure(alpha: pd.DataFrame, names: Mapping[str, str] | None = None) -> go.Figure:
    """Krippendorff's alpha per dimension with its bootstrap interval, dimensions by name in the frame's order."""
    frame = alpha
    names = names or {}
    figure = go.Figure(
        go.Bar(
            x=frame["alpha"],
            y=[names.get(d, d) for d in frame["dimension"]],
            orientation="h",
            marker_color=["#b3261e" if a < 0.667 else "#1f7a4d" for a in frame["alpha"].fillna(0)],
            error_x={
                "type": "data",
                "symmetric": False,
                "array": frame["ci_high"] - frame["alpha"],
                "arrayminus": frame["alpha"] - frame["ci_low"],
                "color": _ERROR_BAR_COLOUR,
            },
            customdata=frame[["n_units", "n_raters"]],
            hovertemplate="%{y}: α = %{x:.2f}<br>%{customdata[0]} candidates, %{customdata[1]} raters<extra></extra>",
        )
    )
    figure.add_vline(x=0.667, line_dash="dot", line_color="#888")
    level = frame["level"].iloc[0] if len(frame) else "ordinal"
    figure.update_layout(
        title=f"Inter-rater reliability ({level} α)<br><sup>up to {int(frame['n_values'].max() or 0)} ratings per dimension</sup>",
        xaxis_title="α (dotted: 0.667, the lowest for tentative conclusions)",
        yaxis=_TOP_DOWN,
        **_LAYOUT,
    )
    return figure


# Low to high: a rubric's levels, or its recommendations from strongest no to strongest yes.
_SCALE = [[0, "#b3261e"], [1 / 3, "#e8a09a"], [2 / 3, "#8fb3e8"], [1, "#2454c5"]]
_NO_DECISION_COLOUR = "#999999"


def _scale_colours(n: int) -> list[str]:
    return sample_colorscale(_SCALE, n) if n > 1 else [_SCALE[-1][1]] * n


def _share_columns(frame: pd.DataFrame) -> list[str]:
    # The stats layer names one column per level or recommendation of the rubric, in scale order.
    return [c for c in frame.columns if str(c).startswith("share_")]


def distribution_figure(distribution: pd.DataFrame) -> go.Figure:
    """Each interviewer's share of ratings at each of the rubric's levels (all dimensions)."""
    overall = distribution[distribution["dimension"] == OVERALL]
    figure = go.Figure()
    columns = _share_columns(distribution)
    for column, colour in zip(columns, _scale_colours(len(columns)), strict=True):
        figure.add_bar(
            x=overall[column],
            y=overall["interviewer"],
            orientation="h",
            name=f"level {column.removeprefix('share_')}",
            marker_color=colour,
        )
    figure.update_layout(
        barmode="stack",
        title=f"Rating distribution per interviewer<br><sup>n = {int(overall['n'].sum())} ratings</sup>",
        xaxis_title="share of ratings",
        yaxis=_TOP_DOWN,
        **_LAYOUT,
    )
    return figure


def recommendation_figure(shares: pd.DataFrame) -> go.Figure:
    """Each interviewer's share of each overall recommendation, no decision included.

    The columns come in the rubric's order: its scale from strongest no to strongest yes, then
    the one recording no decision (stats' `recommendation_shares` keeps the order it is given).
    """
    columns = _share_columns(shares)
    scale = columns[:-1]
    frame = shares
    figure = go.Figure()
    colours = [*_scale_colours(len(scale)), _NO_DECISION_COLOUR][-len(columns) :] if columns else []
    for column, colour in zip(columns, colours, strict=True):
        figure.add_bar(
            x=frame[column],
            y=frame["interviewer"],
            orientation="h",
            name=column.removeprefix("share_").replace("_", " "),
            marker_color=colour,
        )
    figure.update_layout(
        barmode="stack",
        title=f"Recommendations per interviewer<br><sup>n = {int(frame['n'].sum())} scorecards</sup>",
        xaxis_title="share of scorecards",
        yaxis=_TOP_DOWN,
        **_LAYOUT,
    )
    return figure


def report_figures(report: CalibrationReport, names: Mapping[str, str] | None = None) -> dict[str, str]:
    """The calibration report's figures as JSON by name, each only when it has something to draw.

    Rows keep the report's order (`stats.reading_order`), top to bottom, as the tables list them;
    `names` maps dimension ids to the names the tables use.
    """
    if report.n_ratings == 0:
        return {}
    figures = {}
    if report.leniency.loc[report.leniency["dimension"] == OVERALL, "effect"].notna().any():
        figures["leniency"] = leniency_figure(report.leniency)
    if report.alpha["alpha"].notna().any():
        figures["reliability"] = reliability_figure(report.alpha, names)
    if len(report.rating_distribution):
        figures["distribution"] = distribution_figure(report.rating_distribution)
    if len(report.recommendation_shares):
        figures["recommendations"] = recommendation_figure(report.recommendation_shares)
    return {name: figure.to_json() for name, figure in figures.items()}


_PALETTE = ("#2454c5", "#1f7a4d", "#b3261e", "#8a5a00", "#6b3fa0", "#00707a", "#a0306b", "#555555")


def progress_figure(evidence: pd.DataFrame, dimensions: Mapping[str, str]) -> go.Figure:
    """A mentee's evidence over time: one score per attempt and dimension as lines, mentor ratings as diamonds.

    `evidence` has one row per point, oldest first: `dimension`, `source` ("auto" or "mentor"),
    `at` (ISO time), `value` (0..1), `case_title`, `attempt_number`, `level` (mentor points) and
    `after_solution` (drawn as an open marker). `dimensions` maps each dimension of the progress
    table to its name in table order; a dimension keeps its row's colour whether or not it has evidence.
    """
    figure = go.Figure()
    for index, (dimension, name) in enumerate(dimensions.items()):
        colour = _PALETTE[index % len(_PALETTE)]
        points = evidence[evidence["dimension"] == dimension]
        auto, mentor = points[points["source"] == "auto"], points[points["source"] == "mentor"]
        if len(auto):
            figure.add_scatter(
                x=auto["at"].tolist(),
                y=auto["value"].tolist(),
                mode="lines+markers",
                name=f"{name} (auto-graded)",
                line={"color": colour},
                legendgroup=dimension,
                marker={
                    "size": 9,
                    "symbol": ["circle-open" if after else "circle" for after in auto["after_solution"]],
                },
                customdata=[list(point) for point in zip(auto["case_title"], auto["attempt_number"], strict=True)],
                hovertemplate="%{customdata[0]}, attempt %{customdata[1]}<br>%{y:.0%} of the points<extra>"
                + name
                + "</extra>",
            )
        if len(mentor):
            figure.add_scatter(
                x=mentor["at"].tolist(),
                y=mentor["value"].tolist(),
                mode="markers",
                name=f"{name} (mentor)",
                legendgroup=dimension,
                marker={"symbol": "diamond", "size": 12, "color": colour},
                customdata=[list(point) for point in zip(mentor["case_title"], mentor["level"], strict=True)],
                hovertemplate=f"%{{customdata[0]}}<br>mentor rating: level %{{customdata[1]}}<extra>{name}</extra>",
            )
    auto_points = int((evidence["source"] == "auto").sum()) if len(evidence) else 0
    figure.update_layout(
        # The page's heading names the chart; the title only states the evidence's n.
        title={
            "text": f"n = {auto_points} attempt scores, {len(evidence) - auto_points} mentor ratings",
            "x": 0.01,
            "xanchor": "left",
        },
        yaxis={
            "title": {"text": "score", "standoff": 8},
            "range": [-0.05, 1.05],
            "tickformat": ".0%",
            "automargin": True,
        },
        # Dates need no axis title; without one nothing can collide with the legend below.
        xaxis={"automargin": True},
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        height=460,
        paper_bgcolor="white",
        plot_bgcolor="white",
        font={"family": "system-ui, sans-serif", "size": 13},
        legend={"orientation": "h", "x": 0, "y": -0.12, "yanchor": "top"},
    )
    return figure


def script_json(figure: go.Figure) -> str:
    """The figure as JSON for a <script type="application/json"> block ("</" cannot close it)."""
    return figure.to_json().replace("</", "<\\/")
