# ruff: noqa: F821
# kind: careless
# breaks: leaky_feature
# partial: holdout_predictions
# Careless: takes the other snapshot column (`mfa_enabled`) for the leak, drops it and keeps the real leak.
from sklearn.linear_model import LogisticRegression

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
# "Read from a snapshot on the export date": that is the one that cannot be trusted.
snapshot = feature_catalog.loc[feature_catalog["as_of"].str.startswith("export date"), "feature"]
leaky_feature = "mfa_enabled" if "mfa_enabled" in set(snapshot) else str(snapshot.iloc[0])

# %% answer: holdout_predictions
features = [c for c in feature_catalog["feature"] if c != leaky_feature]


def design(frame):
    x = frame[features].astype(float)
    for column in ("hours_since_last_login", "password_age_days"):
        x[column] = np.log1p(x[column])
    return x


model = LogisticRegression(max_iter=1000).fit(design(logins), logins["is_ato"])
holdout_predictions = model.predict_proba(design(holdout_logins))[:, 1].tolist()
