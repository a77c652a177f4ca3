"""Every family the simulator runs, by label: the registry scenarios.py draws from."""

from __future__ import annotations

from collections.abc import Callable

from streams.sim import attacks, benign
from streams.sim.campaigns import HIDDEN_CAMPAIGN_FAMILIES
from streams.sim.harvest import Events
from streams.sim.profile import Profile
from streams.sim.shared_infra import SHARED_INFRA_FAMILIES

Family = Callable[[Profile, float, float], Events]

ATTACK_FAMILIES: dict[str, Family] = {**attacks.ATTACK_FAMILIES, **HIDDEN_CAMPAIGN_FAMILIES}
BENIGN_FAMILIES: dict[str, Family] = {**benign.BENIGN_FAMILIES, **SHARED_INFRA_FAMILIES}
# Families whose accounts are meant to be found through what they share (issue 9's
# cross-account stage): per account, each looks like a light and partly ordinary user.
CROSS_ACCOUNT_FAMILIES = ("hydra", "stealthy_hydra", "reseller")
