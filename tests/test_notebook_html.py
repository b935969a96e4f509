"""The staff notebook view: a candidate's HTML output is cleaned and every image in it has a text alternative."""

from __future__ import annotations

import re

from assessments.views.notebook_html import render_notebook


def _notebook_with_html(html: str) -> dict:
    output = {"output_type": "display_data", "data": {"text/html": html}}
    return {"cells": [{"cell_type": "code", "source": "show()", "outputs": [output]}]}


def test_an_image_in_html_output_gets_alternative_text_and_keeps_its_own():
    page = str(render_notebook(_notebook_with_html('<img src="a.png"><img alt="Lift by week" src="b.png">')))
    images = re.findall(r"<img[^>]*>", page)
    assert len(images) == 2
    assert 'alt="image in the cell output"' in images[0]
    assert 'alt="Lift by week"' in images[1] and images[1].count("alt=") == 1


def test_html_output_runs_no_script_and_no_handler():
    page = str(render_notebook(_notebook_with_html('<img src=x onerror="alert(1)"><script>alert(2)</script>')))
    assert "onerror" not in page and "<script" not in page
