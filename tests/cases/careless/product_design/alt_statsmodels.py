# ruff: noqa: F821
# kind: correct
# Correct, by other means: shares by value_counts and unique accounts, the metric from the cost-weighted
# takeover share, statsmodels' power solver (arcsine effect size), the leak found as the snapshot column
# whose values at login time (the holdout) look least like the training snapshot, and a standardised
# logistic regression on the raw columns.
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize

# %% answer: base_rate
base_rate = float(logins["is_ato"].value_counts(normalize=True).get(1, 0.0))

# %% answer: metric_choice
policy = decision_policy.iloc[0]
weighted = base_rate * policy["cost_missed_takeover"]
share = weighted / (weighted + (1 - base_rate) * policy["cost_needless_challenge"])
if policy["score_use"] == "probability":
    metric_choice = "log_loss"
else:
    metric_choice = "roc_auc" if share >= 0.5 else "pr_auc"

# %% answer: account_ato_rate
compromised = logins.loc[logins["is_ato"] == 1, "account_id"].unique()
account_ato_rate = len(compromised) / logins["account_id"].nunique()

# %% answer: sample_size_per_arm
plan = experiment_plan.iloc[0]
effect = proportion_effectsize(account_ato_rate, account_ato_rate * (1 - plan["relative_mde"]))
n = NormalIndPower().solve_power(
    effect_size=effect, alpha=plan["alpha"], power=plan["power"], ratio=1.0, alternative="two-sided"
)
sample_size_per_arm = float(math.ceil(n))

# %% answer: leaky_feature
snapshot = feature_catalog.loc[feature_catalog["as_of"].str.startswith("export date"), "feature"]
skew = {c: abs(holdout_logins[c].mean() - logins[c].mean()) / logins[c].std() for c in snapshot}
leaky_feature = max(skew, key=skew.get)

# %% answer: holdout_predictions
features = [c for c in feature_catalog["feature"] if c != leaky_feature]
model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
model.fit(logins[features], logins["is_ato"])
scores = model.predict_proba(holdout_logins[features])[:, 1]
holdout_predictions = dict(zip(holdout_logins["login_id"], scores, strict=True))
