"""The data `ftw seed` draws from: the trade mix, job templates per trade, the sentences
around a job's problem, and people's names (the generator is ``ops.seed``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from ftw.scoping.trades import Trade

# Share of posted jobs by trade (repairs dominate: plumbing, handyman, electrical, HVAC).
TRADE_WEIGHTS: Mapping[Trade, int] = {
    Trade.PLUMBING: 16,
    Trade.HANDYMAN: 15,
    Trade.ELECTRICAL: 11,
    Trade.HVAC: 11,
    Trade.CLEANING: 7,
    Trade.LANDSCAPING: 7,
    Trade.PAINTING: 6,
    Trade.ROOFING: 5,
    Trade.APPLIANCE_REPAIR: 5,
    Trade.CARPENTRY: 4,
    Trade.FLOORING: 4,
    Trade.REMODELING: 3,
    Trade.PEST_CONTROL: 3,
    Trade.WINDOWS_DOORS: 3,
    Trade.FENCING: 2,
    Trade.CONCRETE: 2,
}


class Template(NamedTuple):
    """One kind of job a homeowner posts: ways to title it and to describe the problem."""

    titles: tuple[str, ...]
    details: tuple[str, ...]


TEMPLATES: Mapping[Trade, tuple[Template, ...]] = {
    Trade.PLUMBING: (
        Template(
            (
                "Replace water heater 50 gallon",
                "Water heater leaking from the bottom",
                "Install tankless water heater",
                "No hot water, water heater pilot keeps going out",
            ),
            (
                "Our 50 gallon gas water heater is about 14 years old and has started leaking at the base.",
                "The hot water tank in the garage is rusting and the water only gets lukewarm.",
                "We want to switch from a tank to a tankless unit and need a quote including venting.",
            ),
        ),
        Template(
            (
                "Leaking kitchen faucet",
                "Leaking faucet in the kitchen",
                "Dripping bathroom faucet",
                "Leak under the kitchen sink",
                "Replace kitchen faucet with pull-down model",
            ),
            (
                "The kitchen faucet drips constantly even when the handle is closed tight.",
                "There is a slow leak under the sink and the bottom of the vanity is warped.",
                "Water pools on the counter around the base of the faucet every time we use it.",
            ),
        ),
        Template(
            (
                "Clogged kitchen drain",
                "Slow shower drain",
                "Bathtub drain clogged",
                "Drain backed up in laundry sink",
            ),
            (
                "Water backs up in the kitchen sink whenever the dishwasher runs.",
                "The tub drains very slowly; we tried a plunger and store-bought cleaner with no luck.",
                "The laundry sink fills with gray water when the washing machine drains.",
            ),
        ),
        Template(
            (
                "Running toilet",
                "Replace toilet",
                "Toilet rocking and leaking at the base",
                "Install comfort height toilet",
            ),
            (
                "The toilet in the hall bathroom runs constantly and the handle has to be jiggled.",
                "The toilet wobbles and there is water on the floor after flushing.",
                "We would like the old toilet swapped for a water-saving comfort height model.",
            ),
        ),
        Template(
            ("Garbage disposal not working", "Replace garbage disposal", "Disposal jammed and humming"),
            (
                "The disposal hums but does not spin, and the reset button did not help.",
                "Our garbage disposal is leaking from the bottom and smells bad.",
            ),
        ),
        Template(
            ("Sewer line replacement", "Tree roots in sewer line", "Sewer pipe collapsed under yard"),
            (
                "A camera check showed a cracked clay sewer line under the front yard.",
                "Every few months the sewer line backs up and the snaking company says roots are the cause.",
            ),
        ),
        Template(
            ("Whole house repipe", "Replace galvanized pipes", "Polybutylene pipe replacement"),
            (
                "Our older home still has galvanized pipe and the water pressure is poor throughout.",
                "The inspector flagged polybutylene supply lines and our insurer wants them replaced.",
            ),
        ),
    ),
    Trade.ELECTRICAL: (
        Template(
            ("Upgrade electrical panel to 200 amp", "Replace old fuse box", "Breaker panel upgrade"),
            (
                "We are adding a heat pump and the electrician said our 100 amp panel is too small.",
                "The house still has a fuse box and fuses blow when the microwave and toaster run together.",
            ),
        ),
        Template(
            (
                "Install EV charger in garage",
                "Level 2 car charger installation",
                "Tesla wall connector install",
            ),
            (
                "We just bought an electric car and want a 240 volt charger in the garage.",
                "We need a licensed electrician to install a Level 2 charger on the driveway side.",
            ),
        ),
        Template(
            (
                "Install ceiling fan",
                "Hang chandelier in dining room",
                "Install 6 recessed lights in living room",
                "Replace light fixtures in hallway",
            ),
            (
                "There is an existing ceiling box; the new fan is already bought and on site.",
                "We want brighter, dimmable lighting and the current fixtures are dated.",
                "The ceiling is vaulted, so a tall ladder will be needed.",
            ),
        ),
        Template(
            (
                "Outlets not working in bedroom",
                "Install GFCI outlets in kitchen",
                "Breaker keeps tripping",
                "Add outlet behind TV",
            ),
            (
                "Several outlets on one wall went dead and the breaker looks fine.",
                "The home inspector said the kitchen counters need GFCI protection.",
                "The breaker for the bedroom trips whenever the space heater runs.",
            ),
        ),
        Template(
            ("Rewire house with knob and tube", "Aluminum wiring replacement"),
            (
                "Our 1920s house still has knob and tube wiring in the attic and the insurer wants it gone.",
                "The house has aluminum branch wiring and we would like it replaced or made safe.",
            ),
        ),
        Template(
            ("Doorbell and intercom wiring", "Add exterior lighting", "Electrician for flickering lighting"),
            (
                "Our lighting flickers in several rooms and we want an electrician to find out why.",
                "We would like lighting along the path to the garage on a timer.",
            ),
        ),
    ),
    Trade.HVAC: (
        Template(
            (
                "AC not cooling",
                "Air conditioner blowing warm air",
                "Furnace not heating",
                "No heat in the house",
            ),
            (
                "The outdoor unit runs but the air from the vents is warm.",
                "The furnace starts, then shuts off after a minute and the house stays cold.",
                "It stopped cooling yesterday; we already replaced the filter and checked the breaker.",
            ),
        ),
        Template(
            ("AC tune-up before summer", "Annual furnace maintenance", "HVAC service and filter change"),
            (
                "Looking for a yearly tune-up of our furnace and central air before the season starts.",
                "The system works but has not been serviced since we moved in.",
            ),
        ),
        Template(
            ("Install heat pump", "New furnace and AC", "Quote for new air conditioner", "AC replacement"),
            (
                "Our AC is 20 years old, uses R-22 and the repair quotes keep coming in high.",
                "We want to replace the gas furnace and AC with a heat pump system.",
            ),
        ),
        Template(
            ("Ductwork replacement in attic", "Duct sealing and insulation", "Add duct to cold bedroom"),
            (
                "The upstairs bedrooms never get cool; the attic ducts are old and disconnected in spots.",
                "One bedroom at the end of the hall is always much colder than the rest of the house.",
            ),
        ),
        Template(
            ("Mini split installation", "Smart thermostat install", "Thermostat not responding"),
            (
                "We want a ductless mini split for the converted garage office.",
                "The thermostat screen is blank and the system will not turn on.",
            ),
        ),
    ),
    Trade.ROOFING: (
        Template(
            ("Roof leak over bedroom", "Missing shingles after storm", "Flashing around chimney leaking"),
            (
                "After heavy rain there is a brown stain spreading on the bedroom ceiling.",
                "The wind storm last week tore off a patch of shingles on the back slope.",
                "Water is getting in around the chimney and dripping into the attic.",
            ),
        ),
        Template(
            (
                "Roof replacement",
                "Replace the roof, 2,000 sq ft house",
                "New roof quote for ranch house",
                "Tear off and reroof",
            ),
            (
                "The shingles are curling and the roof is over 25 years old.",
                "We are selling next year and the buyer's inspection will flag the roof.",
            ),
        ),
        Template(
            ("Install seamless gutters", "Gutter and downspout replacement", "Gutters overflowing"),
            (
                "The gutters overflow in every storm and water is pooling by the foundation.",
                "We need new seamless gutters and downspouts on the front and back of the house.",
            ),
        ),
        Template(
            ("Roof inspection before sale", "Metal roof quote", "Skylight resealing"),
            (
                "We would like a roofer to look over the roof and give us a written report.",
                "Interested in pricing a standing seam metal roof over the existing one.",
            ),
        ),
    ),
    Trade.CARPENTRY: (
        Template(
            (
                "Build a new deck",
                "Replace rotted deck boards",
                "Screened porch build",
                "Pergola over backyard deck",
            ),
            (
                "We want a 12x16 pressure treated deck off the back door with stairs to the yard.",
                "Several deck boards are soft and one of the stair treads cracked.",
            ),
        ),
        Template(
            ("Built-in bookshelves in living room", "Custom closet shelving", "Build mudroom cabinets"),
            (
                "Looking for built in bookshelves on both sides of the fireplace, painted white.",
                "We need custom cabinets and a bench with hooks in the entry.",
            ),
        ),
        Template(
            ("Install crown molding", "Replace baseboards", "Fix loose stair railing"),
            (
                "The stair railing wobbles and the balusters are loose; it is a safety issue with kids.",
                "We want crown molding in the living and dining rooms to match the existing trim.",
            ),
        ),
        Template(
            ("Replace rotted window sill", "Fix sagging barn door", "Custom wood shutters"),
            (
                "The wood under the kitchen window has rotted and needs to be rebuilt.",
                "Our sliding barn door drags on the floor and the track is pulling away.",
            ),
        ),
    ),
    Trade.PAINTING: (
        Template(
            ("Paint 3 bedrooms", "Paint living room and hallway", "Interior painting, walls and ceilings"),
            (
                "The walls have scuffs and nail holes and need patching before painting.",
                "We just moved in and want neutral colors throughout, ceilings white.",
            ),
        ),
        Template(
            ("Exterior house painting", "Paint siding and trim", "Stucco painting"),
            (
                "The paint on the siding is peeling on the south side and the trim is bare in places.",
                "We want the outside of the house painted a new color, two coats.",
            ),
        ),
        Template(
            ("Paint kitchen cabinets", "Refinish kitchen cabinets white"),
            (
                "The oak kitchen cabinets are dated; we want them painted a satin white.",
                "Cabinet doors and frames only, we are keeping the hardware.",
            ),
        ),
        Template(
            ("Touch up paint before listing", "Patch and paint after move"),
            (
                "Lots of scuffs and touch up spots around the house before the listing photos.",
                "Small dings from moving furniture need patch and paint in a few places.",
            ),
        ),
    ),
    Trade.FLOORING: (
        Template(
            ("Install hardwood floors", "Engineered wood flooring in 400 sq ft", "Oak floor installation"),
            (
                "We want to replace carpet with engineered wood in the living and dining area.",
                "Looking for hardwood installed over a plywood subfloor, materials already chosen.",
            ),
        ),
        Template(
            ("Refinish oak floors", "Sand and refinish hardwood", "Hardwood floor recoat"),
            (
                "The oak floors are scratched and gray in high traffic areas.",
                "Original hardwood was found under the carpet and we want it brought back.",
            ),
        ),
        Template(
            ("Tile bathroom floor", "Porcelain tile in kitchen, 250 sq ft", "Replace cracked floor tile"),
            (
                "The old vinyl in the bathroom is lifting and we want porcelain tile instead.",
                "A few tiles cracked after the foundation settled and need to be replaced.",
            ),
        ),
        Template(
            ("Install luxury vinyl plank", "Laminate flooring in basement", "LVP throughout first floor"),
            (
                "We want waterproof vinyl plank in the basement family room.",
                "Looking to install laminate over the existing concrete with a vapor barrier.",
            ),
        ),
        Template(
            ("Replace carpet in 2 bedrooms", "New carpet on stairs", "Carpet installation"),
            (
                "The carpet is stained and worn and the pad is flat.",
                "We picked the carpet at the store and need it installed with new pad.",
            ),
        ),
    ),
    Trade.LANDSCAPING: (
        Template(
            ("Paver patio installation", "Build retaining wall", "Fire pit and seating area"),
            (
                "We want a paver patio off the back of the house, roughly 16 by 20 feet.",
                "The slope behind the house is eroding and we need a retaining wall about three feet tall.",
            ),
        ),
        Template(
            ("Install sprinkler system", "Lay new sod in backyard", "Irrigation repair"),
            (
                "The front lawn is mostly weeds and bare dirt; we want sod and a sprinkler system.",
                "Two zones of the irrigation system do not come on.",
            ),
        ),
        Template(
            ("Tree removal", "Stump grinding", "Remove 3 trees from backyard", "Trim oak tree over the roof"),
            (
                "A dead tree is leaning toward the neighbor's garage and needs to come down.",
                "We have stumps left from a storm cleanup that need grinding.",
            ),
        ),
        Template(
            ("Weekly lawn mowing", "Yard cleanup and mulch", "Hedge trimming", "Fall leaves cleanup"),
            (
                "Looking for a reliable crew for mowing, edging and blowing every week in season.",
                "The beds are overgrown; we need weeding, fresh mulch and the hedges shaped.",
            ),
        ),
    ),
    Trade.CLEANING: (
        Template(
            ("Deep cleaning before move out", "Move in cleaning", "Deep clean for 3 bedroom home"),
            (
                "We are moving out at the end of the month and need a deep clean for the deposit.",
                "New house needs a deep clean before our furniture arrives, including inside cabinets.",
            ),
        ),
        Template(
            ("Biweekly house cleaning", "Weekly cleaning for family home", "Regular maid service"),
            (
                "Looking for a regular cleaner every other week: kitchen, bathrooms, floors and dusting.",
                "Two adults, two kids and a cat; we would like the same cleaner each visit.",
            ),
        ),
        Template(
            ("Carpet cleaning", "Pressure washing driveway and siding", "Window cleaning inside and out"),
            (
                "The carpets in the family room and stairs need hot water extraction.",
                "Green mildew on the siding and the driveway is stained; looking for power washing.",
            ),
        ),
        Template(
            ("Post construction cleanup", "Cleaning after renovation"),
            (
                "We just finished a renovation and there is construction dust everywhere.",
                "Contractors are done; we need a thorough construction cleanup before moving back in.",
            ),
        ),
    ),
    Trade.HANDYMAN: (
        Template(
            ("Patch hole in drywall", "Drywall repair after plumbing leak", "Fix hole in wall from doorknob"),
            (
                "There is a fist-sized hole in the hallway drywall that needs patching and paint.",
                "The plumber cut an access hole in the drywall that needs to be closed up.",
            ),
        ),
        Template(
            ("Mount TV on wall", "Hang curtains and blinds", "Hang pictures and mirrors"),
            (
                "We need a 65 inch TV mounted above the fireplace with the wires hidden.",
                "New house, lots of curtain rods, blinds and art to hang.",
            ),
        ),
        Template(
            ("Assemble IKEA furniture", "Furniture assembly", "Assemble crib and dresser"),
            (
                "We have a wardrobe, a bed frame and a desk from IKEA still in boxes.",
                "Need help putting together nursery furniture before the baby arrives.",
            ),
        ),
        Template(
            ("Fix squeaky doors", "Caulk bathtub and shower", "Replace door knobs and locks"),
            (
                "The caulk around the tub is moldy and peeling.",
                "Several doors squeak and a couple do not latch.",
            ),
        ),
        Template(
            ("Handyman for honey-do list", "Install grab bars", "Odd jobs around the house"),
            (
                "A list of odd jobs: grab bars, a loose railing bracket, a sticky drawer and more.",
                "Looking for someone handy for a half day of odd jobs around the house.",
            ),
        ),
    ),
    Trade.APPLIANCE_REPAIR: (
        Template(
            ("Refrigerator not cooling", "Ice maker stopped working", "Fridge making loud noise"),
            (
                "The freezer works but the refrigerator side is warm.",
                "Our ice maker stopped producing ice and the water dispenser is slow.",
            ),
        ),
        Template(
            ("Washer won't drain", "Dryer not heating", "Washing machine leaking"),
            (
                "The washer stops mid-cycle with water still in the drum.",
                "The dryer tumbles but the clothes come out damp after an hour.",
            ),
        ),
        Template(
            ("Dishwasher leaking", "Dishwasher not draining", "Dishwasher not cleaning"),
            (
                "There is standing water in the bottom of the dishwasher after every cycle.",
                "Water leaks from the dishwasher door onto the kitchen floor.",
            ),
        ),
        Template(
            ("Oven not heating to temperature", "Stove burner won't light", "Microwave repair"),
            (
                "The oven takes forever to preheat and bakes unevenly.",
                "One burner on the gas range clicks but will not light.",
            ),
        ),
    ),
    Trade.PEST_CONTROL: (
        Template(
            ("Termite inspection and treatment", "Termite damage in garage"),
            (
                "We found mud tubes on the foundation wall in the garage.",
                "Our lender requires a termite inspection and treatment before closing.",
            ),
        ),
        Template(
            ("Bed bugs in bedroom", "Bed bug treatment"),
            ("We found bed bugs in the guest room after a visitor stayed with us.",),
        ),
        Template(
            ("Mice in the attic", "Rodent control", "Squirrels in the attic"),
            (
                "We hear scratching in the attic at night and found droppings in the pantry.",
                "Squirrels are getting into the attic through a gap at the roofline.",
            ),
        ),
        Template(
            (
                "Ants in kitchen",
                "Wasp nest under eaves",
                "Roach problem in the apartment",
                "Spider treatment around house",
            ),
            (
                "We see them every day now and store-bought sprays have not helped.",
                "We want a treatment inside and around the outside of the house.",
            ),
        ),
    ),
    Trade.REMODELING: (
        Template(
            ("Kitchen remodel", "Kitchen renovation with island", "Update kitchen counters and layout"),
            (
                "We want a full kitchen remodel: new cabinets, quartz counters, and an island.",
                "Looking to open up the kitchen and move the sink to an island.",
            ),
        ),
        Template(
            ("Bathroom remodel", "Convert tub to walk-in shower", "Master bath renovation"),
            (
                "The hall bathroom is original to the house and we want it redone.",
                "We want to replace the tub with a curbless walk-in shower for aging in place.",
            ),
        ),
        Template(
            ("Finish basement", "Basement renovation with bedroom"),
            ("We want to finish the basement with a family room, a bedroom and a bathroom.",),
        ),
        Template(
            ("Room addition", "Second story addition"),
            ("We need more space and are considering a room addition off the back of the house.",),
        ),
        Template(
            ("Remove load bearing wall", "Open concept living room"),
            ("We want the wall between the dining and living rooms gone, and it is load bearing.",),
        ),
    ),
    Trade.CONCRETE: (
        Template(
            ("Replace cracked driveway", "New concrete driveway", "Driveway extension"),
            (
                "The driveway has large cracks and has heaved near the garage.",
                "We want to widen the driveway for a second car.",
            ),
        ),
        Template(
            ("Pour new concrete patio", "Concrete walkway to front door", "Replace front steps"),
            (
                "We want a broom finish concrete patio behind the house.",
                "The front steps are crumbling and need to be replaced.",
            ),
        ),
        Template(
            ("Foundation crack repair", "Foundation settling cracks"),
            ("There is a diagonal crack in the foundation wall and doors are sticking upstairs.",),
        ),
        Template(
            ("Resurface concrete patio", "Concrete crack repair", "Garage floor resurfacing"),
            (
                "The garage floor is pitted and stained and we want it resurfaced.",
                "Several cracks in the garage floor need to be filled and sealed.",
            ),
        ),
    ),
    Trade.FENCING: (
        Template(
            (
                "Install privacy fence",
                "Chain link fence for backyard",
                "New vinyl fence",
                "Wood fence installation",
            ),
            (
                "We need a six foot privacy fence around the backyard for the dog, about 150 linear feet.",
                "Looking for a new fence along the back property line.",
            ),
        ),
        Template(
            ("Repair leaning fence", "Fence repair after storm", "Replace broken fence posts"),
            (
                "Two posts rotted at the base and a section of fence leans into the neighbor's yard.",
                "The storm knocked down a section of fence; pickets and rails need replacing.",
            ),
        ),
        Template(
            ("Replace fence gate", "Gate not latching", "Install double driveway gate"),
            (
                "The gate sags and drags on the ground, so it will not latch anymore.",
                "We want a wide double gate so a trailer can get into the backyard.",
            ),
        ),
    ),
    Trade.WINDOWS_DOORS: (
        Template(
            ("Replace 5 windows", "Replacement windows for upstairs", "Window replacement quote"),
            (
                "Our original single pane windows are drafty and hard to open.",
                "We want energy efficient double pane windows in the bedrooms.",
            ),
        ),
        Template(
            ("Foggy window glass", "Broken window pane", "Sliding patio door stuck"),
            (
                "Two of the living room windows are foggy between the panes.",
                "The sliding patio door is very hard to open and the lock does not line up.",
            ),
        ),
        Template(
            ("Install new front door", "Replace entry door", "French door installation"),
            (
                "The front door is warped and lets in drafts; we want a new fiberglass entry door.",
                "We want to replace the back slider with French doors.",
            ),
        ),
        Template(
            ("Replace interior doors", "Hang closet doors", "Install pocket door"),
            (
                "We are replacing the hollow core doors upstairs with solid core shaker doors.",
                "The closet doors are off track and we want new bifold doors.",
            ),
        ),
    ),
}

# Sentences around the problem. They hold no scope phrase, size word or measurement, so they
# never change a job's scope or size; only its word count, hence the estimator's confidence.
CONTEXT = (
    "We bought this house last spring.",
    "The home dates from the late seventies.",
    "This is a rental property we manage ourselves.",
    "We are getting the house ready to sell this summer.",
    "I noticed the problem a few days ago and it is getting worse.",
    "The previous owner did a lot of DIY work, not all of it to code.",
    "My elderly mother lives here and I am arranging this for her.",
    "It is a townhouse with an HOA, so work hours are limited to daytime.",
    "We got a quote last month but that contractor never showed up.",
    "We are first-time homeowners and not sure what this should cost.",
)
LOGISTICS = (
    "Weekday afternoons work best for us.",
    "Someone is home most mornings.",
    "We have a friendly dog that can stay inside during the visit.",
    "Street parking is available right out front.",
    "Please share your availability and a rough timeline.",
    "Happy to send more photos if that helps.",
    "Looking for a licensed and insured pro.",
    "We would like to get this done before the holidays.",
    "Flexible on timing, but quality matters to us.",
    "Please include materials and labor in your bid.",
    "Access details will be shared once the job is booked.",
    "References from nearby customers are appreciated.",
    "Can you also haul away the old materials?",
    "We work from home, so early starts are fine.",
)
URGENT_NOTE = "This needs attention today if at all possible."
FLEXIBLE_NOTE = "No rush, any time in the next few weeks is fine."

FIRST_NAMES = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
    "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Charles", "Karen",
    "Christopher", "Lisa", "Daniel", "Nancy", "Matthew", "Betty", "Anthony", "Sandra", "Mark", "Margaret",
    "Jose", "Ashley", "Luis", "Maria", "Carlos", "Sofia", "Juan", "Camila", "Wei", "Mei", "Raj", "Priya",
    "Kevin", "Emily", "Brian", "Michelle", "Jason", "Amanda", "Tyrone", "Keisha", "Andre", "Aaliyah",
    "Ethan", "Olivia", "Noah", "Emma", "Liam", "Ava", "Mohammed", "Fatima", "Hiroshi", "Yuki",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
    "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
    "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores",
    "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts",
    "Patel", "Kim", "Chen", "Wang", "Singh", "Cohen", "Murphy", "Sullivan", "Kowalski", "Okafor",
)  # fmt: skip
