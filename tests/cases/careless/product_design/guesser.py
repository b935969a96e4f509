# ruff: noqa: F821
# kind: guess
# breaks: base_rate, metric_choice, account_ato_rate, sample_size_per_arm, leaky_feature
# partial: holdout_predictions
# Careless: computes nothing right. Round numbers for the rates and the sample size, a fixed metric and
# leak, and as the risk score the column that separates the training labels best. The fixed metric and
# leak earn nothing: they count only with the base rate and the holdout scores they rest on.
is_ato = logins["is_ato"] == 1

# %% answer: base_rate
base_rate = 0.01  # "fraud is about 1%"

# %% answer: metric_choice
metric_choice = "pr_auc"

# %% answer: account_ato_rate
account_ato_rate = 0.02

# %% answer: sample_size_per_arm
sample_size_per_arm = 10000

# %% answer: leaky_feature
leaky_feature = "device_trust_score"

# %% answer: holdout_predictions
strongest = logins.drop(columns=["login_id", "account_id", "day", "is_ato"]).corrwith(logins["is_ato"]).abs().idxmax()
sign = np.sign(logins[strongest].corr(logins["is_ato"]))
holdout_predictions = (sign * holdout_logins[strongest]).tolist()
