"""System and pipeline health: the numbers behind `<prefix>/<device>/stats`."""

from edge_agent.stats.report import StatsReporter
from edge_agent.stats.system import SystemReader

__all__ = ["StatsReporter", "SystemReader"]
