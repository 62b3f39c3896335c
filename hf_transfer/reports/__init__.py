"""What a user reads: a run's report and the comparison of runs (run_report.py), its sections (the domain-adaptation
one: adaptation_report.py with adaptation_stats.py and adaptation_figures.py; the label-efficiency curve:
label_efficiency_report.py), calibration tables (calibration_report.py), the model card (model_card.py), and the
reports of `hf-transfer rank` and `hf-transfer evaluate` (rank_report.py, evaluation_report.py).

A new section of the comparison report is a module with KEY, table(runs) and write_section(table, runs, out),
listed in run_report.SECTIONS; a method's own lines in the domain-adaptation section are a function of its
strategy file, decorated with strategies.registry.report_section.
"""
