# ruff: noqa: F821
# kind: correct
# Correct, by other means: the metric from expected costs (is challenging an average login cheaper than
# letting it through?), statsmodels' two-proportion sample size, the leak by sklearn's per-column ROC AUC,
# and a random forest on every other column.
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import roc_auc_score
from statsmodels.stats.proportion import samplesize_proportions_2indep_onetail

label = logins["is_ato"].to_numpy()

# %% answer: base_rate
base_rate = float(np.mean(label))

# %% answer: metric_choice
policy = decision_policy.iloc[0]
let_through = base_rate * policy["cost_missed_takeover"]
challenge = (1 - base_rate) * policy["cost_needless_challenge"]
if policy["score_use"] == "probability":
    metric_choice = "log_loss"
elif challenge <= let_through:
    metric_choice = "roc_auc"
else:
    metric_choice = "pr_auc"

# %% answer: account_ato_rate
account_ato_rate = float(logins.groupby("account_id")["is_ato"].any().mean())

# %% answer: sample_size_per_arm
plan = experiment_plan.iloc[0]
p1 = account_ato_rate
p2 = p1 * (1 - plan["relative_mde"])
n = samplesize_proportions_2indep_onetail(
    p2 - p1, p1, plan["power"], ratio=1, alpha=plan["alpha"], alternative="two-sided"
)
sample_size_per_arm = float(math.ceil(n))

# %% answer: leaky_feature
auc = {c: roc_auc_score(label, logins[c]) for c in feature_catalog["feature"]}
leaky_feature = max(auc, key=lambda c: abs(auc[c] - 0.5))

# %% answer: holdout_predictions
features = [c for c in feature_catalog["feature"] if c != leaky_feature]
forest = RandomForestClassifier(n_estimators=200, min_samples_leaf=20, random_state=0, n_jobs=1)
forest.fit(logins[features], label)
holdout_predictions = forest.predict_proba(holdout_logins[features])[:, 1].tolist()
