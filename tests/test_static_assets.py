"""Static files and plotly.js: content-hashed names, a year's cache for them, gzip when accepted."""

from __future__ import annotations

import gzip
import re

from flask import url_for

from assessments.views.calibration import charts


def _get(client, path: str, **headers: str):
    """The response with its body read and its file closed."""
    response = client.get(path, headers=headers)
    response.get_data()
    response.close()
    return response


def _urls(app) -> tuple[str, str]:
    with app.test_request_context():
        return url_for("static", filename="style.css"), url_for("vendor.plotly_js")


def test_pages_link_assets_by_content_hashed_names(app, client):
    style, plotly = _urls(app)
    assert re.fullmatch(r"/static/style\.[0-9a-f]{12}\.css", style)
    assert re.fullmatch(r"/vendor/plotly\.[0-9a-f]{12}\.min\.js", plotly)
    page = client.get("/login").get_data(as_text=True)
    assert f'href="{style}"' in page


def test_a_hashed_name_is_cached_for_a_year_and_gzipped_when_accepted(app, client):
    style, plotly = _urls(app)
    plain = _get(client, plotly, **{"Accept-Encoding": "identity"})
    packed = _get(client, plotly, **{"Accept-Encoding": "gzip, deflate, br"})
    assert plain.status_code == packed.status_code == 200
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"] and "Accept-Encoding" in plain.headers["Vary"]
    assert packed.headers["Content-Type"].startswith("text/javascript")
    assert len(packed.get_data()) < len(plain.get_data()) / 2
    assert gzip.decompress(packed.get_data()) == plain.get_data() == charts.PLOTLY_JS.read_bytes()
    for response in (plain, packed):
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    css = _get(client, style, **{"Accept-Encoding": "gzip"})
    assert css.headers["Content-Encoding"] == "gzip" and css.headers["Content-Type"].startswith("text/css")


def test_an_unhashed_or_outdated_name_gets_the_current_file_revalidated(app, client):
    style, _ = _urls(app)
    for path in ("/static/style.css", "/static/style.000000000000.css"):
        response = _get(client, path)
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-cache"
        assert response.get_data() == _get(client, style).get_data()
    etag = _get(client, style, **{"Accept-Encoding": "gzip"}).headers["ETag"]
    again = _get(client, style, **{"Accept-Encoding": "gzip", "If-None-Match": etag})
    assert again.status_code == 304


def test_a_changed_file_gets_a_new_name(app, tmp_path):
    (tmp_path / "site.css").write_text("body { color: black; }")
    app.static_folder = str(tmp_path)
    with app.test_request_context():
        before = url_for("static", filename="site.css")
        (tmp_path / "site.css").write_text("body { color: navy; }")
        after = url_for("static", filename="site.css")
    assert before != after
    assert _get(app.test_client(), after).get_data() == b"body { color: navy; }"


def test_nothing_outside_the_static_folder_is_served(client):
    assert _get(client, "/static/../assessments/config.py").status_code == 404
    assert _get(client, "/static/no-such-file.css").status_code == 404


def test_every_page_names_its_favicon_and_it_is_served(client):
    page = client.get("/login").get_data(as_text=True)
    icon = re.search(r'<link rel="icon" type="image/svg\+xml" href="([^"]+)">', page)
    assert icon, "the page links no favicon, so the browser asks for /favicon.ico and logs a 404"
    response = _get(client, icon.group(1))
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
