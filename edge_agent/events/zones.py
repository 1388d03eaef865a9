"""Zones: polygons in normalised frame coordinates, and which zones a box is in."""

from __future__ import annotations

from collections.abc import Sequence

from edge_agent.events.config import ZoneConfig

Box = tuple[float, float, float, float]


def point_in_polygon(x: float, y: float, polygon: Sequence[tuple[float, float]]) -> bool:
    """Even-odd ray casting; a point on the left/bottom edge counts as inside, which is enough for
    deciding where an object stands."""
    inside = False
    n = len(polygon)
    for i in range(n):
        x1, y1 = polygon[i]
        x2, y2 = polygon[(i + 1) % n]
        if (y1 > y) != (y2 > y):
            x_cross = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            if x < x_cross:
                inside = not inside
    return inside


def anchor_point(box: Box, anchor: str) -> tuple[float, float]:
    """The point of a box tested against a zone: bottom-centre (where it stands) or centre."""
    x1, y1, x2, y2 = box
    return (x1 + x2) / 2.0, (y2 if anchor == "bottom" else (y1 + y2) / 2.0)


def zones_of(box: Box, label: str, zones: Sequence[ZoneConfig]) -> frozenset[str]:
    """Names of the zones that contain this box's anchor and accept its label."""
    hits = set()
    for z in zones:
        if z.labels is not None and label not in z.labels:
            continue
        if point_in_polygon(*anchor_point(box, z.anchor), z.polygon):
            hits.add(z.name)
    return frozenset(hits)
