"""System and pipeline health: the numbers behind `<prefix>/<device>/stats`."""

from edge_agent.remote.stats.report import StatsReporter
from edge_agent.remote.stats.system import SystemReader

__all__ = ["StatsReporter", "SystemReader"]
