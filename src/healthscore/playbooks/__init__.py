"""Playbooks: what the engine does when an account's health changes."""

from healthscore.playbooks._control import control_group, control_mask
from healthscore.playbooks._deliver import Attempt, Delivery, DeliveryResult, deliver
from healthscore.playbooks._journey import export_journey
from healthscore.playbooks._lift import LiftReport, LiftRow, playbook_lift
from healthscore.playbooks._messages import render, slack_body, slack_escape
from healthscore.playbooks._recovery import recovered
from healthscore.playbooks._signing import SIGNATURE_HEADER, sign, verify
from healthscore.playbooks._triggers import fire

__all__ = [
    "SIGNATURE_HEADER",
    "Attempt",
    "Delivery",
    "DeliveryResult",
    "LiftReport",
    "LiftRow",
    "control_group",
    "control_mask",
    "deliver",
    "export_journey",
    "fire",
    "playbook_lift",
    "recovered",
    "render",
    "sign",
    "slack_body",
    "slack_escape",
    "verify",
]
