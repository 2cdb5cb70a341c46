"""The indicators as CSV: one figure a line, so every figure of the JSON has its place.

Columns: `section, week, professional_id, rpps, modality, label, figure, value`; a column that
does not apply to a figure is empty. Sections: `period`, `totals`, `slots` (per week,
professional, modality and label), `professional_weeks` (SNP hours, forfait, majoration).
"""

import csv
import io

from app.schemas.indicators import Indicators

COLUMNS = ["section", "week", "professional_id", "rpps", "modality", "label", "figure", "value"]


def _value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def indicators_csv(data: Indicators) -> str:
    """Every figure of `data`, one line each (RFC 4180, CRLF line ends)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)

    def row(section: str, figure: str, value: object, **keys: object) -> None:
        writer.writerow(
            [section] + [_value(keys.get(k)) for k in COLUMNS[1:6]] + [figure, _value(value)]
        )

    row("period", "territory_id", data.territory_id)
    row("period", "from", data.period.from_.isoformat())
    row("period", "to", data.period.to.isoformat())
    row("period", "timezone", data.period.timezone)
    for figure, value in data.totals.model_dump().items():
        row("totals", figure, value)
    for s in data.slots:
        keys = {"week": s.week, "professional_id": s.professional_id, "modality": s.modality}
        row("slots", "slots", s.slots, label=s.label, **keys)
        row("slots", "hours", s.hours, label=s.label, **keys)
    for p in data.professionals:
        for w in p.weeks:
            keys = {"week": w.week, "professional_id": p.id, "rpps": p.rpps}
            row("professional_weeks", "snp_hours", w.snp_hours, **keys)
            row("professional_weeks", "forfait_eligible", w.forfait_eligible, **keys)
            row("professional_weeks", "majoration_candidates", w.majoration_candidates, **keys)
            row("professional_weeks", "majoration_eligible", w.majoration_eligible, **keys)
            row("professional_weeks", "weekly_snp_cap", p.weekly_snp_cap, **keys)
    return out.getvalue()
