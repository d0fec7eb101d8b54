"""State diagrams generated from the actual machines with the ``transitions``
diagram support (mermaid needs no system binary; dot is the DOT source)."""

from __future__ import annotations

from transitions.extensions import GraphMachine

from model.lifecycles import instance_machine, run_machine


class _Subject:
    """A stand-in model for drawing the machine's states and transitions."""


def diagram(which: str = "instance", fmt: str = "mermaid") -> str:
    """The instance or run lifecycle as mermaid or DOT text."""
    build = instance_machine if which == "instance" else run_machine
    engine = "mermaid" if fmt == "mermaid" else "graphviz"
    title = "Instance lifecycle" if which == "instance" else "Upgrade run lifecycle"
    subject = _Subject()
    machine = build(
        model=subject,
        machine_class=GraphMachine,
        graph_engine=engine,
        title=title,
        show_conditions=True,
    )
    graph = machine.get_graph()
    if fmt == "mermaid":
        text = graph.draw(None)
    else:
        text = graph.source
    return text if text.endswith("\n") else text + "\n"
