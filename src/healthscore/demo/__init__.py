"""Bundled demo data: a seeded B2B SaaS company whose churn has known causes."""

from healthscore.demo.generator import (
    HAZARD_NOISE_SD,
    HIDDEN_CHURN_DRIVERS,
    TABLES,
    DemoConfig,
    Progress,
    generate_frames,
    write_demo,
)

__all__ = [
    "HAZARD_NOISE_SD",
    "HIDDEN_CHURN_DRIVERS",
    "TABLES",
    "DemoConfig",
    "Progress",
    "generate_frames",
    "write_demo",
]
