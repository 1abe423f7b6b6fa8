"""The `matcher` console script: the product's commands (pipelines.cli) with the lab's group mounted as `matcher lab`."""

from __future__ import annotations

from pipelines.cli import app
from pipelines.lab.cli import app as lab_app

app.add_typer(lab_app, name="lab")
__import__("pipelines.grade").grade.register(app)  # `matcher grade`
__import__("pipelines.inventory").inventory.register(app)  # `matcher inventory`
__import__("pipelines.bench").bench.register(app)  # `matcher bench`
__import__("pipelines.office").office.register(app)  # `matcher catalogue / campaign / digest / outcomes`

if __name__ == "__main__":
    app()
