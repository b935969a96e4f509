"""The hiring packet, from the debrief: a printable page and the same document as PDF."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from flask import Blueprint, Response, current_app, render_template
from flask_login import current_user
from markupsafe import Markup

from assessments import pdf
from assessments.permissions import Capability, requires
from assessments.services import invitations, packets
from assessments.services.packets import HiringPacket
from assessments.views.notebook_html import render_notebook

bp = Blueprint("packets", __name__, url_prefix="/panels")


def _notebook_html(packet: HiringPacket) -> Markup | None:
    return render_notebook(packet.notebook.content) if packet.notebook else None


@lru_cache(maxsize=4)
def _print_css(static_folder: str) -> str:
    # The PDF's browser loads nothing, so the page's stylesheets go inside the document.
    return "\n".join((Path(static_folder) / name).read_text() for name in ("style.css", "packet.css"))


@bp.get("/<int:invitation_id>/packet")
@requires(Capability.SIT_ON_PANEL)
def packet(invitation_id: int) -> str:
    """The hiring packet as a page laid out for printing, with the link to its PDF."""
    invitation = invitations.get_invitation(invitation_id)
    document = packets.hiring_packet(invitation, current_user)
    packets.record_packet_download(invitation, current_user, "html")
    return render_template(
        "panels/packet.html",
        p=document,
        notebook_html=_notebook_html(document),
        pdf_ready=pdf.chromium_available(current_app.config["CHROMIUM_PATH"]),
    )


@bp.get("/<int:invitation_id>/packet.pdf")
@requires(Capability.SIT_ON_PANEL)
def packet_pdf(invitation_id: int) -> Response | tuple[str, int]:
    """The hiring packet as PDF, printed by Chromium within PACKET_PDF_TIMEOUT_SECONDS."""
    invitation = invitations.get_invitation(invitation_id)
    document = packets.hiring_packet(invitation, current_user)
    html = render_template(
        "panels/packet_print.html",
        p=document,
        notebook_html=_notebook_html(document),
        css=_print_css(str(current_app.static_folder)),
    )
    try:
        data = pdf.html_to_pdf(
            html,
            executable=current_app.config["CHROMIUM_PATH"],
            timeout=current_app.config["PACKET_PDF_TIMEOUT_SECONDS"],
            footer=f"Hiring packet · {document.candidate} · {document.case_title} · confidential",
        )
    except pdf.PdfUnavailable as error:
        page = render_template("panels/packet_pdf_error.html", message=error.message, invitation_id=invitation.id)
        return page, error.status_code
    packets.record_packet_download(invitation, current_user, "pdf")
    response = Response(data, mimetype="application/pdf")
    # The file name says which invitation, never who: it lands in downloads folders and mail.
    response.headers["Content-Disposition"] = f'attachment; filename="hiring-packet-{invitation.id}.pdf"'
    return response
