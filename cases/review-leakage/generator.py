"""Methodology review: a churn-model and renewal-offer notebook with seeded, planted defects.

Each seed plants 3 to 5 defects of `DEFECT_CATALOGUE` in the flawed notebook `analysis.ipynb`
(see `extra_files`). Every step of the catalogue has one cell, and that cell's text is built from
the same template whether the step is flawed or done correctly: what plants a defect is either a
*binding* (which of the seed's variable names the template is filled with: the full feature frame
or the training rows, the training or the test matrix, the raw or the adjusted p-value column) or
the *data* the cell runs on (retention calls dated after the snapshot, rows in customer-id order
rather than time order, a sample ratio mismatch). So no fixed string of this file tells a flawed
cell from a correct one: every step cell is its own decoy, and the defect is found by reading what
the code does with these names and this data, or by running it.

What the seed varies, besides which defects: the variable names (frames, feature list, train and
test matrices, model, metric variables, p-value columns), each step cell's title (one of a few
phrasings), the order of the feature list, the order of the two sections and of the experiment
readouts after the arm check, and a few optional exploration cells, so a step's cell label moves.

The plan (defects, names, layout) is drawn from the seed alone, and the key reaches the grader as a
`hidden` frame: nothing in the CSVs or the notebook is a number the plan is computed from, so with
a secret data seed this public file cannot rebuild a candidate's key. The key can only be found
the way a reviewer finds it: by reading what each step does with its names and its data (the
author notebook does that by program).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from string import Template

import numpy as np
import pandas as pd

DEFECT_CATALOGUE: dict[str, dict[str, str]] = {
    "target-leakage": {
        "title": "Target leakage",
        "summary": "A feature that is only known after (or because of) the outcome is used to predict it.",
        "explanation": "`retention_call_logged` is a model feature, and in this data every call it records "
        "is dated (`retention_call_date`) after the snapshot, between the snapshot and the renewal: "
        "customers mostly phone care to cancel. Using it lets the model read the answer off the label's "
        "consequences; it becomes the model's largest coefficient.",
        "why_it_matters": "Offline AUC and precision look excellent and collapse in production, where "
        "the call has not happened yet when the model scores the customer.",
        "how_to_fix": "Keep only features known at the snapshot date; audit every column's timestamp "
        "against the prediction time, and distrust any single feature that dominates.",
    },
    "random-split-on-time": {
        "title": "Random split on time-ordered data",
        "summary": "Rows from all months are shuffled into train and test, though the model will score future months.",
        "explanation": "The split holds out the last quarter of the rows (`shuffle=False`), but the rows "
        "are in customer-id order, not snapshot order, so the holdout mixes every month (the cell prints "
        "how many): the model is tested on months it was trained on, including those after the March 2025 "
        "price change.",
        "why_it_matters": "The holdout no longer measures what deployment needs, performance on the next "
        "months under drift, so the estimate is optimistic and drift goes unseen.",
        "how_to_fix": "Split by time: train on earlier snapshot months and test on the latest ones "
        "(or backtest over several rolling cut-offs).",
    },
    "preprocessing-on-full-data": {
        "title": "Preprocessing fitted on all rows",
        "summary": "Imputation or scaling statistics are computed on train and test together.",
        "explanation": "The medians used to fill `monthly_spend` and the scaler's means and deviations "
        "are computed on the full feature frame, test rows included, before they transform train and test.",
        "why_it_matters": "Test-set information shapes the training inputs, so the holdout is no longer "
        "unseen. The effect is small for a median and a scaler but large for target encoding or "
        "feature selection, and the habit carries over.",
        "how_to_fix": "Fit every preprocessing step on the training rows only (a scikit-learn Pipeline "
        "fitted on X_train does this) and apply it to the test rows.",
    },
    "eval-on-train": {
        "title": "Evaluation on the training set",
        "summary": "The reported model performance is computed on the rows the model was fitted on.",
        "explanation": "The headline AUC scores the scaled training rows against the training labels: "
        "the model is graded on the data it learned from.",
        "why_it_matters": "Training performance overstates what the model does on new customers, more "
        "so the more flexible the model; it cannot tell a good model from an overfitted one.",
        "how_to_fix": "Report performance on the held-out (later) rows only, and keep a final test set "
        "untouched by model and threshold choices.",
    },
    "metric-mismatch": {
        "title": "Metric does not match the business goal",
        "summary": "The model is judged by a metric that does not measure what the stated decision needs.",
        "explanation": "The care team can call about 20% of each month's renewals, so what matters is how "
        "many churners the top 20% of scores reach. The go-live check compares accuracy at a 0.5 threshold "
        "with the everyone-renews baseline, which with a low churn rate mostly rewards predicting 'renews'.",
        "why_it_matters": "A model can beat the all-renew baseline on accuracy while ranking poorly inside "
        "the capacity that will actually be called, or lose on accuracy while being the better ranker.",
        "how_to_fix": "Evaluate at the operating point: precision and recall of the top 20% per month "
        "(or churners or revenue saved per call), against the current targeting rule.",
    },
    "ignored-srm": {
        "title": "Sample ratio mismatch ignored",
        "summary": "The arms' sizes differ from the designed split by more than chance, and the analysis carries on.",
        "explanation": "The test was designed 50/50 but the arm counts differ by far more than chance "
        "allows: the cell's own chi-square p-value is tiny, and the notebook carries on to the readout.",
        "why_it_matters": "An SRM means assignment or logging lost users unevenly; the lost users are "
        "rarely random (here, treatment customers who did not renew), so every comparison is biased.",
        "how_to_fix": "Test the split (chi-square against the design) before any readout; on a mismatch, "
        "stop, find the cause in assignment or logging, and re-run or repair the data.",
    },
    "peeking": {
        "title": "Peeking / optional stopping",
        "summary": "The test is stopped the first time the p-value crosses 0.05, instead of at its planned end.",
        "explanation": "The readout uses the assignments up to the first day the cumulative p-value was "
        "below 0.05 (the monitoring loop's stop day), though the design fixed a 28-day test analysed once.",
        "why_it_matters": "Checking repeatedly and stopping on significance inflates the false positive "
        "rate well above 5% and overstates the effect (winner's curse).",
        "how_to_fix": "Analyse at the pre-registered horizon, or use a sequential method built for "
        "interim looks (alpha spending, group-sequential or always-valid p-values).",
    },
    "survivorship-bias": {
        "title": "Survivorship / selection bias",
        "summary": "An outcome is compared only among units that survived a step the treatment itself changes.",
        "explanation": "Revenue is compared among customers who renewed, but the offer changes who "
        "renews: it keeps marginal customers that control loses, and it discounts their first month. "
        "The design names revenue per assigned customer.",
        "why_it_matters": "The renewers of each arm are different populations, so the comparison is not "
        "randomised any more and can even flip sign against the revenue per assigned customer.",
        "how_to_fix": "Compare all assigned customers (intention to treat), counting non-renewers as zero "
        "revenue, as pre-registered.",
    },
    "multiple-comparisons": {
        "title": "Unadjusted multiple comparisons",
        "summary": "Many segment tests are each read at p < 0.05, with no correction, and the hits are acted on.",
        "explanation": "Twelve region-by-plan segments are each tested at 0.05 and the 'significant' ones "
        "are singled out by their raw p-values; the Benjamini-Hochberg column computed beside them is not used.",
        "why_it_matters": "With twelve tests about one false positive in two runs is expected even when "
        "the effect is the same everywhere, so the 'winning' segments are largely noise.",
        "how_to_fix": "Pre-register the few segments that matter, adjust for the number of tests (Holm or "
        "Benjamini-Hochberg) and treat segment differences as hypotheses for a follow-up test.",
    },
}
DEFECT_IDS = tuple(DEFECT_CATALOGUE)
# Each step's cell title, one phrasing per seed; titles name the step, never whether it is flawed.
STEP_TITLES: dict[str, tuple[str, ...]] = {
    "target-leakage": ("Features", "Feature set", "Model inputs"),
    "random-split-on-time": ("Train/test split", "Holdout", "Hold out the test rows"),
    "preprocessing-on-full-data": ("Impute and scale", "Preprocessing", "Fill gaps and standardise"),
    "eval-on-train": ("Model performance", "How good is the model?", "Headline AUC"),
    "metric-mismatch": ("Is it good enough for the care team?", "Go-live check", "Ready to hand over?"),
    "ignored-srm": ("Sample sizes", "Arm sizes", "Assignment check"),
    "peeking": ("Primary metric: renewal rate", "Renewal readout", "Did the offer lift renewals?"),
    "survivorship-bias": ("Secondary metric: revenue per customer", "Revenue", "Revenue readout"),
    "multiple-comparisons": ("Where does the offer work?", "Segments", "Segment readout"),
}
# Variable names a seed draws from. A step's deciding slot (see `_bindings`) is filled with one of two
# names drawn from the same pool, so no name says by itself which role it plays: the cell that
# defines it does (the split line, the loop, the assignment above the slot).
NAME_POOLS: dict[str, tuple[str, ...]] = {
    "cust": ("customers", "accounts", "snapshots", "renewals"),
    "expt": ("experiment", "offer_test", "ab", "trial"),
    "feats": ("FEATURES", "feature_cols", "predictors", "inputs"),
    "model": ("model", "clf", "churn_model", "logit"),
    "scaled": ("_s", "_z", "_std", "_scaled"),
    # The full, training and test rows: three distinct picks, X and y names paired.
    "matrices": ("X", "X1", "X2", "Xa", "Xb", "X_rows", "X_part", "X_m"),
    # The four go-live numbers: accuracy, its everyone-renews baseline, churners reached, the bar.
    "metric_prefix": ("m", "k", "v", "r"),
    # The monitoring loop's day and the test's last day.
    "days": ("day", "stop", "cutoff", "until", "end", "last"),
    # All assigned customers and the renewers.
    "frames": ("pool", "cohort", "base", "subset", "panel", "group"),
    # The segments' raw and Benjamini-Hochberg p-value columns.
    "pcols": ("p", "pv", "pval", "p_seg", "p_test", "prob"),
}
FEATURE_COLUMNS = (
    "tenure_months",
    "monthly_spend",
    "logins_30d",
    "support_tickets_90d",
    "discount_used",
    "retention_call_logged",
    "plan_plus",
    "plan_pro",
)
MIN_DEFECTS, MAX_DEFECTS = 3, 5
MIN_SIZE = 1000
FIRST_ID_LOW, FIRST_ID_HIGH = 100_000, 900_000
MONTHS = np.array(pd.date_range("2024-07-01", periods=12, freq="MS").strftime("%Y-%m-%d"))
PRICE_CHANGE_MONTH = 8  # index of 2025-03: the basic plan's price went up
SNAPSHOT_TO_RENEWAL_DAYS = 60
TEST_DAYS = 28
TEST_DATES = np.array(pd.date_range("2025-03-03", periods=TEST_DAYS, freq="D").strftime("%Y-%m-%d"))
PLANS, PLAN_MIX, PLAN_PRICE = ("basic", "plus", "pro"), (0.5, 0.35, 0.15), (12.0, 25.0, 49.0)
REGIONS = ("north", "south", "east", "west")
READOUTS = ("peeking", "survivorship-bias", "multiple-comparisons")


def first_customer_id(seed: int) -> int:
    """The seed's first customer_id: a six-digit hash of the seed, which tells nothing about the plan."""
    digest = hashlib.sha256(f"review-leakage:{int(seed)}".encode()).digest()
    return FIRST_ID_LOW + int.from_bytes(digest[:8], "big") % (FIRST_ID_HIGH - FIRST_ID_LOW)


@dataclass(frozen=True)
class Plan:
    """What a seed plants and how the notebook is written: defects, layout, names and titles."""

    defects: tuple[str, ...]
    model_first: bool
    optional_cells: tuple[str, ...]
    names: dict[str, str]
    titles: dict[str, str]
    feature_order: tuple[str, ...]
    readout_order: tuple[str, ...]


def plan_for_seed(seed: int) -> Plan:
    """The notebook plan drawn from the seed."""
    rng = np.random.default_rng([int(seed), 1])
    count = int(rng.integers(MIN_DEFECTS, MAX_DEFECTS + 1))
    chosen = sorted(int(i) for i in rng.choice(len(DEFECT_IDS), size=count, replace=False))
    model_first = bool(rng.random() < 0.5)
    optional = tuple(key for key in _OPTIONAL_CELLS if rng.random() < 0.5)
    titles = {step: phrasings[int(rng.integers(len(phrasings)))] for step, phrasings in STEP_TITLES.items()}
    feature_order = tuple(FEATURE_COLUMNS[int(i)] for i in rng.permutation(len(FEATURE_COLUMNS)))
    readout_order = tuple(READOUTS[int(i)] for i in rng.permutation(len(READOUTS)))
    return Plan(
        defects=tuple(DEFECT_IDS[i] for i in chosen),
        model_first=model_first,
        optional_cells=optional,
        names=_draw_names(rng),
        titles=titles,
        feature_order=feature_order,
        readout_order=readout_order,
    )


def _draw_names(rng: np.random.Generator) -> dict[str, str]:
    """One draw of the seed's variable names (the template placeholders)."""

    def one(role: str) -> str:
        pool = NAME_POOLS[role]
        return pool[int(rng.integers(len(pool)))]

    def distinct(role: str, count: int) -> list[str]:
        pool = NAME_POOLS[role]
        return [pool[int(i)] for i in rng.choice(len(pool), size=count, replace=False)]

    suffix = one("scaled")
    full, train, test = distinct("matrices", 3)
    prefix = one("metric_prefix")
    acc, base, reach, bar = (f"{prefix}{int(i) + 1}" for i in rng.permutation(4))
    loop_day, end_day = distinct("days", 2)
    everyone, renewers = distinct("frames", 2)
    raw, adjusted = distinct("pcols", 2)
    return {
        "cust": one("cust"),
        "expt": one("expt"),
        "feats": one("feats"),
        "model": one("model"),
        "X": full,
        "y": "y" + full[1:],
        "Xtr": train,
        "ytr": "y" + train[1:],
        "Xte": test,
        "yte": "y" + test[1:],
        "Xtr_s": train + suffix,
        "Xte_s": test + suffix,
        "acc": acc,
        "base": base,
        "reach": reach,
        "bar": bar,
        "loop_day": loop_day,
        "end_day": end_day,
        "everyone": everyone,
        "renewers": renewers,
        "pcol": raw,
        "qcol": adjusted,
    }


def _bindings(plan: Plan) -> dict[str, str]:
    """The names that decide whether a step is flawed: the only place the plan's defects enter the text."""
    n, planted = plan.names, set(plan.defects)
    flawed = {
        "fit_on": (n["X"], n["Xtr"]),
        "Xev": (n["Xtr_s"], n["Xte_s"]),
        "yev": (n["ytr"], n["yte"]),
        "lhs": (n["acc"], n["reach"]),
        "rhs": (n["base"], n["bar"]),
        "until": (n["loop_day"], n["end_day"]),
        "frame": (n["renewers"], n["everyone"]),
        "decide": (n["pcol"], n["qcol"]),
    }
    step_of = {
        "fit_on": "preprocessing-on-full-data",
        "Xev": "eval-on-train",
        "yev": "eval-on-train",
        "lhs": "metric-mismatch",
        "rhs": "metric-mismatch",
        "until": "peeking",
        "frame": "survivorship-bias",
        "decide": "multiple-comparisons",
    }
    chosen = {key: pair[0] if step_of[key] in planted else pair[1] for key, pair in flawed.items()}
    feature_list = ",\n    ".join(f'"{column}"' for column in plan.feature_order)
    return {**n, **chosen, "feature_list": feature_list}


# --- The flawed notebook's cells -------------------------------------------------------------
# Sources below follow the title line and are string.Template texts: $name is one of the seed's
# names (see `_names`) or a binding (see `_bindings`). A step's text is the same flawed or correct.

_INTRO = """\
**Author:** growth analytics · **Status:** draft for the retention steering meeting

Two questions for the meeting:

1. **Whom should customer care call?** Care can make retention calls to about **20% of the customers
   up for renewal each month**. We want a model that ranks each month's renewals by churn risk, 60 days
   ahead, so those calls reach as many would-be churners as possible. It goes live next quarter.
2. **Should we roll out the renewal offer?** (20% off the next month, shown on the manage-subscription
   page.) Pre-registered design: 50/50 split, 28 days from 3 March 2025, one analysis at the end.
   Primary metric: renewal rate. Secondary: revenue over the next six months **per assigned customer**."""

_DATA = """\
`customers.csv`: one row per customer whose plan came up for renewal between July 2024 and June 2025;
features are as of `snapshot_date`, 60 days before the renewal date.

| column | meaning |
|---|---|
| `customer_id` | row id of the warehouse export |
| `snapshot_date` | first day of the month of the snapshot |
| `plan`, `region` | plan (basic / plus / pro; basic went up in price in March 2025) and sales region |
| `tenure_months` | months since signup, at the snapshot |
| `monthly_spend` | average monthly bill over the 3 months before the snapshot (missing for some legacy accounts) |
| `logins_30d`, `support_tickets_90d` | logins in the 30 days and tickets in the 90 days before the snapshot |
| `discount_used` | 1 if the customer had any discount in the year before the snapshot |
| `retention_call_logged` | 1 if care logged a retention call with the customer (customers mostly phone when they want to cancel) |
| `retention_call_date` | the date of that call (empty when there was none) |
| `churned` | 1 if the customer did not renew |

`experiment.csv`: one row per customer assigned in the renewal-offer test: `customer_id`, `assigned_date`,
`arm` (control / treatment), `region`, `plan`, `renewed` (1 if renewed), `revenue_6m` (revenue in the
six months after the renewal date; 0 for customers who did not renew)."""

_SETUP = """\
import numpy as np
import pandas as pd
from scipy import stats
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

$cust = pd.read_csv("customers.csv", parse_dates=["snapshot_date", "retention_call_date"])
$expt = pd.read_csv("experiment.csv", parse_dates=["assigned_date"])
print($cust.shape, $expt.shape)"""

# target-leakage: planted by the data (calls dated between the snapshot and the renewal).
_FEATURES = """\
$feats = [
    $feature_list,
]
model_df = pd.get_dummies($cust, columns=["plan"], dtype=float)
$X = model_df[$feats]
$y = model_df["churned"]
print(f"{len($X)} rows, churn rate {$y.mean():.3f}")"""

# random-split-on-time: planted by the data (rows in customer-id order, not snapshot order).
_SPLIT = """\
# The last quarter of the rows is the holdout.
$Xtr, $Xte, $ytr, $yte = train_test_split($X, $y, test_size=0.25, shuffle=False)
months = $cust.loc[$Xte.index, "snapshot_date"].dt.strftime("%Y-%m")
print(f"train {len($Xtr)} rows, test {len($Xte)} rows from {months.nunique()} snapshot months")"""

_SCALE = """\
print(f"{int($X.isna().sum().sum())} missing values to fill")
medians = $fit_on.median()
scaler = StandardScaler().fit($fit_on.fillna(medians))
$Xtr_s = scaler.transform($Xtr.fillna(medians))
$Xte_s = scaler.transform($Xte.fillna(medians))"""

_FIT = """\
$model = LogisticRegression(max_iter=1000)
$model.fit($Xtr_s, $ytr)
pd.Series($model.coef_[0], index=$feats).sort_values().round(3)"""

_PERFORMANCE = """\
scores = $model.predict_proba($Xev)[:, 1]
print(f"AUC: {roc_auc_score($yev, scores):.3f}")"""

_CAPACITY = """\
test_scores = pd.Series($model.predict_proba($Xte_s)[:, 1], index=$Xte.index)
month = $cust.loc[$Xte.index, "snapshot_date"]
called = test_scores.groupby(month).rank(ascending=False, pct=True) <= 0.2
$acc = accuracy_score($yte, test_scores > 0.5)
$base = 1 - $yte.mean()  # accuracy of predicting that everyone renews
$reach = $yte[called].sum() / $yte.sum()  # share of churners reached by calling the top 20%
$bar = 0.4  # twice what calling 20% at random reaches
print(f"accuracy {$acc:.3f} (everyone renews: {$base:.3f}); churners reached by the calls {$reach:.1%}")
ready = $lhs > $rhs
print("ready to hand to the care team:", ready)"""

# ignored-srm: planted by the data (an arm loses users); the cell reports the test and carries on.
_SRM = """\
counts = $expt["arm"].value_counts()
srm = stats.chisquare(counts[["control", "treatment"]])
print(counts.to_dict(), f"treatment share {counts['treatment'] / counts.sum():.3f}, SRM p = {srm.pvalue:.2g}")
# On to the readout."""

_READOUT = """\
# Daily monitoring: the first day the cumulative renewal difference reached p < 0.05.
for $loop_day in sorted($expt["assigned_date"].unique()):
    so_far = $expt[$expt["assigned_date"] <= $loop_day]
    if stats.chi2_contingency(pd.crosstab(so_far["arm"], so_far["renewed"]))[1] < 0.05:
        break
print("first reached p < 0.05 with assignments up to", pd.Timestamp($loop_day).date())

$end_day = $expt["assigned_date"].max()
final = $expt[$expt["assigned_date"] <= $until]
rates = final.groupby("arm")["renewed"].mean()
n = final["arm"].value_counts()
p_value = stats.chi2_contingency(pd.crosstab(final["arm"], final["renewed"]))[1]
lift = rates["treatment"] - rates["control"]
se = np.sqrt((rates * (1 - rates) / n).sum())
print(f"{len(final)} customers; renewal control {rates['control']:.3f}, treatment {rates['treatment']:.3f}")
print(f"lift {lift:+.3f} (95% CI {lift - 1.96 * se:+.3f} to {lift + 1.96 * se:+.3f}), p = {p_value:.4f}")"""

_REVENUE = """\
$everyone = $expt
$renewers = $expt[$expt["renewed"] == 1]
print(f"{len($renewers)} of {len($everyone)} assigned customers renewed")
revenue = $frame.groupby("arm")["revenue_6m"].agg(["mean", "sem", "size"])
print(revenue.round(2))
print(f"difference: {revenue.loc['treatment', 'mean'] - revenue.loc['control', 'mean']:+.2f} per customer")"""

_SEGMENTS = """\
rows = []
for (region, plan), seg in $expt.groupby(["region", "plan"]):
    seg_rates = seg.groupby("arm")["renewed"].mean()
    rows.append({"region": region, "plan": plan, "n": len(seg),
                 "lift": seg_rates["treatment"] - seg_rates["control"],
                 "$pcol": stats.chi2_contingency(pd.crosstab(seg["arm"], seg["renewed"]))[1]})
segments = pd.DataFrame(rows)
segments["$qcol"] = stats.false_discovery_control(segments["$pcol"])  # Benjamini-Hochberg
segments["significant"] = segments["$decide"] < 0.05  # roll out here first
segments.sort_values("$pcol").round(3)"""

# Each step's template; which of them are flawed is decided by the data and `_bindings` only.
STEP_TEMPLATES: dict[str, str] = {
    "target-leakage": _FEATURES,
    "random-split-on-time": _SPLIT,
    "preprocessing-on-full-data": _SCALE,
    "eval-on-train": _PERFORMANCE,
    "metric-mismatch": _CAPACITY,
    "ignored-srm": _SRM,
    "peeking": _READOUT,
    "survivorship-bias": _REVENUE,
    "multiple-comparisons": _SEGMENTS,
}

_OPTIONAL_CELLS: dict[str, tuple[str, str, str]] = {
    "churn-by-month": (
        "code",
        "Churn rate by month and plan",
        """\
($cust.assign(month=$cust["snapshot_date"].dt.strftime("%Y-%m"))
    .pivot_table(index="month", columns="plan", values="churned", aggfunc="mean")
    .round(3))""",
    ),
    "calls-vs-churn": (
        "code",
        "Retention calls and churn",
        """\
# Descriptive only: how often churners and renewers had a retention call.
$cust.groupby("churned")["retention_call_logged"].agg(["mean", "size"]).round(3)""",
    ),
    "daily-assignments": (
        "code",
        "Daily assignments",
        """\
daily = $expt.groupby([$expt["assigned_date"].dt.date, "arm"]).size().unstack()
daily.describe().round(1)""",
    ),
}


def _section_cells(plan: Plan) -> tuple[list[tuple], list[tuple]]:
    """The model and experiment sections as (cell type, title, source, defect or None) tuples."""
    bound = _bindings(plan)

    def step(defect: str) -> tuple[str, str, str, str | None]:
        source = Template(STEP_TEMPLATES[defect]).substitute(bound)
        return ("code", plan.titles[defect], source, defect if defect in plan.defects else None)

    def optional(key: str) -> list[tuple]:
        kind, title, source = _OPTIONAL_CELLS[key]
        return [(kind, title, Template(source).substitute(bound), None)] if key in plan.optional_cells else []

    model = [
        (
            "markdown",
            "Part 1: churn model",
            "Logistic regression on the snapshot features; evaluated for the care team's calling capacity.",
            None,
        ),
        *optional("churn-by-month"),
        *optional("calls-vs-churn"),
        step("target-leakage"),
        step("random-split-on-time"),
        step("preprocessing-on-full-data"),
        ("code", "Fit", Template(_FIT).substitute(bound), None),
        step("eval-on-train"),
        step("metric-mismatch"),
    ]
    experiment = [
        ("markdown", "Part 2: renewal-offer test", "Readout of the 28-day test of the renewal offer.", None),
        *optional("daily-assignments"),
        step("ignored-srm"),
        *(step(defect) for defect in plan.readout_order),
    ]
    return model, experiment


def _cells_for_seed(seed: int) -> list[dict[str, object]]:
    plan = plan_for_seed(seed)
    model, experiment = _section_cells(plan)
    body = [*model, *experiment] if plan.model_first else [*experiment, *model]
    summary = (
        "Recommendations for the steering meeting: hand care a monthly list of the top 20% by "
        "churn score from next quarter, and decide the offer's rollout from the readout and the "
        "segment table above."
    )
    ordered = [
        ("markdown", "Churn model and renewal-offer test: Q2 review", _INTRO, None),
        ("markdown", "Data", _DATA, None),
        ("code", "Setup", Template(_SETUP).substitute(plan.names), None),
        *body,
        ("markdown", "Summary", summary, None),
    ]
    cells = []
    for position, (cell_type, title, source, defect) in enumerate(ordered, start=1):
        label = f"C{position}"
        heading = ("#" if position == 1 else "##") if cell_type == "markdown" else "#"
        digest = hashlib.sha256(f"review-leakage:{first_customer_id(seed)}:{position}".encode()).hexdigest()
        cells.append(
            {
                "label": label,
                "cell_type": cell_type,
                "title": title,
                "source": f"{heading} [{label}] {title}\n{source}",
                "defect": defect,
                "id": digest[:12],
            }
        )
    return cells


def flawed_cells(seed: int) -> list[dict[str, object]]:
    """The seed's flawed notebook as cells: label, cell_type, title, source, defect (id or None), id."""
    return _cells_for_seed(seed)


def _key_from_cells(cells: list[dict[str, object]]) -> list[str]:
    return sorted(f"{cell['label']}:{cell['defect']}" for cell in cells if cell["defect"])


def _customers(rng: np.random.Generator, first_id: int, n: int, defects: tuple[str, ...]) -> pd.DataFrame:
    """Monthly renewal cohorts; basic-plan churn rises after the price change (drift over time).

    With target leakage planted, retention calls are logged between the snapshot and the renewal
    (mostly churners phoning to cancel); without it they happened in the 90 days before the snapshot
    and say little. With the random split planted, the rows come in customer-id order, and ids were
    given in no particular month order; otherwise rows and ids follow the snapshot months.
    """
    month_index = np.sort(rng.choice(len(MONTHS), size=n, p=np.linspace(0.8, 1.2, len(MONTHS)) / 12.0))
    plan = rng.choice(len(PLANS), size=n, p=PLAN_MIX)
    tenure = np.minimum(1 + rng.geometric(1 / 20, size=n), 120)
    spend = np.round(np.asarray(PLAN_PRICE)[plan] * rng.lognormal(0.0, 0.15, size=n), 2)
    spend[rng.random(n) < 0.04] = np.nan
    engagement = rng.lognormal(0.0, 0.5, size=n)
    logins = rng.poisson(12 * engagement)
    tickets = rng.poisson(0.5 + 0.9 * (engagement < 0.7))
    discount = (rng.random(n) < 0.2).astype(int)
    after_change = month_index >= PRICE_CHANGE_MONTH
    logit = (
        -2.0
        + 0.5 * (plan == 0)
        - 0.4 * (plan == 2)
        - 0.02 * tenure
        - 0.07 * (logins - 12)
        + 0.35 * tickets
        + 0.4 * discount
        + 0.9 * (after_change & (plan == 0))
    )
    churned = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    leak = "target-leakage" in defects
    call_draw, offset_draw = rng.random(n), rng.random(n)
    called = (call_draw < (np.where(churned == 1, 0.55, 0.04) if leak else np.where(churned == 1, 0.1, 0.06))).astype(
        int
    )
    offset_days = 1 + (offset_draw * (SNAPSHOT_TO_RENEWAL_DAYS - 1)).astype(int) if leak else -(1 + (offset_draw * 89))
    snapshot = pd.to_datetime(MONTHS[month_index])
    call_date = (snapshot + pd.to_timedelta(np.asarray(offset_days, dtype=int), unit="D")).strftime("%Y-%m-%d")
    ids = first_id + (rng.permutation(n) if "random-split-on-time" in defects else np.arange(n))
    frame = pd.DataFrame(
        {
            "customer_id": ids,
            "snapshot_date": MONTHS[month_index],
            "plan": np.asarray(PLANS)[plan],
            "region": rng.choice(REGIONS, size=n),
            "tenure_months": tenure,
            "monthly_spend": spend,
            "logins_30d": logins,
            "support_tickets_90d": tickets,
            "discount_used": discount,
            "retention_call_logged": called,
            "retention_call_date": np.where(called == 1, np.asarray(call_date), None),
            "churned": churned,
        }
    )
    return frame.sort_values("customer_id").reset_index(drop=True)


def _experiment(rng: np.random.Generator, n: int, srm: bool) -> pd.DataFrame:
    """The offer test: a homogeneous +4 point renewal lift; an SRM drops treatment non-renewers."""
    day = rng.integers(0, TEST_DAYS, size=n)
    # A near-even split by construction (chi-square p >= 0.32 on every seed): only a planted SRM shows.
    treated = np.zeros(n, dtype=bool)
    treated[: n // 2 + int(rng.integers(-int(n**0.5) // 2, int(n**0.5) // 2 + 1))] = True
    treated = rng.permutation(treated)
    plan = rng.choice(len(PLANS), size=n, p=PLAN_MIX)
    renew_p = np.array([0.66, 0.72, 0.78])[plan] + 0.04 * treated
    renewed = (rng.random(n) < renew_p).astype(int)
    months_paid = 6.0 - 0.2 * treated
    revenue = renewed * np.asarray(PLAN_PRICE)[plan] * months_paid * rng.lognormal(0.0, 0.2, size=n)
    frame = pd.DataFrame(
        {
            # Distinct ids: one per bucket of seven, in shuffled order.
            "customer_id": 1_000_000 + 7 * rng.permutation(n) + rng.integers(0, 7, size=n),
            "assigned_date": TEST_DATES[day],
            "arm": np.where(treated, "treatment", "control"),
            "region": rng.choice(REGIONS, size=n),
            "plan": np.asarray(PLANS)[plan],
            "renewed": renewed,
            "revenue_6m": np.round(revenue, 2),
        }
    )
    if srm:
        # The offer page failed on old app versions, and those sessions (mostly customers on their
        # way out) were never logged: the treatment loses users, and not at random.
        lost = treated & (rng.random(n) < np.where(renewed == 1, 0.10, 0.5))
        frame = frame[~lost]
    return frame.sort_values(["assigned_date", "customer_id"]).reset_index(drop=True)


def generate(seed: int, size: int) -> dict[str, pd.DataFrame]:
    """The data the flawed analysis runs on: `customers` (churn model) and `experiment` (offer test).

    :raises ValueError: when size is below MIN_SIZE (segments would be too thin to analyse).
    """
    if size < MIN_SIZE:
        raise ValueError(f"size must be at least {MIN_SIZE}, got {size}")
    defects = plan_for_seed(seed).defects
    rng = np.random.default_rng([int(seed), 2])
    customers = _customers(rng, first_customer_id(seed), size, defects)
    experiment = _experiment(rng, size, "ignored-srm" in defects)
    return {"customers": customers, "experiment": experiment}


def _first_id_in(data: dict[str, pd.DataFrame]) -> int:
    return int(data["customers"]["customer_id"].min())


def hidden(seed: int, size: int) -> dict[str, pd.DataFrame]:
    """`planted_flags`: the seed's '<cell label>:<defect id>' flags, kept by the grader and never shipped."""
    return {"planted_flags": pd.DataFrame({"flag": _key_from_cells(_cells_for_seed(seed))})}


def answer_key(data: dict[str, pd.DataFrame], hidden: dict[str, pd.DataFrame]) -> dict[str, object]:
    """`flagged_defects`: the sorted flags planted in this seed's notebook (from the hidden frame)."""
    return {"flagged_defects": sorted(str(flag) for flag in hidden["planted_flags"]["flag"])}


def planted(seed: int, size: int) -> dict[str, object]:
    """The seed's defects with their cells, the notebook layout and the observed treatment share."""
    plan = plan_for_seed(seed)
    cells = _cells_for_seed(seed)
    arms = generate(seed, size)["experiment"]["arm"]
    return {
        "defects": {cell["defect"]: cell["label"] for cell in cells if cell["defect"]},
        "flagged_defects": _key_from_cells(cells),
        "model_section_first": plan.model_first,
        "optional_cells": list(plan.optional_cells),
        "cell_count": len(cells),
        "treatment_share": round(float((arms == "treatment").mean()), 4),
    }


def guide(seed: int, size: int) -> list[str]:
    """The interviewer guide for a seed: the defects planted in its notebook, in cell order (markdown)."""
    facts = planted(seed, size)
    defects = facts["defects"]
    lines = [
        f"{len(defects)} defects planted in this candidate's `analysis.ipynb` ({facts['cell_count']} cells): "
        f"{', '.join(f'`{label}:{defect}`' for defect, label in defects.items())}. Every other step cell is "
        "done correctly: a flag there is a false flag.",
    ]
    for defect, label in defects.items():
        entry = DEFECT_CATALOGUE[defect]
        lines.append(
            f"**{label}: {entry['title']}** (`{defect}`): {entry['summary']} A strong answer says what it "
            f"changes: {entry['why_it_matters']}"
        )
    lines.append(
        f"Treatment share in `experiment.csv`: {facts['treatment_share']:.1%} of users. A strong `most_severe` "
        "answer picks the defect that moves the steering meeting's decision and backs it with a re-run number."
    )
    return lines


def analysis_notebook(seed: int) -> bytes:
    """The seed's flawed notebook as nbformat v4.5 JSON bytes, stable for a given seed."""
    cells = []
    for cell in flawed_cells(seed):
        entry = {"cell_type": cell["cell_type"], "id": cell["id"], "metadata": {}, "source": cell["source"]}
        if cell["cell_type"] == "code":
            entry.update(execution_count=None, outputs=[])
        cells.append(entry)
    notebook = {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return (json.dumps(notebook, sort_keys=True, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def extra_files(seed: int, data: dict[str, pd.DataFrame]) -> dict[str, bytes]:
    """{"analysis.ipynb": the flawed notebook} for this seed.

    :raises ValueError: when `data` was generated for another seed.
    """
    if _first_id_in(data) != first_customer_id(seed):
        raise ValueError(f"data was not generated for seed {seed}")
    return {"analysis.ipynb": analysis_notebook(seed)}
