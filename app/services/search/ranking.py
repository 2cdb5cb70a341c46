"""Ranking groups and the words (`why`) that tell a regulator what placed each candidate."""

from app.schemas.search import CandidateGroup

GROUPS: dict[int, CandidateGroup] = {0: "medecin_traitant", 1: "sas_participant", 2: "other"}

_GROUP_WORDS: dict[CandidateGroup, str] = {
    "medecin_traitant": "the patient's médecin traitant (always first)",
    "sas_participant": "SAS participant (after the médecin traitant)",
    "other": "not a SAS participant (after the participants)",
}


def _duration(minutes: float) -> str:
    minutes = max(0, round(minutes))
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest:02d}" if rest else f"{hours} h"


def explain(
    group: CandidateGroup,
    modality: str,
    distance_km: float,
    minutes_to_start: float,
    travel_minutes: float,
    base_radius_km: float,
    road_time: bool,
) -> str:
    """One sentence: group, then what the score counted, then an enlargement if it mattered."""
    parts = [_GROUP_WORDS[group]]
    if modality == "VR":
        parts.append(
            f"teleconsultation, distance not counted; starts in {_duration(minutes_to_start)}"
        )
    else:
        how = "by road" if road_time else "in a straight line"
        parts.append(
            f"{distance_km:.1f} km away ({_duration(travel_minutes)} of travel {how}), "
            f"starts in {_duration(minutes_to_start)}"
        )
        if distance_km > base_radius_km:
            parts.append(f"beyond the {base_radius_km:g} km radius, found by enlarging it")
    return "; ".join(parts)
