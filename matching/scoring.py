"""Evidence features -> calibrated match probability, and the decision thresholds.

Each candidate (applicant, firm) pair gets log-odds contributions (documented in
docs/matching.md, coefficients below, fixed: nothing is fitted at runtime):

    z = INTERCEPT + name + region + address + legal_form + variant + short_fuzzy + dates

then the firms competing for one applicant are normalised under "at most one of them is the
applicant": score_i = o_i / (1 + sum_j o_j) with o = exp(z). Two equally good namesakes thus
both fall to about 0.5 (review) instead of both being accepted.
"""

from __future__ import annotations

import math

METHOD_VERSION = "match-1.4"  # 1.2: English connectives/abbreviations, former-name holders by key and place;
# 1.3: an excluded firm is listed once per entry, with a reason also when filings straddle its life;
# 1.4: glued assignment clauses (ASSIGNORSTOEASTMANKODAK…) are searched by the register names they start with

AUTO_THRESHOLD = 0.90  # score >= this: decision auto (link used downstream)
REVIEW_THRESHOLD = 0.50  # score in [review, auto): decision review; below: no link (rejected)

INTERCEPT = -2.0
EXACT_NAME = 6.0  # key or core equal
ZH_SUBSTITUTION = 4.5  # per substituted character between Chinese cores (形近/同音 typos are substitutions)
ZH_INDEL = 6.0  # per inserted or missing character (电子 vs 微电子 is another word, not a typo)
SAME_ADDRESS = 3.0  # the applicant's address is the firm's registered address
EN_RATIO_SLOPE = 0.4  # per point of fuzz.ratio below 100 between Latin-script cores
REGION = {"city": 2.0, "province": 1.0, "unknown": 0.0, "conflict": -3.0, "name_conflict": -5.0}
# a different legal form (有限公司 vs 股份有限公司) marks a distinct entity more often than a slip
LEGAL_FORM = {"agree": 0.5, "unknown": 0.0, "differ": -4.0}
# Latin-script names change form without changing firm (X, Inc. -> X, LLC is a conversion): a mild doubt
LEGAL_FORM_LATIN = {"agree": 0.5, "unknown": 0.0, "differ": -1.5}
# glued_prefix: a name cut from a glued assignment clause where the longest register name ends (normalize.py):
# the text shows no boundary, the register supplies it
VARIANT = {"current": 0.0, "former": -0.5, "english": -0.5, "branch_parent": -1.5, "glued_prefix": -1.5}
SHORT_FUZZY = -4.0  # a non-exact match on a short trade name (Clarion vs Aclarion)
DATES_OUTSIDE = -6.0  # times the share of filings outside the firm's life
SHORT_CORE_ZH = 3  # Chinese names (without place and legal form) of at most this many characters are short
SHORT_BRAND_EN = 10  # ... or Latin letters (Clarion vs Aclarion, Pioneer vs ioneer)

# individuals: fixed bands, lower than firm-name links (see docs/matching.md)
LEGAL_REP_AUTO = 0.92  # unique legal representative in the city and co-applicant with the firm
LEGAL_REP_COAPPLICANT = 0.75  # co-applicant, but the name runs several firms there
LEGAL_REP_CITY_UNIQUE = 0.65  # only firm in the city this person runs, never co-filed
LEGAL_REP_CITY_SHARED = 0.50  # one of two or three firms in the city
SUBSIDIARY_SINGLE = 0.95  # times the group's own score, one operating subsidiary
SUBSIDIARY_SEVERAL = 0.70  # times the group's own score, several operating subsidiaries


def decision_for(score: float) -> str:
    if score >= AUTO_THRESHOLD:
        return "auto"
    if score >= REVIEW_THRESHOLD:
        return "review"
    return "rejected"


def competing_scores(logits: list[float]) -> list[float]:
    """Scores of the candidate firms of one applicant, given at most one is the applicant."""
    if len(logits) == 1:  # most applicants: the general formula below with top = z, odds [1.0]
        return [1.0 / (math.exp(-logits[0]) + 1.0)]
    top = max(logits)
    # exp(z - top) keeps the odds finite; the 1 in the denominator becomes exp(-top)
    odds = [math.exp(z - top) for z in logits]
    denom = math.exp(-top) + sum(odds)
    return [o / denom for o in odds]
