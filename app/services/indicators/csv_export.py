"""The indicators as CSV: one figure a line, so every figure of the JSON has its place.

Columns: `section, week, professional_id, rpps, modality, label, figure, value`; a column that
does not apply to a figure is empty. Sections: `period`, `totals`, `slots` (per week,
professional, modality and label), `professional_weeks` (SNP hours, forfait, majoration).
"""

import csv
import io

from app.services.indicators.service import Indicators

WEEK_FIGURES = ("snp_hours", "forfait_eligible", "majoration_candidates", "majoration_eligible")
COLUMNS = ["section", "week", "professional_id", "rpps", "modality", "label", "figure", "value"]


def _value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def indicators_csv(data: Indicators) -> str:
    """Every figure of `data` (`service.territory_indicators`), one a line (RFC 4180, CRLF)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)

    def row(section: str, figure: str, value: object, **keys: object) -> None:
        writer.writerow(
            [section] + [_value(keys.get(k)) for k in COLUMNS[1:6]] + [figure, _value(value)]
        )

    row("period", "territory_id", data["territory_id"])
    for figure in ("from", "to", "timezone"):
        row("period", figure, data["period"][figure])
    for figure, value in data["totals"].items():
        row("totals", figure, value)
    for s in data["slots"]:
        keys = {"week": s["week"], "professional_id": s["professional_id"]}
        for figure in ("slots", "hours"):
            row("slots", figure, s[figure], modality=s["modality"], label=s["label"], **keys)
    for p in data["professionals"]:
        for w in p["weeks"]:
            keys = {"week": w["week"], "professional_id": p["id"], "rpps": p["rpps"]}
            for figure in WEEK_FIGURES:
                row("professional_weeks", figure, w[figure], **keys)
            row("professional_weeks", "weekly_snp_cap", p["weekly_snp_cap"], **keys)
    return out.getvalue()
