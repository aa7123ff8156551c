"""Word lists for plausible company, person and place names in the demo data."""

from __future__ import annotations

from typing import Final


def _split(text: str) -> tuple[str, ...]:
    """Word lists stay readable as running text."""
    return tuple(text.split())


# Company name = prefix + noun; the domain is built from both, so neither list may
# contain spaces or hyphens (keeps every generated domain unambiguous).
COMPANY_PREFIXES: Final = _split(
    """
Acme Apex Arbor Atlas Aurora Beacon Birch Bluebird Bolt Bright Brook Cascade Cedar Cinder
Clear Cobalt Comet Copper Coral Crest Crown Delta Drift Eagle Echo Ember Falcon Fern Field
Flint Forge Fox Frontier Galaxy Garnet Glacier Granite Graph Grove Harbor Harper Hawk Helix
Horizon Hudson Indigo Iron Ivy Jade Juniper Keystone Kite Lake Lantern Laurel Ledger Linden
Lumen Lunar Maple Marble Meadow Mercury Mesa Metro Mint Monarch Nimbus Noble North Nova Oak
Onyx Orbit Orchid Pacific Palm Peak Pebble Pine Pioneer Pixel Polar Prairie Prism Quartz
Quill Radiant Raven Redwood Ridge River Rocket Sage Sapphire Sequoia Shore Sierra Silver Sky
Slate Solar Spruce Stellar Sterling Stone Summit Sun Swift Terra Tidal Timber Titan Topaz
True Union Valley Vector Velvet Vertex Violet Vista Willow Wren Zenith Zephyr
"""
)

COMPANY_NOUNS: Final = _split(
    """
Analytics Apparel Bank Bio Bioworks Brands Capital Cargo Cloud Clinics Commerce Consulting
Data Dental Design Devices Digital Dynamics Education Energy Engineering Farms Finance
Fitness Foods Freight Games Goods Health Homes Hospitality Industries Insights Insurance
Labs Learning Legal Logistics Machines Marine Media Medical Metals Mobility Motors Networks
Partners Payments Pharma Power Realty Robotics Security Software Solutions Studios Systems
Telecom Travel Ventures Wellness Works
"""
)

# Domain variants: every variant contains both words, so (prefix, noun, variant) maps to
# exactly one domain. Accounts past the variant space get a number appended.
DOMAIN_VARIANTS: Final = (
    "{p}-{n}.com",
    "{p}{n}.com",
    "{p}-{n}.io",
    "get{p}{n}.com",
    "{p}-{n}-hq.com",
    "{p}{n}.ai",
    "{p}-{n}.co",
    "{p}{n}.net",
)

FIRST_NAMES: Final = _split(
    """
aaron adriana ahmed aisha alex alice amir ana andrea anna ben carla carlos chen chloe daniel
david diana elena emma ethan fatima felix grace hana hannah ivan jack james jana javier jin
julia karen kenji lara leo lina lucas maria mark maya mei mohammed nadia nina noah olivia
omar paul priya rafael rosa sam sara sofia tom yuki zoe
"""
)

LAST_NAMES: Final = _split(
    """
adams alvarez anderson baker bauer becker brown campbell chen clark costa davis dubois evans
fischer garcia gomez gupta hall hansen hoffman ito jansen johnson kim klein kowalski kumar
lee lopez martin meyer miller moreau murphy nguyen novak okafor olsen patel perez reddy
rossi schmidt silva singh smith suzuki tanaka taylor thompson walker wang weber wilson
wright young zhang
"""
)

FREEMAIL_DOMAINS: Final = ("gmail.com", "outlook.com")

OWNERS: Final = (
    "Alex Morgan",
    "Priya Shah",
    "Jordan Lee",
    "Maria Rossi",
    "Sam Okafor",
    "Hannah Becker",
    "Diego Alvarez",
    "Mei Tanaka",
)

INDUSTRIES: Final = (
    ("Software", 0.22),
    ("Financial Services", 0.11),
    ("Healthcare", 0.10),
    ("Retail", 0.10),
    ("Manufacturing", 0.09),
    ("Professional Services", 0.09),
    ("Logistics", 0.06),
    ("Education", 0.06),
    ("Media", 0.05),
    ("Real Estate", 0.04),
    ("Energy", 0.04),
    ("Telecommunications", 0.04),
)

COUNTRIES: Final = (
    ("US", 0.42),
    ("GB", 0.10),
    ("DE", 0.09),
    ("CA", 0.06),
    ("FR", 0.06),
    ("NL", 0.04),
    ("AU", 0.05),
    ("SE", 0.03),
    ("ES", 0.03),
    ("IN", 0.05),
    ("BR", 0.04),
    ("JP", 0.03),
)
