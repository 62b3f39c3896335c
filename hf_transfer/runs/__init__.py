"""Running a config: one start and one finish for every kind of run (pipeline.py), the kinds (loop_run.py
trains, fitted_run.py fits a baseline, posthoc_run.py adjusts a trained model), and what they share: the run
folder's rules (run_folder.py), the environment, logging and evaluation (environment.py), class weights,
checkpoints, signals, the optimizer and schedule (optim.py), the logistic regression on features (logreg.py),
and launching configs and recipes (launch.py)."""
