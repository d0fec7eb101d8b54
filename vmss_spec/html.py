"""A picture of the rollout: one self-contained HTML page (``vmss-spec replay
TRACE --html FILE``; ``vmss-spec verify`` writes one beside each
counterexample).

The page holds plotly.js itself (no network access when opened) and a fixed
div id, so the same trace gives the same bytes. Top: a lane per instance over
time with its phases (OS disk, extensions, awaiting health, rollback, model
update) and its down periods, the runs and batches as bands, a lane of events
and one of run decisions as markers with their timeline line on hover, the
violations as red lines with their message. Below: the unhealthy count
against each run's limit (R4, R8, D1). Then the explanation and the timeline
as text.
"""

from __future__ import annotations

import html
from pathlib import Path

import plotly.graph_objects as go
from plotly.io import to_html
from plotly.subplots import make_subplots

from model.causes import printable
from model.explain import explain
from model.replay import Replay
from model.rollout import Rollout
from model.trace import Trace
from vmss_spec.output import output_problem, write_whole

__all__ = ["output_problem", "page", "write_page", "write_trace_page"]

#: the plot's div id (fixed: the page is byte-deterministic)
DIV_ID = "rollout"
EVENTS, RUNS = "events", "runs"

COLORS = {
    "creating": "#9ecae1",
    "OS disk": "#3182bd",
    "extensions": "#31a354",
    "awaiting health": "#fdae6b",
    "rollback": "#de2d26",
    "model update": "#756bb1",
    "down": "#252525",
}
RUN_COLORS = {"Completed": "#31a354", "Faulted": "#de2d26", "Cancelled": "#969696"}


def lane(i: int) -> str:
    return f"instance {i}"


def _instance_lanes(fig: go.Figure, rollout: Rollout, lanes: list[str]) -> None:
    for phase, color in COLORS.items():
        spans = [s for s in rollout.spans if s.phase == phase]
        if not spans:
            continue
        ends = [s.end if s.end is not None else s.start for s in spans]
        fig.add_trace(
            go.Bar(
                name=phase,
                orientation="h",
                y=[lane(s.instance) for s in spans],
                base=[s.start for s in spans],
                x=[max(end - s.start, 0) for s, end in zip(spans, ends, strict=True)],
                width=0.35 if phase == "down" else 0.8,
                marker={"color": color, "pattern": {"shape": "/" if phase == "down" else ""}},
                hovertext=[
                    f"instance {s.instance}: {phase}{' (' + s.detail + ')' if s.detail else ''}"
                    f" {s.start}s-{end}s"
                    for s, end in zip(spans, ends, strict=True)
                ],
                hoverinfo="text",
            ),
            row=1,
            col=1,
        )


def _markers(fig: go.Figure, rep: Replay) -> None:
    """Events (lines of no run) and run decisions (lines of a run, except the
    per-instance ones), with their timeline line on hover."""
    for name, keep, symbol in (
        (EVENTS, lambda e: e[2] is None, "diamond"),
        (RUNS, lambda e: e[2] is not None and e[1].startswith("run "), "square"),
    ):
        chosen = [e for e in rep.timeline if keep(e)]
        fig.add_trace(
            go.Scatter(
                name=name,
                mode="markers",
                x=[e[0] for e in chosen],
                y=[name] * len(chosen),
                marker={"symbol": symbol, "size": 9, "color": "#636363"},
                hovertext=[f"{e[0]}s {html.escape(e[1])}" for e in chosen],
                hoverinfo="text",
            ),
            row=1,
            col=1,
        )
    violations = rep.result.violations
    if violations:
        fig.add_trace(
            go.Scatter(
                name="violation",
                mode="markers",
                x=[v.at for v in violations],
                y=[EVENTS] * len(violations),
                marker={"symbol": "x", "size": 14, "color": "#d7301f"},
                hovertext=[
                    f"VIOLATION {v.invariant} at {v.at}s: {html.escape(printable(v.message))}"
                    for v in violations
                ],
                hoverinfo="text",
            ),
            row=1,
            col=1,
        )


def _bands(fig: go.Figure, rep: Replay) -> None:
    """Runs and batches as bands over the lanes; violations as red lines.
    (Collected, then given to the layout once: plotly's add_shape and
    add_annotation copy every shape and note so far, each time.)"""
    now = rep.result.time
    shapes: list[dict] = []
    notes: list[dict] = []
    for run in rep.scale_set.runs:
        end = run.end if run.end is not None else now
        shapes.append(dict(
            type="rect",
            name=f"run {run.number}",
            x0=run.start,
            x1=max(end, run.start + 1),
            xref="x",
            yref="y domain",
            y0=0,
            y1=1,
            fillcolor=RUN_COLORS.get(run.code, "#6baed6"),
            opacity=0.08,
            line={"width": 0},
            layer="below",
        ))  # fmt: skip
        notes.append(dict(
            x=run.start, xref="x", y=1.0, yref="y domain", yanchor="bottom", xanchor="left",
            text=f"run {run.number} {run.code}", showarrow=False, font={"size": 11},
        ))  # fmt: skip
        for b in run.batches:
            b_end = b.end if b.end is not None else end
            shapes.append(dict(
                type="rect",
                name=f"run {run.number} batch {b.number}",
                x0=b.start,
                x1=max(b_end, b.start + 1),
                xref="x",
                yref="y domain",
                y0=0,
                y1=0.97,
                fillcolor="#fec44f",
                opacity=0.18,
                line={"width": 1, "color": "#d95f0e", "dash": "dot"},
                layer="below",
            ))  # fmt: skip
            notes.append(dict(
                x=b.start, xref="x", y=0.97, yref="y domain", yanchor="top", xanchor="left",
                text=f"batch {b.number}", showarrow=False, font={"size": 9},
            ))  # fmt: skip
    for v in rep.result.violations:
        shapes.append(dict(
            type="line",
            name=f"violation {v.invariant}",
            x0=v.at,
            x1=v.at,
            xref="x",
            yref="paper",
            y0=0,
            y1=1,
            line={"color": "#d7301f", "width": 2},
        ))  # fmt: skip
        notes.append(dict(
            x=v.at, xref="x", y=0, yref="paper", yanchor="top", showarrow=False,
            text=f"{v.invariant}: {html.escape(printable(v.message)[:80])}",
            font={"color": "#d7301f"},
        ))  # fmt: skip
    fig.update_layout(shapes=shapes, annotations=notes)


def _limit(fig: go.Figure, rep: Replay, rollout: Rollout) -> None:
    """The unhealthy count against each run's limit (R4, R8, D1)."""
    now = rep.result.time
    samples = [*rollout.unhealthy, (now, rollout.unhealthy[-1][1])] if rollout.unhealthy else []
    fig.add_trace(
        go.Scatter(
            name="unhealthy",
            mode="lines",
            line={"shape": "hv", "color": "#e6550d"},
            x=[t for t, _ in samples],
            y=[c for _, c in samples],
            hovertemplate="%{x}s: %{y} unhealthy<extra></extra>",
        ),
        row=2,
        col=1,
    )
    limits_of_runs = []
    for run in rep.scale_set.runs:
        if not run.checks:
            continue
        xs = [run.start, *(c.at for c in run.checks), run.end if run.end is not None else now]
        limits = [c.limit for c in run.checks]
        ys = [limits[0], *limits, limits[-1]]
        texts = [f"limit {limits[0]}"] + [
            f"check at {c.at}s: {c.unhealthy} of {c.instance_count} unhealthy, "
            f"limit {c.limit} = floor({c.instance_count} x {c.percent}%)"
            for c in run.checks
        ]
        limits_of_runs.append(
            go.Scatter(
                name=f"limit (run {run.number})",
                mode="lines+markers",
                line={"shape": "hv", "dash": "dash", "color": "#3182bd"},
                x=xs,
                y=ys,
                hovertext=[*texts, texts[-1]],
                hoverinfo="text",
            )
        )
    if limits_of_runs:  # at once: add_trace copies every trace so far, each time
        fig.add_traces(limits_of_runs, rows=2, cols=1)


def figure(rep: Replay, rollout: Rollout, title: str = "") -> go.Figure:
    """The rollout as a plotly figure."""
    lanes = [EVENTS, RUNS, *(lane(i) for i in rollout.instances)]
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        row_heights=[0.78, 0.22],
        vertical_spacing=0.06,
    )
    _instance_lanes(fig, rollout, lanes)
    _markers(fig, rep)
    _bands(fig, rep)
    _limit(fig, rep, rollout)
    fig.update_yaxes(
        row=1,
        col=1,
        type="category",
        categoryorder="array",
        categoryarray=list(reversed(lanes)),
        tickmode="array",
        tickvals=lanes,
        range=[-0.5, len(lanes) - 0.5],
    )
    fig.update_yaxes(row=2, col=1, title_text="unhealthy", rangemode="tozero")
    fig.update_xaxes(row=2, col=1, title_text="seconds")
    fig.update_layout(
        title=html.escape(title),
        barmode="overlay",
        height=max(420, 160 + 22 * len(lanes)),
        hovermode="closest",
        template="plotly_white",
        legend={"orientation": "h", "y": -0.18},
        margin={"l": 90, "r": 20, "t": 60, "b": 80},
    )
    return fig


def page(rep: Replay, rollout: Rollout, title: str = "") -> str:
    """One self-contained page: the picture, the explanation and the timeline."""
    body = to_html(
        figure(rep, rollout, title),
        include_plotlyjs=True,
        full_html=False,
        div_id=DIV_ID,
        config={"displaylogo": False, "responsive": True},
    )
    why = "".join(f"<p>{html.escape(p)}</p>" for p in explain(rep.scale_set).split("\n\n"))
    said = [printable(f"{v.invariant} at {v.at}s: {v.message}") for v in rep.result.violations]
    violations = "".join(f'<li class="violation">{html.escape(v)}</li>' for v in said)
    listed = f"<h2>Violations</h2><ul>{violations}</ul>" if violations else ""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title or 'rollout')}</title>\n"
        "<style>body{font-family:sans-serif;margin:1em}"
        ".violation{color:#d7301f}pre{font-size:12px}</style>\n</head>\n<body>\n"
        f"{body}\n{listed}<h2>What happened, and why</h2>\n{why}\n"
        f"<h2>Timeline</h2>\n<pre>{html.escape(rep.text())}</pre>\n</body>\n</html>\n"
    )


def write_page(rep: Replay, rollout: Rollout, path: str | Path, title: str = "") -> Path:
    """Write the page to ``path``, whole or not at all; returns it."""
    return write_whole(path, page(rep, rollout, title))


def write_trace_page(trace: Trace, path: str | Path, title: str = "") -> Path:
    """Replay ``trace`` with its properties checked and write its page."""
    from vmss_spec.replay import replay_with_rollout

    rep, rollout = replay_with_rollout(trace)
    return write_page(rep, rollout, path, title)
