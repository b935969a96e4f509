# ruff: noqa: F821
# kind: careless
# breaks: leaky_feature
# partial: holdout_predictions
# Careless: finds the leak, but keeps it in a boosted model because the holdout file has the column;
# naming it earns nothing then, since leaky_feature rests on the holdout scores it should have changed.
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

is_ato = logins["is_ato"] == 1
policy = decision_policy.iloc[0]

# %% answer: base_rate
base_rate = float(is_ato.mean())

# %% answer: metric_choice
cut_off = policy["cost_needless_challenge"] / (policy["cost_needless_challenge"] + policy["cost_missed_takeover"])
if policy["score_use"] == "probability":
    metric_choice = "log_loss"
else:
    metric_choice = "pr_auc" if cut_off > base_rate else "roc_auc"

# %% answer: account_ato_rate
account_ato_rate = float(logins.groupby("account_id")["is_ato"].max().mean())

# %% answer: sample_size_per_arm
plan = experiment_plan.iloc[0]
p1, p2 = account_ato_rate, account_ato_rate * (1 - plan["relative_mde"])
p_bar = (p1 + p2) / 2
z_a, z_b = stats.norm.ppf(1 - plan["alpha"] / 2), stats.norm.ppf(plan["power"])
root = z_a * math.sqrt(2 * p_bar * (1 - p_bar)) + z_b * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
sample_size_per_arm = float(math.ceil(root**2 / (p1 - p2) ** 2))

# %% answer: leaky_feature
separation = {c: abs(roc_auc_score(is_ato, logins[c]) - 0.5) for c in feature_catalog["feature"]}
leaky_feature = max(separation, key=separation.get)

# %% answer: holdout_predictions
# "The holdout has the column too, so the model may use it": every feature column goes in.
features = list(feature_catalog["feature"])
model = HistGradientBoostingClassifier(random_state=0).fit(logins[features], logins["is_ato"])
holdout_predictions = model.predict_proba(holdout_logins[features])[:, 1].tolist()
