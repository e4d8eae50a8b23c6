"""`xalign report`: one self-contained HTML page of a run's results (tables, pictures, flags).

results.py reads mteb result folders; series.py turns them into per-language numbers;
flags.py finds languages a model collapses on outside its declared languages; page.py writes
the HTML (Plotly with its JavaScript inlined, so the page works offline); cli.py is the command.
"""
