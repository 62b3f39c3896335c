"""Running a config. pipeline.py runs one through its kind (KINDS: loop_run.py trains, fitted_run.py fits a
baseline, posthoc_run.py adjusts a trained model); every kind takes the same steps (lifecycle.py: start,
open_folder, finish), builds metrics.json and closes the same way (outputs.py: the schema and the closing
sequence), and shares scoring (scoring.py), the machine (machine.py), train.log (logs.py), class weights,
checkpoints, signals, the optimizer and schedule (optim.py), the temperature (calibrate.py) and the logistic
regression on features (logreg.py); sequence.py runs several configs and compares them.

A new run kind is a module with `run(cfg, strategy, start)` and an entry in pipeline.KINDS.
"""
