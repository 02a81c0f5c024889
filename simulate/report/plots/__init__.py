"""The charts of a run, for the report and for slides: each one's title states its finding.

`charts` holds the style and the charts of every run; `decide` the charts of the decision
commands (variants, tornado, stress matrix), built on the same style.
"""

from __future__ import annotations

import matplotlib

from ..view import RunView
from .charts import PLOTS, STYLE, Plot, wrap
from .decide import DECIDE_PLOTS


def draw_all(view: RunView) -> list[Plot]:
    """Every chart this run has data for (none when no replication completed)."""
    if view.rows().empty:
        return []
    with matplotlib.rc_context(STYLE):
        plots = [p for p in (make(view) for make in PLOTS + DECIDE_PLOTS) if p is not None]
    for p in plots:   # a long finding wraps rather than running off the slide (CJK counts double)
        text = "\n".join(wrap(p.title, 78))
        p.figure.axes[0].set_title(text, fontsize=STYLE["axes.titlesize"], fontweight="bold")
    return plots
