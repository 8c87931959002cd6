"""The trades a job can belong to, and what an ordinary job of each costs.

Prices are integer cents for labour plus materials in the US in 2024, at national average
cost (the estimator applies the regional multiplier). Each profile lists scope rules in
priority order: the first rule with a phrase found in the job's text decides the scope, so
a trade lists its big, specific scopes before the small, generic ones ("water heater" before
"leak": a leaking water heater is usually replaced).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

# The least any visit costs: a contractor's trip and first hour.
SERVICE_CALL_FLOOR_CENTS = 7_500


class Trade(StrEnum):
    PLUMBING = "plumbing"
    ELECTRICAL = "electrical"
    HVAC = "hvac"
    ROOFING = "roofing"
    CARPENTRY = "carpentry"
    PAINTING = "painting"
    FLOORING = "flooring"
    LANDSCAPING = "landscaping"
    CLEANING = "cleaning"
    HANDYMAN = "handyman"
    APPLIANCE_REPAIR = "appliance_repair"
    PEST_CONTROL = "pest_control"
    REMODELING = "remodeling"
    CONCRETE = "concrete"
    FENCING = "fencing"
    WINDOWS_DOORS = "windows_doors"


@dataclass(frozen=True, slots=True)
class ScopeRule:
    """A kind of job within a trade, recognised by phrases in the job's text.

    Phrases are lowercase words separated by single spaces; they match whole words, and a
    trailing "s" (plural) is accepted. ``typical_sqft`` is the area the range assumes when
    the scope is priced by area (floors, walls, roofs, slabs); None: a stated area does not
    scale it.
    """

    scope: str
    phrases: tuple[str, ...]
    low_cents: int
    high_cents: int
    materials: tuple[str, ...]
    typical_sqft: int | None = None


@dataclass(frozen=True, slots=True)
class TradeProfile:
    """An ordinary job of a trade (used when no rule matches), and the rules that refine it.

    ``typical_sqft`` means what it means on a rule, for the ordinary job.
    """

    trade: Trade
    low_cents: int
    high_cents: int
    materials: tuple[str, ...]
    rules: tuple[ScopeRule, ...]
    typical_sqft: int | None = None


_PROFILES = (
    TradeProfile(
        trade=Trade.PLUMBING,
        low_cents=17_500,
        high_cents=65_000,
        materials=("PEX or copper pipe", "fittings", "shut-off valves", "thread seal tape"),
        rules=(
            ScopeRule(
                scope="whole-house repipe",
                phrases=("repipe", "repiping", "re pipe", "galvanized pipe", "polybutylene"),
                low_cents=450_000,
                high_cents=1_500_000,
                materials=("PEX tubing", "manifold and fittings", "shut-off valves", "drywall patching"),
            ),
            ScopeRule(
                scope="sewer line replacement",
                phrases=("sewer line", "sewer pipe", "main line", "sewer replacement"),
                low_cents=350_000,
                high_cents=1_200_000,
                materials=("PVC sewer pipe", "couplings and cleanout", "gravel bedding", "excavation"),
            ),
            ScopeRule(
                scope="water heater replacement",
                phrases=("water heater", "hot water tank", "tankless"),
                low_cents=130_000,
                high_cents=350_000,
                materials=("40-50 gallon water heater", "expansion tank", "flex connectors", "vent pipe"),
            ),
            ScopeRule(
                scope="garbage disposal replacement",
                phrases=("garbage disposal", "disposal"),
                low_cents=20_000,
                high_cents=65_000,
                materials=("1/2 hp garbage disposal", "mounting kit", "dishwasher connector"),
            ),
            ScopeRule(
                scope="toilet repair or replacement",
                phrases=("toilet", "running toilet"),
                low_cents=15_000,
                high_cents=60_000,
                materials=("wax ring", "fill valve", "flapper", "supply line"),
            ),
            ScopeRule(
                scope="drain cleaning",
                phrases=("clog", "clogged", "drain", "unclog", "backed up", "slow drain"),
                low_cents=12_500,
                high_cents=45_000,
                materials=("drain auger", "P-trap", "enzyme drain cleaner"),
            ),
            ScopeRule(
                scope="leak or faucet repair",
                phrases=("leak", "leaking", "leaky", "drip", "dripping", "faucet"),
                low_cents=10_000,
                high_cents=27_500,
                materials=("faucet cartridge", "O-rings and washers", "supply lines", "thread seal tape"),
            ),
        ),
    ),
    TradeProfile(
        trade=Trade.ELECTRICAL,
        low_cents=15_000,
        high_cents=80_000,
        materials=("NM-B cable", "electrical boxes", "wire connectors", "breakers"),
        rules=(
            ScopeRule(
                scope="whole-house rewire",
                phrases=("rewire", "rewiring", "knob and tube", "aluminum wiring"),
                low_cents=800_000,
                high_cents=2_000_000,
                materials=("NM-B cable", "electrical boxes", "outlets and switches", "drywall patching"),
            ),
            ScopeRule(
                scope="panel upgrade",
                phrases=("panel", "service upgrade", "200 amp", "fuse box", "breaker box"),
                low_cents=180_000,
                high_cents=450_000,
                materials=("200 A load center", "breakers", "grounding rods", "permit"),
            ),
            ScopeRule(
                scope="EV charger installation",
                phrases=("ev charger", "car charger", "level 2", "tesla charger", "charger"),
                low_cents=80_000,
                high_cents=250_000,
                materials=("50 A breaker", "6 AWG wire", "NEMA 14-50 outlet or wall connector", "conduit"),
            ),
            ScopeRule(
                scope="fixture or ceiling fan installation",
                phrases=("ceiling fan", "light fixture", "fixture", "chandelier", "recessed light", "lights"),
                low_cents=15_000,
                high_cents=50_000,
                materials=("fan-rated box", "light fixture", "wire connectors"),
            ),
            ScopeRule(
                scope="outlet or switch repair",
                phrases=("outlet", "switch", "switches", "gfci", "receptacle", "breaker tripping"),
                low_cents=10_000,
                high_cents=30_000,
                materials=("GFCI receptacles", "switches", "cover plates", "wire connectors"),
            ),
        ),
    ),
    TradeProfile(
        trade=Trade.HVAC,
        low_cents=25_000,
        high_cents=90_000,
        materials=("refrigerant", "capacitor", "air filter", "thermostat wire"),
        rules=(
            ScopeRule(
                scope="system replacement",
                phrases=(
                    "heat pump",
                    "new system",
                    "new furnace",
                    "new ac",
                    "new air conditioner",
                    "furnace replacement",
                    "ac replacement",
                    "system replacement",
                ),
                low_cents=550_000,
                high_cents=1_400_000,
                materials=("condenser or heat pump", "furnace or air handler", "line set", "thermostat"),
            ),
            ScopeRule(
                scope="ductwork",
                phrases=("ductwork", "duct work", "duct", "ducts"),
                low_cents=150_000,
                high_cents=600_000,
                materials=("galvanized duct", "flex duct", "mastic and foil tape", "registers"),
            ),
            ScopeRule(
                scope="heating or cooling repair",
                phrases=(
                    "not cooling",
                    "not heating",
                    "no heat",
                    "no cold air",
                    "refrigerant",
                    "freon",
                    "capacitor",
                    "blower",
                    "compressor",
                ),
                low_cents=20_000,
                high_cents=90_000,
                materials=("capacitor", "contactor", "refrigerant", "blower motor"),
            ),
            ScopeRule(
                scope="tune-up",
                phrases=("tune up", "maintenance", "service", "filter", "inspection"),
                low_cents=9_000,
                high_cents=25_000,
                materials=("air filter", "coil cleaner", "condensate line tablets"),
            ),
        ),
    ),
    TradeProfile(
        trade=Trade.ROOFING,
        low_cents=35_000,
        high_cents=150_000,
        materials=("asphalt shingles", "roofing nails", "flashing", "roofing sealant"),
        typical_sqft=1_800,
        rules=(
            ScopeRule(
                scope="roof replacement",
                phrases=(
                    "roof replacement",
                    "replace roof",
                    "replace the roof",
                    "new roof",
                    "reroof",
                    "re roof",
                    "tear off",
                    "full roof",
                ),
                low_cents=750_000,
                high_cents=1_800_000,
                materials=(
                    "architectural asphalt shingles",
                    "synthetic underlayment",
                    "ice and water shield",
                    "drip edge and flashing",
                    "ridge vent",
                    "dumpster",
                ),
                typical_sqft=1_800,
            ),
            ScopeRule(
                scope="gutter installation",
                phrases=("gutter", "downspout"),
                low_cents=60_000,
                high_cents=250_000,
                materials=("seamless aluminum gutters", "hidden hangers", "downspouts", "gutter sealant"),
            ),
            ScopeRule(
                scope="roof repair",
                phrases=("leak", "leaking", "shingle", "flashing", "patch", "missing shingles", "repair"),
                low_cents=35_000,
                high_cents=150_000,
                materials=("matching shingles", "roofing nails", "step flashing", "roofing sealant"),
            ),
        ),
    ),
    TradeProfile(
        trade=Trade.CARPENTRY,
        low_cents=30_000,
        high_cents=150_000,
        materials=("lumber", "trim boards", "wood glue", "finish nails", "wood filler"),
        rules=(
            ScopeRule(
                scope="deck or porch build",
                phrases=("deck", "decking", "porch", "pergola"),
                low_cents=400_000,
                high_cents=1_500_000,
                materials=(
                    "pressure-treated framing lumber",
                    "composite or cedar decking",
                    "joist hangers",
                    "concrete footings",
                ),
                typical_sqft=300,
            ),
            ScopeRule(
                scope="cabinets or built-ins",
                phrases=("cabinet", "built in", "built ins", "bookshelf", "bookshelves", "shelving"),
                low_cents=80_000,
                high_cents=400_000,
                materials=("cabinet-grade plywood", "hardwood face frames", "hinges and slides", "finish"),
            ),
            ScopeRule(
                scope="trim, stairs or railing",
                phrases=("trim", "baseboard", "crown molding", "molding", "stair", "railing", "door frame"),
                low_cents=30_000,
                high_cents=150_000,
                materials=("trim boards", "finish nails", "wood filler", "caulk", "paint or stain"),
            ),
        ),
    ),
    TradeProfile(
        trade=Trade.PAINTING,
        low_cents=40_000,
        high_cents=120_000,
        materials=("interior latex paint", "primer", "painter's tape", "drop cloths", "patching compound"),
        typical_sqft=200,
        rules=(
            ScopeRule(
                scope="exterior painting",
                phrases=("exterior", "siding", "outside of the house", "house exterior", "stucco"),
                low_cents=300_000,
                high_cents=800_000,
                materials=("exterior acrylic paint", "primer", "exterior caulk", "scrapers and sanding"),
                typical_sqft=2_000,
            ),
            ScopeRule(
                scope="cabinet painting",
                phrases=("cabinet", "kitchen cabinets"),
                low_cents=200_000,
                high_cents=600_000,
                materials=("bonding primer", "cabinet enamel", "degreaser", "sanding pads"),
            ),
            ScopeRule(
                scope="interior room painting",
                phrases=("room", "bedroom", "living room", "interior", "wall", "ceiling"),
                low_cents=40_000,
                high_cents=120_000,
                materials=("interior latex paint", "primer", "painter's tape", "drop cloths"),
                typical_sqft=200,
            ),
            ScopeRule(
                scope="touch-up",
                phrases=("touch up", "touchup", "scuff", "patch and paint"),
                low_cents=15_000,
                high_cents=50_000,
                materials=("matching paint", "spackle", "sanding sponge"),
            ),
        ),
    ),
    TradeProfile(
        trade=Trade.FLOORING,
        low_cents=100_000,
        high_cents=400_000,
        materials=("flooring", "underlayment", "transition strips", "baseboard trim"),
        typical_sqft=300,
        rules=(
            ScopeRule(
                scope="hardwood refinishing",
                phrases=("refinish", "refinishing", "sand and refinish", "sanding", "recoat"),
                low_cents=100_000,
                high_cents=250_000,
                materials=("sanding belts", "wood stain", "polyurethane finish", "wood filler"),
                typical_sqft=300,
            ),
            ScopeRule(
                scope="hardwood installation",
                phrases=("hardwood", "engineered wood", "oak floor", "wood floor"),
                low_cents=200_000,
                high_cents=550_000,
                materials=(
                    "hardwood planks",
                    "underlayment",
                    "flooring nails or adhesive",
                    "transition strips",
                ),
                typical_sqft=300,
            ),
            ScopeRule(
                scope="tile installation",
                phrases=("tile", "porcelain", "ceramic", "stone floor"),
                low_cents=150_000,
                high_cents=450_000,
                materials=("porcelain or ceramic tile", "thinset mortar", "grout", "cement backer board"),
                typical_sqft=300,
            ),
            ScopeRule(
                scope="vinyl or laminate installation",
                phrases=("laminate", "vinyl", "lvp", "luxury vinyl"),
                low_cents=100_000,
                high_cents=300_000,
                materials=("luxury vinyl planks", "underlayment", "transition strips", "quarter round"),
                typical_sqft=300,
            ),
            ScopeRule(
                scope="carpet installation",
                phrases=("carpet", "carpeting"),
                low_cents=90_000,
                high_cents=250_000,
                materials=("carpet", "carpet pad", "tack strip", "seam tape"),
                typical_sqft=300,
            ),
        ),
    ),
    TradeProfile(
        trade=Trade.LANDSCAPING,
        low_cents=50_000,
        high_cents=300_000,
        materials=("mulch", "topsoil", "plants", "landscape fabric"),
        typical_sqft=1_000,
        rules=(
            ScopeRule(
                scope="hardscape",
                phrases=("patio", "paver", "hardscape", "retaining wall", "fire pit"),
                low_cents=300_000,
                high_cents=1_200_000,
                materials=("pavers or wall block", "compacted gravel base", "paver sand", "edge restraint"),
                typical_sqft=300,
            ),
            ScopeRule(
                scope="lawn or irrigation installation",
                phrases=("sod", "new lawn", "irrigation", "sprinkler", "sprinkler system"),
                low_cents=150_000,
                high_cents=500_000,
                materials=("sod or seed", "topsoil", "PVC lateral lines", "sprinkler heads", "controller"),
                typical_sqft=2_000,
            ),
            ScopeRule(
                scope="tree work",
                phrases=("tree", "tree removal", "stump", "stump grinding"),
                low_cents=40_000,
                high_cents=200_000,
                materials=("chipper and haul-away", "stump grinder", "rigging"),
            ),
            ScopeRule(
                scope="yard maintenance",
                phrases=("mow", "mowing", "lawn care", "weeding", "mulch", "hedge", "leaves", "yard cleanup"),
                low_cents=10_000,
                high_cents=40_000,
                materials=("mulch", "yard waste bags", "fertilizer"),
            ),
        ),
    ),
    TradeProfile(
        trade=Trade.CLEANING,
        low_cents=15_000,
        high_cents=40_000,
        materials=("all-purpose cleaner", "microfiber cloths", "HEPA vacuum", "mop"),
        typical_sqft=1_800,
        rules=(
            ScopeRule(
                scope="post-construction cleaning",
                phrases=(
                    "post construction",
                    "construction cleanup",
                    "after renovation",
                    "construction dust",
                ),
                low_cents=50_000,
                high_cents=200_000,
                materials=("HEPA vacuum", "dust-control sheeting", "degreaser", "microfiber cloths"),
                typical_sqft=1_800,
            ),
            ScopeRule(
                scope="deep or move-out cleaning",
                phrases=("deep clean", "deep cleaning", "move out", "move in"),
                low_cents=25_000,
                high_cents=70_000,
                materials=("degreaser", "oven cleaner", "grout brush", "microfiber cloths"),
                typical_sqft=1_800,
            ),
            ScopeRule(
                scope="specialty cleaning",
                phrases=("carpet cleaning", "window cleaning", "pressure washing", "power washing"),
                low_cents=15_000,
                high_cents=50_000,
                materials=("hot-water extractor or pressure washer", "cleaning solution", "squeegees"),
            ),
            ScopeRule(
                scope="regular cleaning",
                phrases=("regular", "weekly", "biweekly", "standard clean", "maid"),
                low_cents=12_000,
                high_cents=30_000,
                materials=("all-purpose cleaner", "microfiber cloths", "vacuum", "mop"),
                typical_sqft=1_800,
            ),
        ),
    ),
    TradeProfile(
        trade=Trade.HANDYMAN,
        low_cents=15_000,
        high_cents=60_000,
        materials=("fasteners and anchors", "caulk", "spackle", "touch-up paint"),
        rules=(
            ScopeRule(
                scope="drywall repair",
                # Not "drywall" alone: "mount a TV on drywall" is no repair.
                phrases=(
                    "drywall repair",
                    "drywall patch",
                    "patch drywall",
                    "patch the drywall",
                    "hole in the drywall",
                    "holes in the drywall",
                    "hole in the wall",
                    "holes in the wall",
                    "sheetrock",
                    "patch",
                ),
                low_cents=15_000,
                high_cents=60_000,
                materials=("drywall patch", "joint compound", "mesh tape", "primer and paint"),
            ),
            ScopeRule(
                scope="mounting and hanging",
                phrases=("mount", "tv mount", "hang", "shelves", "curtain", "blinds", "pictures"),
                low_cents=10_000,
                high_cents=30_000,
                materials=("wall anchors", "lag screws", "mounting brackets"),
            ),
            ScopeRule(
                scope="furniture assembly",
                phrases=("assemble", "assembly", "furniture"),
                low_cents=10_000,
                high_cents=35_000,
                materials=("hardware kit", "wood glue"),
            ),
            ScopeRule(
                scope="small fixes",
                phrases=("caulk", "caulking", "weatherstrip", "doorknob", "door knob", "lock", "squeaky"),
                low_cents=10_000,
                high_cents=25_000,
                materials=("silicone caulk", "weatherstripping", "lockset", "lubricant"),
            ),
        ),
    ),
    TradeProfile(
        trade=Trade.APPLIANCE_REPAIR,
        low_cents=15_000,
        high_cents=45_000,
        materials=("replacement parts", "diagnostic service"),
        rules=(
            ScopeRule(
                scope="refrigerator repair",
                phrases=("refrigerator", "fridge", "freezer", "ice maker"),
                low_cents=20_000,
                high_cents=60_000,
                materials=("compressor relay", "evaporator fan motor", "defrost thermostat"),
            ),
            ScopeRule(
                scope="washer or dryer repair",
                phrases=("washer", "washing machine", "dryer"),
                low_cents=15_000,
                high_cents=45_000,
                materials=("drive belt", "water pump", "heating element", "door switch"),
            ),
            ScopeRule(
                scope="dishwasher repair",
                phrases=("dishwasher",),
                low_cents=15_000,
                high_cents=40_000,
                materials=("drain pump", "inlet valve", "door gasket"),
            ),
            ScopeRule(
                scope="oven or range repair",
                phrases=("oven", "stove", "cooktop", "range hood", "microwave"),
                low_cents=15_000,
                high_cents=45_000,
                materials=("bake or broil element", "igniter", "temperature sensor"),
            ),
        ),
    ),
    TradeProfile(
        trade=Trade.PEST_CONTROL,
        low_cents=15_000,
        high_cents=40_000,
        materials=("insecticide", "bait stations", "traps"),
        rules=(
            ScopeRule(
                scope="termite treatment",
                phrases=("termite",),
                low_cents=100_000,
                high_cents=350_000,
                materials=("liquid termiticide", "termite bait stations", "trenching"),
            ),
            ScopeRule(
                scope="bed bug treatment",
                phrases=("bed bug", "bedbug"),
                low_cents=100_000,
                high_cents=300_000,
                materials=("heat treatment equipment", "residual insecticide", "mattress encasements"),
            ),
            ScopeRule(
                scope="rodent control",
                phrases=("rodent", "mice", "mouse", "rat", "squirrel"),
                low_cents=25_000,
                high_cents=70_000,
                materials=("snap traps", "tamper-resistant bait stations", "exclusion mesh and foam"),
            ),
            ScopeRule(
                scope="general insect treatment",
                phrases=("ant", "roach", "cockroach", "spider", "wasp", "hornet", "bee", "flea"),
                low_cents=12_500,
                high_cents=40_000,
                materials=("perimeter insecticide", "gel bait", "dust applicator"),
            ),
        ),
    ),
    TradeProfile(
        trade=Trade.REMODELING,
        low_cents=1_000_000,
        high_cents=4_000_000,
        materials=("framing lumber", "drywall", "fixtures", "finishes", "dumpster"),
        rules=(
            ScopeRule(
                scope="home addition",
                phrases=("addition", "room addition", "add a room", "second story"),
                low_cents=4_000_000,
                high_cents=12_000_000,
                materials=("foundation concrete", "framing lumber", "roofing", "windows", "drywall"),
            ),
            ScopeRule(
                scope="basement finishing",
                phrases=("basement", "finish basement", "finish the basement"),
                low_cents=2_000_000,
                high_cents=6_000_000,
                materials=("framing lumber", "rigid insulation", "drywall", "flooring", "egress window"),
            ),
            ScopeRule(
                scope="kitchen remodel",
                phrases=("kitchen",),
                low_cents=2_500_000,
                high_cents=6_500_000,
                materials=("cabinets", "countertops", "backsplash tile", "sink and faucet", "appliances"),
            ),
            ScopeRule(
                scope="bathroom remodel",
                phrases=("bathroom", "bath", "shower", "tub"),
                low_cents=1_000_000,
                high_cents=3_000_000,
                materials=("vanity", "toilet", "shower valve and trim", "tile", "waterproofing membrane"),
            ),
            ScopeRule(
                scope="wall removal",
                phrases=("wall removal", "remove a wall", "open concept", "load bearing"),
                low_cents=300_000,
                high_cents=1_200_000,
                materials=("LVL beam", "support posts", "drywall", "flooring patch"),
            ),
        ),
    ),
    TradeProfile(
        trade=Trade.CONCRETE,
        low_cents=150_000,
        high_cents=600_000,
        materials=("ready-mix concrete", "rebar or wire mesh", "gravel base", "forms"),
        typical_sqft=400,
        rules=(
            ScopeRule(
                scope="foundation repair",
                phrases=("foundation", "piering", "settling"),
                low_cents=300_000,
                high_cents=1_200_000,
                materials=("steel piers", "hydraulic cement", "epoxy injection", "waterproofing"),
            ),
            ScopeRule(
                scope="driveway",
                phrases=("driveway",),
                low_cents=400_000,
                high_cents=1_200_000,
                materials=("ready-mix concrete", "rebar", "compacted gravel base", "expansion joints"),
                typical_sqft=600,
            ),
            ScopeRule(
                scope="patio, walkway or slab",
                phrases=("patio", "slab", "walkway", "sidewalk", "steps"),
                low_cents=150_000,
                high_cents=600_000,
                materials=("ready-mix concrete", "wire mesh", "gravel base", "forms"),
                typical_sqft=300,
            ),
            ScopeRule(
                scope="crack repair or resurfacing",
                phrases=("crack", "cracked", "resurface", "resurfacing", "patch", "repair"),
                low_cents=30_000,
                high_cents=150_000,
                materials=("concrete crack filler", "resurfacer", "bonding agent"),
            ),
        ),
    ),
    TradeProfile(
        trade=Trade.FENCING,
        low_cents=150_000,
        high_cents=500_000,
        materials=("fence posts", "rails and pickets", "post concrete", "galvanized fasteners"),
        rules=(
            ScopeRule(
                scope="fence repair",
                phrases=("repair", "post", "panel", "board", "picket", "leaning", "storm damage"),
                low_cents=25_000,
                high_cents=90_000,
                materials=("fence posts", "pickets", "post concrete", "galvanized fasteners"),
            ),
            ScopeRule(
                scope="new fence",
                phrases=(
                    "new fence",
                    "install fence",
                    "install a fence",
                    "fence installation",
                    "privacy fence",
                    "chain link",
                    "vinyl fence",
                    "wood fence",
                ),
                low_cents=250_000,
                high_cents=800_000,
                materials=("pressure-treated posts", "rails and pickets", "post concrete", "gate hardware"),
            ),
            ScopeRule(
                scope="gate",
                phrases=("gate",),
                low_cents=40_000,
                high_cents=150_000,
                materials=("gate frame", "heavy-duty hinges", "latch", "anti-sag kit"),
            ),
        ),
    ),
    TradeProfile(
        trade=Trade.WINDOWS_DOORS,
        low_cents=40_000,
        high_cents=150_000,
        materials=("window or door unit", "shims", "flashing tape", "low-expansion foam", "trim"),
        rules=(
            ScopeRule(
                scope="window or door repair",
                phrases=(
                    "broken",
                    "cracked",
                    "foggy",
                    "screen",
                    "glass",
                    "seal",
                    "stuck",
                    "sticking",
                    "lock",
                    "weatherstripping",
                ),
                low_cents=15_000,
                high_cents=60_000,
                materials=("replacement glass or sash", "weatherstripping", "balance springs", "hardware"),
            ),
            ScopeRule(
                scope="entry or patio door installation",
                phrases=(
                    "entry door",
                    "front door",
                    "patio door",
                    "sliding door",
                    "french door",
                    "back door",
                ),
                low_cents=100_000,
                high_cents=350_000,
                materials=("pre-hung exterior door", "threshold", "lockset", "flashing tape", "trim"),
            ),
            ScopeRule(
                scope="window replacement",
                phrases=("window", "replacement windows"),
                low_cents=50_000,
                high_cents=120_000,
                materials=("double-pane vinyl window", "flashing tape", "low-expansion foam", "trim"),
            ),
            ScopeRule(
                scope="interior door installation",
                phrases=("door", "interior door", "closet door"),
                low_cents=25_000,
                high_cents=80_000,
                materials=("pre-hung interior door", "hinges", "passage knob", "casing"),
            ),
        ),
    ),
)

PROFILES: Mapping[Trade, TradeProfile] = MappingProxyType({profile.trade: profile for profile in _PROFILES})


def profile_for(trade: Trade) -> TradeProfile:
    """The pricing profile of a trade (every trade has one)."""
    return PROFILES[trade]
