"""The item catalogue: item kinds, their nine text factors, and which videos they suit.

An *item kind* (e.g. "basketball", "chair", "theatre stage") belongs to one of the paper's Table 3
groups, suits some subcategories with a weight (1 = essential, ~0.3 = incidental, e.g. a chair for
a guitarist) and exists in one or more *style tiers*: calm (classical, elegant ...), moderate
(casual, everyday ...) or intense (street style, bold ...). Each catalogue item is an instance of a
kind with one tier; the tier shows in its text (style word, colour and pattern palettes,
description adjective), so that a text encoder can see it. Names therefore repeat: there are many
"basketball"s, "floor"s and "chair"s that differ in the other factors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..layout import FACTORS, GROUPS
from .plan import random_streams
from .taxonomy import SUBCATEGORIES

# Table 3 of the paper.
GROUP_COUNTS: dict[str, int] = {"sports": 264, "instruments": 97, "clothes": 101, "others": 155, "background": 470}
assert tuple(GROUP_COUNTS) == GROUPS

CALM, MODERATE, INTENSE = 0, 1, 2
TIER_NAMES = ("calm", "moderate", "intense")
_TIER_LETTERS = {"c": CALM, "m": MODERATE, "i": INTENSE}

STYLE_WORDS: dict[int, tuple[str, ...]] = {
    CALM: ("classical", "elegant", "vintage", "minimalist", "traditional"),
    MODERATE: ("casual", "everyday", "modern", "practical", "simple"),
    INTENSE: ("street style", "sporty", "bold", "urban", "high-performance"),
}
_TIER_COLORS = {
    CALM: ("ivory", "navy blue", "burgundy", "beige", "pale pink", "cream", "dark brown", "silver grey"),
    MODERATE: ("grey", "blue", "white", "green", "brown", "black", "light blue"),
    INTENSE: ("neon green", "bright red", "orange", "electric blue", "hot pink", "neon yellow", "black and gold"),
}
_TIER_PATTERNS = {
    CALM: ("plain", "fine pinstripes", "floral embroidery", "lace trim", "gold filigree"),
    MODERATE: ("plain", "checked", "simple stripes", "small logo", "two-tone"),
    INTENSE: ("graffiti print", "bold stripes", "camouflage", "large logo", "neon trim", "flame decals"),
}
_TIER_ADJECTIVES = {
    CALM: ("graceful", "refined", "quiet", "polished", "timeless"),
    MODERATE: ("practical", "comfortable", "well-used", "ordinary", "handy"),
    INTENSE: ("eye-catching", "high-energy", "rugged", "flashy", "loud"),
}


@dataclass(frozen=True)
class ItemKind:
    """A type of item and the vocabulary its instances draw their factors from."""

    name: str
    group: str
    usage: str
    size: tuple[str, float, float]  # format template with one number, and the number's range
    shapes: tuple[str, ...]
    materials: tuple[str, ...]
    colors: tuple[str, ...]  # typical colours; instances also draw from their tier's palette
    patterns: tuple[str, ...]
    details: tuple[str, ...]  # endings of the description sentence
    suits: dict[str, float]  # subcategory -> how central the item is to it
    tiers: tuple[int, ...]

    def abundance(self) -> float:
        """Relative number of instances: central, multi-style kinds get more."""
        return max(self.suits.values()) * len(self.tiers)


def _kind(name, group, usage, size, shapes, materials, colors, patterns, details, suits, tiers) -> ItemKind:
    unknown = set(suits) - set(SUBCATEGORIES)
    if unknown or group not in GROUPS:
        raise ValueError(f"item kind {name!r}: unknown subcategories {unknown} or group {group!r}")
    return ItemKind(name, group, usage, size, tuple(shapes), tuple(materials), tuple(colors), tuple(patterns),
                    tuple(details), dict(suits), tuple(_TIER_LETTERS[c] for c in tiers))  # fmt: skip


# Within each group, kinds are listed in priority order: a small catalogue keeps the first ones,
# so the list interleaves the subcategories' essential items before the incidental ones.
KINDS: tuple[ItemKind, ...] = (
    # --- sports -------------------------------------------------------------------------------
    _kind("basketball", "sports", "bounced and shot through a hoop", ("about {:.0f} cm across", 22, 25), ["round"],
          ["rubber", "composite leather", "full-grain leather"], ["orange", "brown-orange", "tan"],
          ["black seams", "deep channels", "pebbled grip"],
          ["for indoor courts", "with a deep pebbled grip", "worn smooth from outdoor play", "signed by a local team"],
          {"basketball": 1.0}, "cmi"),
    _kind("football", "sports", "kicked, passed and juggled", ("about {:.0f} cm across", 21, 23), ["round", "truncated icosahedron"],
          ["synthetic leather", "polyurethane", "rubber"], ["white and black", "white", "yellow"],
          ["hexagon panels", "swirl graphics", "star print"],
          ["for grass pitches", "for street football", "of official match size", "light enough for juggling"],
          {"football": 1.0}, "cmi"),
    _kind("tennis racket", "sports", "swung to hit the tennis ball", ("about {:.0f} cm long", 66, 70), ["oval head on a long handle"],
          ["graphite", "aluminium", "wood"], ["black", "white", "blue"], ["dense string bed", "frame graphics", "plain"],
          ["strung at medium tension", "with a fresh overgrip", "with a classic wooden frame"], {"tennis": 1.0}, "cmi"),
    _kind("bicycle", "sports", "ridden and pedalled along roads", ("frame about {:.0f} cm", 48, 60),
          ["diamond frame on two wheels", "step-through frame on two wheels"], ["aluminium", "carbon fibre", "steel"],
          ["black", "white", "red"], ["plain", "brand decals", "pinstriped frame"],
          ["with a front basket", "with drop handlebars", "with deep aero wheels", "with mudguards"], {"cycling": 1.0}, "cmi"),
    _kind("boxing gloves", "sports", "worn to throw and block punches", ("{:.0f} oz", 8, 16), ["padded mitt"],
          ["leather", "synthetic leather", "vinyl"], ["red", "black", "blue"], ["plain", "brand logo", "contrast cuff"],
          ["with a lace-up cuff", "with a hook-and-loop strap", "broken in by sparring"], {"boxing": 1.0}, "cmi"),
    _kind("basketball hoop", "sports", "a target for shooting baskets", ("rim about {:.1f} m high", 2.6, 3.05),
          ["ring on a rectangular backboard", "ring on a square backboard"], ["steel and acrylic", "steel and polycarbonate", "aluminium"],
          ["orange rim", "red rim", "white board"], ["white net", "chain net", "plain"],
          ["mounted on a pole", "fixed above a garage door", "with a breakaway rim"], {"basketball": 0.8}, "cmi"),
    _kind("tennis ball", "sports", "bounced and struck over the net", ("about {:.1f} cm across", 6.5, 6.9), ["round"],
          ["felt-covered rubber"], ["optic yellow", "yellow-green", "white"], ["white curved seam"],
          ["from a fresh can", "slightly worn"], {"tennis": 0.8}, "cmi"),
    _kind("cycling helmet", "sports", "protects the head while riding", ("about {:.0f} cm around", 54, 62),
          ["vented teardrop shell", "rounded shell"], ["polystyrene and polycarbonate"], ["white", "black", "matte grey"],
          ["air vents", "reflective strips", "plain"], ["with an adjustable dial", "with a visor"], {"cycling": 0.8}, "cmi"),
    _kind("punching bag", "sports", "absorbs punches during training", ("about {:.1f} m tall", 0.8, 1.8), ["cylinder"],
          ["canvas", "leather", "vinyl"], ["black", "red", "brown"], ["plain", "brand logo"],
          ["hanging from a chain", "on a free-standing base"], {"boxing": 0.8}, "cm"),
    _kind("football goal", "sports", "a net to score into", ("about {:.1f} m wide", 1.5, 7.3), ["rectangular frame with a net"],
          ["aluminium", "steel", "plastic"], ["white"], ["plain net", "diamond-mesh net"],
          ["for the backyard", "full-size with a deep net", "foldable for training"], {"football": 0.7}, "cmi"),
    _kind("hand wraps", "sports", "support the wrists under gloves", ("about {:.1f} m long", 3.0, 4.5), ["long strip"],
          ["elastic cotton"], ["black", "red", "white"], ["plain", "printed logo"], ["with a thumb loop"], {"boxing": 0.6}, "mi"),
    _kind("training cone", "sports", "marks drills and dribbling lanes", ("about {:.0f} cm tall", 15, 30), ["cone", "low disc"],
          ["plastic", "soft vinyl"], ["orange", "yellow", "red"], ["plain", "reflective band"],
          ["in a stackable set", "for dribbling drills"], {"football": 0.6, "basketball": 0.2}, "mi"),
    _kind("speed bag", "sports", "a small bag punched in fast rhythm", ("about {:.0f} cm long", 20, 30), ["teardrop"],
          ["leather", "synthetic leather"], ["brown", "red", "black"], ["plain", "brand logo"], ["on a wall platform"],
          {"boxing": 0.6}, "mi"),
    _kind("shin guards", "sports", "protect the shins during tackles", ("about {:.0f} cm long", 15, 22), ["curved plate"],
          ["polypropylene", "carbon fibre", "foam-backed plastic"], ["white", "black"], ["plain", "team crest"],
          ["with ankle straps", "slip-in style"], {"football": 0.5}, "mi"),
    _kind("cycling gloves", "sports", "grip the handlebars", ("size {:.0f}", 6, 11), ["fingerless glove"],
          ["mesh and leather", "lycra and gel padding"], ["black", "grey"], ["plain", "reflective logo"],
          ["with padded palms"], {"cycling": 0.5}, "mi"),
    _kind("sweatband", "sports", "absorbs sweat on the wrist or forehead", ("about {:.0f} cm wide", 5, 10), ["ring"],
          ["terry cotton", "elastic cotton"], ["white", "black", "red"], ["plain", "embroidered logo"],
          ["for long rallies", "for hot days"], {"tennis": 0.5, "basketball": 0.4, "boxing": 0.3}, "mi"),
    _kind("tennis net", "sports", "divides the tennis court", ("about {:.1f} m long", 10.0, 12.8), ["long mesh panel"],
          ["polyethylene", "nylon"], ["black", "white band"], ["square mesh"], ["with a white headband"], {"tennis": 0.4}, "cmi"),
    _kind("racket bag", "sports", "carries rackets and balls", ("about {:.0f} cm long", 70, 80), ["long rectangular bag"],
          ["nylon", "polyester", "canvas"], ["black", "blue"], ["plain", "brand logo"], ["with shoulder straps"],
          {"tennis": 0.4}, "cmi"),
    _kind("bike light", "sports", "lights the road ahead", ("about {:.0f} cm long", 6, 12), ["small cylinder"],
          ["aluminium", "plastic"], ["black", "silver"], ["plain"], ["clipped to the handlebar", "rechargeable"],
          {"cycling": 0.4}, "cm"),
    _kind("skipping rope", "sports", "for footwork and conditioning", ("about {:.1f} m long", 2.4, 3.0), ["thin cord with handles"],
          ["PVC and foam", "steel cable and plastic"], ["black", "red"], ["plain"], ["with ball-bearing handles"],
          {"boxing": 0.4, "basketball": 0.2}, "cm"),
    _kind("mouthguard", "sports", "protects the teeth", ("about {:.0f} cm wide", 5, 7), ["horseshoe"],
          ["thermoplastic"], ["clear", "black", "red"], ["plain", "flag print"], ["boil-and-bite fitted"], {"boxing": 0.4}, "i"),
    _kind("knee pads", "sports", "cushion the knees", ("about {:.0f} cm long", 18, 25), ["padded sleeve"],
          ["neoprene and foam"], ["black", "white"], ["plain", "honeycomb padding"], ["for hard floors"],
          {"basketball": 0.3, "dancing": 0.3}, "i"),
    _kind("whistle", "sports", "signals fouls and restarts", ("about {:.0f} cm long", 4, 6), ["small barrel"],
          ["plastic", "brass"], ["black", "silver"], ["plain"], ["on a lanyard"], {"football": 0.3, "basketball": 0.3}, "mi"),
    # --- instruments --------------------------------------------------------------------------
    _kind("acoustic guitar", "instruments", "strummed to accompany songs", ("about {:.0f} cm long", 98, 104),
          ["dreadnought body", "small parlour body"], ["spruce and mahogany", "laminated wood"], ["sunburst", "natural wood", "black"],
          ["tortoiseshell pickguard", "abalone inlay", "plain"], ["with steel strings", "with a cutaway"], {"guitar": 1.0}, "cm"),
    _kind("violin", "instruments", "bowed under the chin", ("about {:.0f} cm long", 58, 60), ["hourglass body with f-holes"],
          ["spruce and maple"], ["amber varnish", "dark brown varnish", "golden brown"], ["flamed maple back", "plain"],
          ["with gut strings", "with a chin rest", "handmade by a luthier"], {"violin": 1.0}, "cm"),
    _kind("drum kit", "instruments", "struck with sticks to keep the beat", ("{:.0f}-piece set", 4, 7), ["round drums and cymbals"],
          ["maple shells", "birch shells", "steel and brass"], ["glossy black", "sparkle red", "natural wood"],
          ["plain", "sparkle wrap", "band logo on the bass drum"], ["with a double pedal", "tuned for jazz", "with tom mounts"],
          {"drumming": 1.0}, "cmi"),
    _kind("upright piano", "instruments", "played at home and in lessons", ("about {:.1f} m tall", 1.1, 1.35), ["tall cabinet"],
          ["spruce and walnut veneer"], ["polished black", "walnut", "white"], ["plain", "carved panels"],
          ["with a padded bench", "freshly tuned"], {"piano": 1.0}, "cm"),
    _kind("electric guitar", "instruments", "played loud through an amplifier", ("about {:.0f} cm long", 96, 102),
          ["solid double-cutaway body", "single-cutaway body", "pointed V body"], ["alder", "mahogany", "basswood"],
          ["cherry red", "black", "white"], ["flame decals", "racing stripes", "plain gloss"],
          ["with humbucker pickups", "with a tremolo arm"], {"guitar": 1.0}, "mi"),
    _kind("digital keyboard", "instruments", "played with built-in sounds and beats", ("{:.0f} keys", 61, 88),
          ["long flat slab"], ["plastic"], ["black", "white", "silver"], ["plain", "backlit buttons"],
          ["with a stand", "with weighted keys"], {"piano": 1.0}, "mi"),
    _kind("grand piano", "instruments", "played in concerts", ("about {:.1f} m long", 1.5, 2.7), ["curved wing shape"],
          ["spruce and ebony"], ["glossy black", "white", "walnut"], ["plain", "gold lettering"],
          ["with the lid open", "in a concert finish"], {"piano": 1.0}, "c"),
    _kind("classical guitar", "instruments", "plucked fingerstyle for classical pieces", ("about {:.0f} cm long", 96, 100),
          ["figure-eight body with a wide neck"], ["spruce and rosewood", "cedar and mahogany"], ["natural wood", "honey", "amber"],
          ["rosette around the sound hole", "plain"], ["with nylon strings", "with a slotted headstock"], {"guitar": 1.0}, "c"),
    _kind("electric violin", "instruments", "bowed and amplified on stage", ("about {:.0f} cm long", 58, 62),
          ["skeletal body", "slim solid body"], ["carbon fibre", "acrylic", "maple"], ["black", "transparent blue", "red"],
          ["plain", "LED strip"], ["with a built-in pickup"], {"violin": 1.0}, "i"),
    _kind("drumsticks", "instruments", "strike drums and cymbals", ("about {:.0f} cm long", 40, 42), ["long taper"],
          ["hickory", "maple", "nylon-tipped hickory"], ["natural wood", "black", "red"], ["plain", "grip tape"],
          ["a matched pair", "chipped from heavy playing"], {"drumming": 0.8}, "mi"),
    _kind("violin bow", "instruments", "drawn across the strings", ("about {:.0f} cm long", 74, 75), ["long slender stick"],
          ["pernambuco and horsehair", "carbon fibre and horsehair"], ["brown", "black"], ["mother-of-pearl eye", "plain"],
          ["freshly rehaired"], {"violin": 0.7}, "cmi"),
    _kind("drum brushes", "instruments", "swept across the snare for soft jazz", ("about {:.0f} cm long", 30, 35),
          ["fan of wires on a handle"], ["steel wire and rubber"], ["silver", "black"], ["plain"], ["retractable"],
          {"drumming": 0.7}, "c"),
    _kind("guitar amplifier", "instruments", "makes the electric guitar loud", ("about {:.0f} cm tall", 30, 70), ["box"],
          ["plywood and tolex"], ["black", "cream"], ["grille cloth", "plain"], ["with built-in distortion", "a valve combo"],
          {"guitar": 0.6}, "mi"),
    _kind("metronome", "instruments", "keeps a steady tempo", ("about {:.0f} cm tall", 12, 22), ["pyramid", "small box"],
          ["wood", "plastic"], ["mahogany", "black"], ["plain"], ["with a swinging pendulum", "digital with a clicker"],
          {"piano": 0.4, "violin": 0.4, "guitar": 0.3, "drumming": 0.3}, "cm"),
    _kind("cymbal", "instruments", "crashed for accents", ("about {:.0f} cm across", 35, 50), ["thin disc"],
          ["bronze", "brass"], ["gold", "dark bronze"], ["lathed grooves", "brilliant finish"], ["a crash cymbal", "a ride cymbal"],
          {"drumming": 0.5}, "cmi"),
    _kind("tambourine", "instruments", "shaken and struck to the rhythm", ("about {:.0f} cm across", 20, 30), ["ring with jingles"],
          ["wood and metal", "plastic and metal"], ["natural wood", "black"], ["plain", "painted rim"], ["with double jingles"],
          {"dancing": 0.4, "drumming": 0.3}, "mi"),
    _kind("synthesizer", "instruments", "makes electronic sounds", ("{:.0f} keys", 25, 61), ["flat slab with knobs"],
          ["metal and plastic"], ["black", "silver"], ["plain", "backlit knobs"], ["with pads and sliders"],
          {"piano": 0.7, "dancing": 0.2}, "i"),
    _kind("castanets", "instruments", "clicked in the hand while dancing", ("about {:.0f} cm across", 5, 7), ["shell pair"],
          ["hardwood", "fibreglass"], ["black", "natural wood"], ["plain", "painted flowers"], ["tied with a cord"],
          {"dancing": 0.4}, "c"),
    _kind("guitar pick", "instruments", "strikes the guitar strings", ("about {:.1f} mm thick", 0.5, 1.5), ["rounded triangle"],
          ["celluloid", "nylon"], ["tortoiseshell", "black", "white"], ["plain", "printed logo"], ["in a small tin"],
          {"guitar": 0.3}, "mi"),
    # --- clothes ------------------------------------------------------------------------------
    _kind("sneakers", "clothes", "worn on the feet for sport and streetwear", ("EU size {:.0f}", 36, 46),
          ["low-top", "high-top", "chunky sole"], ["mesh and rubber", "leather and rubber", "canvas and rubber"],
          ["white", "black"], ["plain", "contrast swoosh", "colour-block panels"], ["with air cushioning", "with thick laces"],
          {"basketball": 0.7, "dancing": 0.6, "tennis": 0.5, "boxing": 0.4, "phone call": 0.3, "football": 0.2}, "mi"),
    _kind("evening gown", "clothes", "worn for formal performances", ("length about {:.0f} cm", 140, 160),
          ["floor-length A-line", "flowing mermaid cut"], ["silk", "satin", "chiffon"], ["black", "deep red", "emerald"],
          ["plain", "sequins", "beaded bodice"], ["with a long train", "with a low back"],
          {"dancing": 0.6, "violin": 0.6, "piano": 0.6}, "c"),
    _kind("hoodie", "clothes", "a warm hooded top", ("chest about {:.0f} cm", 96, 124), ["oversized", "regular fit"],
          ["cotton fleece", "polyester blend"], ["black", "grey"], ["plain", "chest print"], ["with a kangaroo pocket", "with a drawstring hood"],
          {"dancing": 0.6, "basketball": 0.4, "phone call": 0.4, "guitar": 0.3, "boxing": 0.3}, "mi"),
    _kind("apron", "clothes", "protects clothes while cooking", ("about {:.0f} cm long", 70, 95), ["bib apron", "waist apron"],
          ["cotton", "linen", "denim"], ["white", "striped blue", "khaki"], ["plain", "ticking stripes"], ["with a front pocket"],
          {"cooking": 0.8, "eating": 0.2}, "cm"),
    _kind("tuxedo", "clothes", "formal wear for concerts and dinners", ("chest about {:.0f} cm", 92, 120),
          ["slim-cut jacket and trousers"], ["wool", "wool with satin lapels"], ["black", "midnight blue"], ["plain", "satin stripe"],
          ["with a bow tie"], {"piano": 0.6, "violin": 0.6, "eating": 0.3, "phone call": 0.3}, "c"),
    _kind("ballet shoes", "clothes", "soft shoes for ballet", ("EU size {:.0f}", 35, 42), ["soft slipper", "pointe shoe"],
          ["satin", "canvas", "leather"], ["pale pink", "ballet pink", "white"], ["plain", "ribbon ties"], ["with a split sole"],
          {"dancing": 0.9}, "c"),
    _kind("t-shirt", "clothes", "a plain everyday top", ("chest about {:.0f} cm", 86, 120), ["crew neck", "v-neck"],
          ["cotton", "cotton jersey"], ["white", "black", "grey"], ["plain", "small print"], ["soft after many washes"],
          {"eating": 0.3, "drinking": 0.3, "phone call": 0.3, "cooking": 0.3, "guitar": 0.3, "drumming": 0.4, "piano": 0.2,
           "basketball": 0.2}, "mi"),
    _kind("leather jacket", "clothes", "a rocker's jacket", ("chest about {:.0f} cm", 90, 120), ["biker cut", "bomber cut"],
          ["leather", "faux leather"], ["black", "brown"], ["plain", "metal studs"], ["with zips and buckles"],
          {"guitar": 0.6, "drumming": 0.6, "phone call": 0.2}, "i"),
    _kind("football boots", "clothes", "studded boots for the pitch", ("EU size {:.0f}", 36, 46), ["low-cut with studs"],
          ["synthetic leather", "knit upper"], ["white", "black"], ["plain", "contrast studs"], ["for firm ground"],
          {"football": 0.8}, "mi"),
    _kind("basketball jersey", "clothes", "a sleeveless team top", ("chest about {:.0f} cm", 90, 125), ["sleeveless"],
          ["polyester mesh"], ["yellow", "purple", "green"], ["team number", "side panels"], ["with a big number on the back"],
          {"basketball": 0.7}, "mi"),
    _kind("cycling jersey", "clothes", "a tight top for riding", ("chest about {:.0f} cm", 84, 115), ["tight fit"],
          ["lycra"], ["yellow", "blue"], ["team sponsors", "plain"], ["with back pockets"], {"cycling": 0.7}, "mi"),
    _kind("boxing shorts", "clothes", "loose shorts for the ring", ("waist about {:.0f} cm", 70, 100), ["wide-leg shorts"],
          ["satin", "polyester"], ["red", "black", "gold"], ["contrast waistband", "name on the waistband"],
          ["with a high waistband"], {"boxing": 0.7}, "mi"),
    _kind("tennis polo", "clothes", "a collared top for tennis", ("chest about {:.0f} cm", 86, 118), ["collared short sleeve"],
          ["pique cotton", "polyester"], ["white", "cream"], ["plain", "thin trim"], ["traditional tennis whites"],
          {"tennis": 0.7}, "cm"),
    _kind("knit cardigan", "clothes", "a soft layer for quiet days", ("chest about {:.0f} cm", 86, 120), ["button-up"],
          ["wool", "cashmere"], ["oatmeal", "camel"], ["cable knit", "plain"], ["with wooden buttons"],
          {"drinking": 0.4, "piano": 0.4, "guitar": 0.4, "eating": 0.3, "phone call": 0.3}, "c"),
    _kind("chef jacket", "clothes", "a double-breasted jacket for the kitchen", ("chest about {:.0f} cm", 90, 125),
          ["double-breasted"], ["cotton drill"], ["white", "black"], ["plain", "contrast piping"], ["with knot buttons"],
          {"cooking": 0.7}, "mi"),
    _kind("football jersey", "clothes", "a team shirt for matches", ("chest about {:.0f} cm", 86, 120), ["short sleeve"],
          ["polyester"], ["red", "blue", "white"], ["team crest", "hoops"], ["with a number on the back"], {"football": 0.7}, "mi"),
    _kind("leotard", "clothes", "a close-fitting dance body", ("size {:.0f}", 4, 14), ["camisole", "long sleeve"],
          ["nylon and elastane", "cotton and elastane"], ["black", "lilac"], ["plain", "mesh panels"], ["for dance class"],
          {"dancing": 0.6}, "cm"),
    _kind("tracksuit", "clothes", "a zip jacket and trousers for training", ("chest about {:.0f} cm", 88, 125), ["zip jacket and joggers"],
          ["polyester", "cotton"], ["black", "navy"], ["side stripes", "plain"], ["with zip pockets"],
          {"football": 0.4, "boxing": 0.4, "dancing": 0.3}, "mi"),
    _kind("baseball cap", "clothes", "shades the eyes", ("about {:.0f} cm around", 54, 62), ["curved brim", "flat brim"],
          ["cotton twill"], ["black", "white"], ["plain", "embroidered logo"], ["with a snapback strap"],
          {"basketball": 0.3, "phone call": 0.3, "dancing": 0.3, "drinking": 0.2}, "mi"),
    _kind("sunglasses", "clothes", "protect the eyes from glare", ("lens about {:.0f} mm wide", 50, 65), ["wrap-around", "aviator"],
          ["polycarbonate", "metal and glass"], ["black", "gold"], ["mirrored lenses", "tinted lenses"], ["with UV protection"],
          {"cycling": 0.5, "phone call": 0.3, "drinking": 0.2}, "mi"),
    # --- others -------------------------------------------------------------------------------
    _kind("smartphone", "others", "for calls, messages and filming", ("about {:.0f} cm tall", 14, 17), ["slim rectangle"],
          ["glass and aluminium", "plastic"], ["black", "silver"], ["plain", "phone case print"], ["with a large screen", "in a case"],
          {"phone call": 1.0, "eating": 0.2, "drinking": 0.2}, "cmi"),
    _kind("frying pan", "others", "for frying and searing", ("about {:.0f} cm across", 20, 32), ["round with a long handle"],
          ["cast iron", "non-stick aluminium", "stainless steel"], ["black", "silver"], ["plain"], ["seasoned by years of use"],
          {"cooking": 1.0}, "mi"),
    _kind("bowl", "others", "holds rice, soup or salad", ("about {:.0f} cm across", 12, 20), ["round"],
          ["porcelain", "ceramic", "wood"], ["white", "blue and white"], ["plain", "painted rim"], ["for everyday meals"],
          {"eating": 0.8, "cooking": 0.4}, "cm"),
    _kind("teacup", "others", "for sipping tea", ("about {:.0f} ml", 150, 250), ["cup with saucer"],
          ["bone china", "porcelain"], ["white", "pale green"], ["floral", "gold rim"], ["with a matching saucer"],
          {"drinking": 0.9}, "c"),
    _kind("coffee mug", "others", "for coffee or cocoa", ("about {:.0f} ml", 250, 450), ["cylinder with a handle"],
          ["ceramic", "stoneware"], ["white", "black"], ["plain", "printed slogan"], ["still steaming"],
          {"drinking": 0.9, "phone call": 0.2}, "m"),
    _kind("water bottle", "others", "carries water", ("about {:.0f} ml", 500, 1000), ["tall cylinder"],
          ["plastic", "stainless steel"], ["clear", "black"], ["plain", "measuring marks"], ["with a flip cap"],
          {"drinking": 0.6, "cycling": 0.5, "basketball": 0.3, "football": 0.3, "tennis": 0.3, "boxing": 0.3}, "mi"),
    _kind("music stand", "others", "holds sheet music", ("about {:.1f} m tall", 0.9, 1.5), ["folding tripod with a desk"],
          ["steel", "wood"], ["black", "walnut"], ["plain"], ["adjustable in height"], {"violin": 0.7, "piano": 0.3, "guitar": 0.3}, "cm"),
    _kind("microphone", "others", "picks up the voice or instrument", ("about {:.0f} cm long", 15, 20), ["handheld cylinder"],
          ["metal"], ["black", "silver"], ["mesh grille"], ["on a stand", "wireless"], {"guitar": 0.5, "dancing": 0.3, "drumming": 0.2}, "mi"),
    _kind("wine glass", "others", "for wine at the table", ("about {:.0f} ml", 250, 500), ["bowl on a stem"],
          ["crystal", "glass"], ["clear"], ["plain", "etched"], ["half filled"], {"drinking": 0.8, "eating": 0.4}, "c"),
    _kind("plate", "others", "holds the meal", ("about {:.0f} cm across", 20, 30), ["round", "square"],
          ["porcelain", "stoneware"], ["white", "cream"], ["plain", "gold rim"], ["with a served dish"], {"eating": 0.8}, "cm"),
    _kind("chopsticks", "others", "pick up food", ("about {:.0f} cm long", 21, 27), ["pair of tapered sticks"],
          ["bamboo", "lacquered wood", "stainless steel"], ["natural wood", "black"], ["plain", "painted tips"],
          ["on a chopstick rest"], {"eating": 0.7}, "cm"),
    _kind("energy drink", "others", "a sweet caffeinated drink", ("about {:.0f} ml", 250, 500), ["slim can"],
          ["aluminium"], ["silver and blue", "black and green"], ["claw logo", "lightning print"], ["ice cold"],
          {"drinking": 0.8, "cycling": 0.2, "boxing": 0.2}, "i"),
    _kind("takeaway box", "others", "fast food to go", ("about {:.0f} cm wide", 12, 20), ["box with a lid"],
          ["paperboard", "foam"], ["white", "kraft brown"], ["printed logo", "plain"], ["with fries and a burger"],
          {"eating": 0.7}, "i"),
    _kind("wok", "others", "for stir-frying over high heat", ("about {:.0f} cm across", 30, 40), ["deep round bowl with a handle"],
          ["carbon steel", "cast iron"], ["black", "dark grey"], ["plain"], ["blackened by flames"], {"cooking": 0.9}, "i"),
    _kind("whisk", "others", "beats eggs and cream", ("about {:.0f} cm long", 25, 32), ["balloon of wires on a handle"],
          ["stainless steel"], ["silver"], ["plain"], ["for baking"], {"cooking": 0.8}, "c"),
    _kind("sheet music", "others", "the written notes to play", ("{:.0f} pages", 2, 24), ["booklet"],
          ["paper"], ["cream", "white"], ["printed staves"], ["with pencil markings"], {"piano": 0.6, "violin": 0.6, "guitar": 0.2}, "cm"),
    _kind("earphones", "others", "for listening and hands-free calls", ("about {:.0f} cm", 2, 3), ["small buds"],
          ["plastic"], ["white", "black"], ["plain"], ["wireless with a charging case"], {"phone call": 0.6, "cycling": 0.3}, "mi"),
    _kind("sparkle effect", "others", "a glittering overlay added in editing", ("covering about {:.0f} % of the frame", 10, 60),
          ["scattered stars"], ["digital effect"], ["gold", "silver"], ["twinkling points"], ["that follows the movement"],
          {"dancing": 0.5, "violin": 0.3, "piano": 0.3}, "cm"),
    _kind("fire effect", "others", "animated flames added in editing", ("covering about {:.0f} % of the frame", 10, 60),
          ["rising flames"], ["digital effect"], ["orange", "blue"], ["flickering flames"], ["bursting on the beat"],
          {"drumming": 0.5, "guitar": 0.4, "boxing": 0.3, "dancing": 0.3}, "i"),
    _kind("towel", "others", "wipes off sweat", ("about {:.0f} cm long", 40, 100), ["folded rectangle"],
          ["cotton terry", "microfibre"], ["white", "grey"], ["plain", "embroidered initials"], ["over the shoulder"],
          {"boxing": 0.4, "basketball": 0.3, "tennis": 0.3, "football": 0.2, "cycling": 0.2}, "mi"),
    _kind("kitchen knife", "others", "chops and slices", ("blade about {:.0f} cm", 15, 24), ["long blade with a handle"],
          ["steel and wood", "damascus steel"], ["silver"], ["plain", "hammered finish"], ["razor sharp"], {"cooking": 0.6}, "cmi"),
    _kind("cutting board", "others", "a surface to chop on", ("about {:.0f} cm long", 30, 50), ["rectangle", "round"],
          ["wood", "bamboo", "plastic"], ["natural wood"], ["plain", "end grain"], ["with a juice groove"], {"cooking": 0.6}, "cm"),
    _kind("cutlery set", "others", "knife, fork and spoon for the table", ("about {:.0f} cm long", 18, 23), ["slim utensils"],
          ["silver", "stainless steel"], ["silver", "gold"], ["plain", "engraved handles"], ["laid beside the plate"],
          {"eating": 0.7}, "c"),
    _kind("stopwatch", "others", "times rounds and laps", ("about {:.0f} cm across", 5, 7), ["round"],
          ["plastic", "metal"], ["black", "silver"], ["plain"], ["on a neck cord"], {"boxing": 0.3, "cycling": 0.3, "football": 0.2}, "mi"),
    _kind("confetti effect", "others", "colourful confetti added in editing", ("covering about {:.0f} % of the frame", 20, 80),
          ["falling flakes"], ["digital effect"], ["multicoloured"], ["paper flakes"], ["for a celebration"],
          {"dancing": 0.4, "basketball": 0.3, "football": 0.3}, "mi"),
    _kind("heart sticker", "others", "a cute sticker added in editing", ("about {:.0f} % of the frame", 3, 15), ["heart"],
          ["digital sticker"], ["red", "pink"], ["plain", "glitter"], ["that pops up"], {"eating": 0.3, "drinking": 0.3, "phone call": 0.3}, "cm"),
    _kind("laptop", "others", "for work and video calls", ("about {:.0f} inch screen", 13, 17), ["thin clamshell"],
          ["aluminium", "plastic"], ["silver", "black"], ["plain", "stickers on the lid"], ["open on the desk"], {"phone call": 0.3}, "cm"),
    # --- background ---------------------------------------------------------------------------
    _kind("kitchen", "background", "a room to cook in", ("about {:.0f} m wide", 3, 6), ["open-plan room", "galley room"],
          ["tiles and wood", "marble and steel"], ["white", "wood tones"], ["subway tiles", "plain"],
          ["with a gas stove", "with hanging pots"], {"cooking": 1.0, "eating": 0.4, "drinking": 0.3}, "cm"),
    _kind("basketball court", "background", "where basketball is played", ("about {:.0f} m long", 15, 28), ["rectangle with painted lines"],
          ["hardwood", "asphalt", "rubber tiles"], ["maple brown", "blue and orange"], ["painted key", "three-point line"],
          ["under floodlights", "in a school gym", "in the backyard"], {"basketball": 1.0}, "cmi"),
    _kind("football pitch", "background", "where football is played", ("about {:.0f} m long", 40, 105), ["rectangle with white lines"],
          ["natural grass", "artificial turf"], ["green"], ["mowed stripes", "plain"], ["with goals at both ends"],
          {"football": 1.0}, "mi"),
    _kind("tennis court", "background", "where tennis is played", ("about {:.0f} m long", 23, 24), ["rectangle with a net"],
          ["grass", "acrylic hard court", "red clay"], ["green", "blue", "terracotta"], ["white lines"],
          ["at a private club", "in a public park", "in a packed arena"], {"tennis": 1.0}, "cmi"),
    _kind("boxing ring", "background", "a roped square for bouts", ("about {:.0f} m across", 5, 7), ["square with ropes"],
          ["canvas and rope"], ["blue", "red corners"], ["sponsor logos", "plain"], ["under bright lights"], {"boxing": 1.0}, "mi"),
    _kind("dance studio", "background", "a room for dance practice", ("about {:.0f} m wide", 6, 15), ["room with mirrors"],
          ["sprung wooden floor"], ["light wood", "white"], ["mirror wall", "plain"], ["with a ballet barre"], {"dancing": 0.9}, "cm"),
    _kind("concert hall", "background", "a hall for classical concerts", ("about {:.0f} seats", 400, 2500), ["tiered auditorium"],
          ["wood and velvet"], ["gold", "red velvet"], ["ornate ceiling", "plain"], ["with perfect acoustics"],
          {"violin": 0.9, "piano": 0.9, "guitar": 0.4}, "c"),
    _kind("rock stage", "background", "a stage for loud bands", ("about {:.0f} m wide", 8, 20), ["open stage"],
          ["steel truss and plywood"], ["black", "red light"], ["strobe lights", "smoke"], ["with a stack of amplifiers"],
          {"guitar": 0.8, "drumming": 0.9, "violin": 0.3}, "i"),
    _kind("cafe", "background", "a cosy place for drinks", ("about {:.0f} seats", 10, 60), ["small room with tables"],
          ["wood and brick"], ["warm brown", "white"], ["exposed brick", "plain"], ["with a window seat"],
          {"drinking": 0.9, "phone call": 0.4, "eating": 0.3}, "cm"),
    _kind("living room", "background", "a room to relax at home", ("about {:.0f} m wide", 3, 7), ["room with a sofa"],
          ["wood and fabric"], ["beige", "grey"], ["rug", "plain"], ["with house plants"],
          {"phone call": 0.6, "guitar": 0.5, "piano": 0.4, "drinking": 0.4}, "cm"),
    _kind("office", "background", "a place to work", ("about {:.0f} m wide", 3, 10), ["room with desks"],
          ["glass and carpet"], ["grey", "white"], ["plain"], ["with a city view"], {"phone call": 0.7}, "cm"),
    _kind("dining table", "background", "where the meal is served", ("about {:.1f} m long", 0.8, 2.4), ["rectangle", "round"],
          ["oak", "marble", "pine"], ["natural wood", "white"], ["plain", "tablecloth"], ["set for dinner"],
          {"eating": 0.7, "drinking": 0.3}, "cm"),
    _kind("mountain road", "background", "a winding road to ride", ("about {:.0f} km long", 5, 40), ["winding road"],
          ["asphalt"], ["grey", "green hills"], ["painted centre line"], ["with steep hairpins"], {"cycling": 0.8}, "mi"),
    _kind("theatre stage", "background", "a stage for performances", ("about {:.0f} m wide", 8, 20), ["proscenium stage"],
          ["wood and velvet curtains"], ["red curtains", "black"], ["spotlight", "plain"], ["with a soft spotlight"],
          {"dancing": 0.9, "violin": 0.6, "piano": 0.5}, "c"),
    _kind("graffiti wall", "background", "a painted wall in the street", ("about {:.0f} m wide", 3, 15), ["flat wall"],
          ["concrete", "brick"], ["multicoloured"], ["spray-paint tags", "murals"], ["in an alley"],
          {"dancing": 0.8, "basketball": 0.5, "guitar": 0.2}, "i"),
    _kind("restaurant", "background", "a place to dine out", ("about {:.0f} seats", 20, 120), ["dining room"],
          ["wood and linen"], ["warm white", "dark wood"], ["chandeliers", "plain"], ["with candle-lit tables"],
          {"eating": 0.8, "drinking": 0.5}, "c"),
    _kind("floor", "background", "the surface under the performer", ("about {:.0f} square metres", 10, 200), ["flat"],
          ["wooden boards", "concrete", "vinyl", "marble"], ["light wood", "grey"], ["plain", "herringbone"], ["polished", "scuffed"],
          {"dancing": 0.5, "basketball": 0.3, "boxing": 0.3, "piano": 0.2, "guitar": 0.2, "eating": 0.2, "cooking": 0.2}, "cmi"),
    _kind("chair", "background", "a seat", ("about {:.0f} cm tall", 45, 100), ["four-legged", "stool", "armchair"],
          ["wood", "iron", "plastic"], ["black", "natural wood"], ["plain", "padded seat"], ["beside a table", "on its own"],
          {"eating": 0.5, "drinking": 0.3, "phone call": 0.3, "guitar": 0.6, "violin": 0.3, "drumming": 0.4, "piano": 0.3}, "cmi"),
    _kind("park", "background", "an open green space", ("about {:.0f} hectares", 1, 50), ["lawn with trees"],
          ["grass and gravel"], ["green"], ["plain", "flower beds"], ["on a sunny afternoon"],
          {"football": 0.5, "cycling": 0.5, "phone call": 0.3, "drinking": 0.2}, "cm"),
    _kind("gym", "background", "a place to train", ("about {:.0f} m wide", 8, 40), ["hall"],
          ["rubber flooring"], ["black", "grey"], ["plain"], ["with weights and mirrors"], {"boxing": 0.8, "basketball": 0.3}, "cm"),
    _kind("street food stall", "background", "a stall selling quick food", ("about {:.0f} m wide", 2, 5), ["stall with an awning"],
          ["steel and canvas"], ["red", "yellow"], ["neon sign", "hand-painted menu"], ["at a night market"],
          {"eating": 0.8, "drinking": 0.3}, "i"),
    _kind("restaurant kitchen", "background", "a busy professional kitchen", ("about {:.0f} m wide", 4, 15), ["long galley"],
          ["stainless steel"], ["silver"], ["plain"], ["with flames on the burners"], {"cooking": 0.9}, "i"),
    _kind("velodrome", "background", "a banked track for racing", ("about {:.0f} m lap", 200, 333), ["banked oval"],
          ["pine boards"], ["light wood"], ["coloured lane lines"], ["under arena lights"], {"cycling": 0.8}, "i"),
    _kind("stadium", "background", "a large arena with crowds", ("about {:.0f} seats", 5000, 80000), ["bowl with stands"],
          ["concrete and steel"], ["green and grey"], ["crowd in the stands"], ["under floodlights"],
          {"football": 0.7, "tennis": 0.5}, "i"),
    _kind("nightclub", "background", "a club with a dance floor", ("about {:.0f} m wide", 8, 30), ["dark hall"],
          ["LED panels"], ["purple", "neon blue"], ["laser beams", "disco ball"], ["with a DJ booth"],
          {"dancing": 0.7, "drumming": 0.4, "piano": 0.3}, "i"),
    _kind("jazz club", "background", "a small club for live jazz", ("about {:.0f} seats", 30, 150), ["low-lit room"],
          ["wood and brick"], ["amber light", "dark wood"], ["plain"], ["with a tiny stage"], {"drumming": 0.7, "piano": 0.6}, "c"),
    _kind("garage", "background", "a space for band practice", ("about {:.0f} m wide", 3, 7), ["concrete box"],
          ["concrete"], ["grey"], ["posters on the wall", "plain"], ["with the door rolled up"], {"drumming": 0.7, "guitar": 0.5}, "mi"),
    _kind("recording studio", "background", "a room for recording music", ("about {:.0f} m wide", 3, 10), ["padded room"],
          ["acoustic foam and wood"], ["dark grey", "wood tones"], ["foam panels"], ["with a mixing desk"],
          {"guitar": 0.6, "drumming": 0.6, "piano": 0.5, "violin": 0.4}, "m"),
    _kind("backyard", "background", "a garden behind the house", ("about {:.0f} m wide", 5, 20), ["lawn with a fence"],
          ["grass"], ["green"], ["plain"], ["with a wooden fence"], {"basketball": 0.5, "football": 0.5, "drinking": 0.2}, "cm"),
    _kind("city street", "background", "a busy street", ("about {:.0f} m wide", 8, 30), ["street with pavements"],
          ["asphalt and concrete"], ["grey"], ["crosswalk stripes", "shop signs"], ["with passing traffic"],
          {"phone call": 0.5, "cycling": 0.5, "dancing": 0.3}, "mi"),
    _kind("sofa", "background", "a soft seat at home", ("about {:.1f} m wide", 1.4, 2.6), ["three-seater", "corner sofa"],
          ["fabric", "leather"], ["grey", "beige"], ["plain", "cushions"], ["with a throw blanket"],
          {"phone call": 0.4, "guitar": 0.4, "drinking": 0.3}, "cm"),
    _kind("window", "background", "lets in daylight", ("about {:.1f} m wide", 0.8, 3.0), ["rectangle", "arched"],
          ["glass and wood"], ["white frame"], ["plain", "sheer curtains"], ["with soft morning light"],
          {"drinking": 0.3, "eating": 0.3, "piano": 0.3, "phone call": 0.3}, "cm"),
    _kind("stage lights", "background", "coloured light on the performer", ("{:.0f} spotlights", 4, 40), ["beams from above"],
          ["LED fixtures"], ["magenta", "blue"], ["sweeping beams", "strobe"], ["synced to the music"],
          {"dancing": 0.5, "guitar": 0.5, "drumming": 0.6}, "mi"),
    _kind("sunset sky", "background", "a virtual background of the evening sky", ("filling {:.0f} % of the frame", 40, 100),
          ["wide horizon"], ["digital backdrop"], ["orange and pink", "purple"], ["soft clouds"], ["over the sea"],
          {"cycling": 0.4, "drinking": 0.3, "violin": 0.3, "guitar": 0.3}, "c"),
    _kind("beach", "background", "sand by the sea", ("about {:.0f} m long", 100, 2000), ["shoreline"],
          ["sand"], ["golden", "turquoise water"], ["waves"], ["at low tide"], {"football": 0.3, "drinking": 0.3, "dancing": 0.2}, "cm"),
)


@dataclass(frozen=True)
class Item:
    """One catalogue item: its text factors plus the latent kind and tier the annotators use."""

    item_id: str
    factors: dict[str, str]  # the 9 factors, keyed by layout.FACTORS
    group: str
    kind: ItemKind
    tier: int


def _largest_remainder(total: int, weights: np.ndarray) -> np.ndarray:
    """Integers proportional to ``weights`` that sum to ``total`` (ties go to the earlier entry)."""
    exact = total * weights / weights.sum()
    counts = np.floor(exact).astype(int)
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in order[: total - counts.sum()]:
        counts[i] += 1
    return counts


def group_sizes(n_items: int) -> dict[str, int]:
    """Items per group: Table 3's counts scaled to ``n_items`` (exactly them for 1,087)."""
    counts = _largest_remainder(n_items, np.array([GROUP_COUNTS[g] for g in GROUPS], dtype=float))
    return dict(zip(GROUPS, (int(c) for c in counts)))


def _instances_per_kind(kinds: list[ItemKind], n: int) -> list[int]:
    """One instance per kind in priority order, then the rest in proportion to abundance."""
    counts = [1 if i < n else 0 for i in range(len(kinds))]
    rest = n - sum(counts)
    if rest > 0:
        extra = _largest_remainder(rest, np.array([k.abundance() for k in kinds]))
        counts = [c + int(e) for c, e in zip(counts, extra)]
    return counts


def _noun_phrase(adjective: str, color: str, name: str) -> str:
    """"an eye-catching orange basketball", or without article for plurals ("black boxing gloves")."""
    phrase = f"{adjective} {color} {name}"
    if name.endswith("s"):
        return phrase
    return f"{'an' if adjective[0] in 'aeiou' else 'a'} {phrase}"


def _describe(kind: ItemKind, tier: int, rng: np.random.Generator) -> dict[str, str]:
    """Draw the nine text factors of one instance of ``kind`` in style ``tier``."""

    def pick(options) -> str:
        return options[rng.integers(len(options))]

    template, low, high = kind.size
    color = pick(kind.colors) if kind.colors and rng.random() < 0.5 else pick(_TIER_COLORS[tier])
    pattern = pick(kind.patterns) if kind.patterns and rng.random() < 0.5 else pick(_TIER_PATTERNS[tier])
    adjective = pick(_TIER_ADJECTIVES[tier])
    factors = {
        "name": kind.name,
        "usage": kind.usage,
        "size": template.format(rng.uniform(low, high)),
        "shape": pick(kind.shapes),
        "color": color,
        "material": pick(kind.materials),
        "style": pick(STYLE_WORDS[tier]),
        "pattern": pattern,
        "description": f"{_noun_phrase(adjective, color, kind.name)} {pick(kind.details)}",
    }
    assert tuple(factors) == FACTORS
    return factors


def item_id(index: int, n_items: int) -> str:
    """``i0001``-style id of the 0-based item ``index``."""
    return f"i{index + 1:0{max(4, len(str(n_items)))}d}"


def draft_items(kinds, n_items: int, rng: np.random.Generator) -> list[tuple[ItemKind, int, dict[str, str]]]:
    """``(kind, tier, factor texts)`` of ``n_items`` instances of ``kinds``, group by group (Table 3 sizes),
    spread over each group's kinds and, in turn, over each kind's style tiers (from a random first tier)."""
    drafts = []
    for group, size in group_sizes(n_items).items():
        group_kinds = [k for k in kinds if k.group == group]
        for kind, count in zip(group_kinds, _instances_per_kind(group_kinds, size)):
            first_tier = int(rng.integers(len(kind.tiers)))
            for j in range(count):
                tier = kind.tiers[(first_tier + j) % len(kind.tiers)]
                drafts.append((kind, tier, _describe(kind, tier, rng)))
    return drafts


def build_catalogue(seed: int, n_items: int) -> list[Item]:
    """The ``n_items`` catalogue items of the dataset for ``seed``, in id order.

    Group sizes follow Table 3; within a group, instances are spread over the kinds (see
    ``_instances_per_kind``) and over each kind's style tiers in turn. Item ids are assigned after a
    shuffle, so they reveal neither group nor kind.
    """
    if n_items < len(GROUPS):
        raise ValueError(f"n_items must be at least {len(GROUPS)}, got {n_items}")
    rng = np.random.default_rng(random_streams(seed).catalogue)
    drafts = draft_items(KINDS, n_items, rng)
    order = rng.permutation(len(drafts))
    return [
        Item(item_id(new, n_items), drafts[old][2], drafts[old][0].group, drafts[old][0], drafts[old][1])
        for new, old in enumerate(order)
    ]


def candidates_by_subcategory(items: list[Item]) -> dict[str, list[int]]:
    """Indices of the items that suit each subcategory (in any style)."""
    return {sub: [i for i, item in enumerate(items) if sub in item.kind.suits] for sub in SUBCATEGORIES}
