"""What a user reads: a run's report and the comparison of runs (run_report.py), the domain-adaptation section
(adaptation_report.py), the model card (model_card.py), and the reports of `hf-transfer rank` and
`hf-transfer evaluate` (rank_report.py, evaluation_report.py)."""
