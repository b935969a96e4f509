# ruff: noqa: F821, E402
# kind: careless
# breaks: account_ato_rate, sample_size_per_arm
# Careless: the experiment's baseline taken from logins (the base rate), though the plan randomises
# accounts and its metric is per account; the sample size inherits it.
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
account_ato_rate = base_rate

# %% answer: sample_size_per_arm
plan = experiment_plan.iloc[0]
p1, p2 = account_ato_rate, account_ato_rate * (1 - plan["relative_mde"])
p_bar = (p1 + p2) / 2
z_a, z_b = stats.norm.ppf(1 - plan["alpha"] / 2), stats.norm.ppf(plan["power"])
root = z_a * math.sqrt(2 * p_bar * (1 - p_bar)) + z_b * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
sample_size_per_arm = float(math.ceil(root**2 / (p1 - p2) ** 2))

# %% answer: leaky_feature
n_pos, n_neg = is_ato.sum(), (~is_ato).sum()


def separation(column):
    ranks = logins[column].rank()
    auc = (ranks[is_ato].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return abs(auc - 0.5)


leaky_feature = max(feature_catalog["feature"], key=separation)

# %% answer: holdout_predictions
from sklearn.linear_model import LogisticRegression

features = [c for c in feature_catalog["feature"] if c != leaky_feature]


def design(frame):
    x = frame[features].astype(float)
    for column in ("hours_since_last_login", "password_age_days"):
        x[column] = np.log1p(x[column])
    return x


model = LogisticRegression(max_iter=1000).fit(design(logins), logins["is_ato"])
holdout_predictions = model.predict_proba(design(holdout_logins))[:, 1].tolist()
