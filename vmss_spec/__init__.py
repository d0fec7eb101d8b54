"""The command line and the checked replay: the layer above both the model
(model/) and the properties that check it (properties/).

``vmss-spec`` (vmss_spec/cli.py) replays traces with every property
checked (vmss_spec/replay.py), runs the property campaign
(vmss_spec/verify.py; its workers in vmss_spec/workers.py, its table, JSON
and progress in vmss_spec/report.py), the benchmarks (vmss_spec/bench.py), draws the
lifecycle diagrams and prints the rule index (vmss_spec/rules.py).
"""
