"""Configuration models for the engine and for campaigns, and their loading.

Public API re-exported here; the models live in small private-by-convention modules.
"""

from dialguard.config.campaign import (
    WEEKDAYS,
    CallingWindowConfig,
    CampaignConfig,
    DncConfig,
    FrequencyCaps,
    PacingConfig,
    PacingMode,
    RetryPolicy,
    RetryRule,
    TimeRange,
)
from dialguard.config.engine import (
    BrokerConfig,
    EngineConfig,
    LoggingConfig,
    MetricsConfig,
    StoreConfig,
    TrunkConfig,
)
from dialguard.config.errors import ConfigError
from dialguard.config.loading import (
    load_campaign,
    load_campaigns,
    load_engine_config,
    load_roster,
    parse_campaign,
)
from dialguard.config.roster import Roster, RosterEntry, parse_roster
from dialguard.law import MAX_ABANDON_CAP, MAX_DIAL_RATIO, MIN_RING_TIMEOUT_S

__all__ = [
    "MAX_ABANDON_CAP",
    "MAX_DIAL_RATIO",
    "MIN_RING_TIMEOUT_S",
    "WEEKDAYS",
    "BrokerConfig",
    "CallingWindowConfig",
    "CampaignConfig",
    "ConfigError",
    "DncConfig",
    "EngineConfig",
    "FrequencyCaps",
    "LoggingConfig",
    "MetricsConfig",
    "PacingConfig",
    "PacingMode",
    "RetryPolicy",
    "RetryRule",
    "Roster",
    "RosterEntry",
    "StoreConfig",
    "TimeRange",
    "TrunkConfig",
    "load_campaign",
    "load_campaigns",
    "load_engine_config",
    "load_roster",
    "parse_campaign",
    "parse_roster",
]
