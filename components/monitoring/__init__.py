"""The monitoring tier: the component, its arguments, the alarms of each level and the dashboard."""

from components.monitoring.args import LEVELS, Level, MonitoringArgs
from components.monitoring.component import Monitoring, budget_limit_usd, value_inputs

__all__ = ["LEVELS", "Level", "Monitoring", "MonitoringArgs", "budget_limit_usd", "value_inputs"]
