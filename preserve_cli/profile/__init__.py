"""Profile stage: what one serving instance (GPU type x model x TP) can serve within the SLO.

catalog.py (+ catalog/*.yaml) holds sourced GPU and model specs, hf_config.py reads a Hugging
Face config.json. The default capacity model runs ONNX operator-time predictors trained on
measured timings: operators.py (operator shapes), measurements.py (vidur-layout CSVs),
predictor_graph.py (the ONNX graph), training.py (`profile train` / `profile fit`),
predictor_set.py (loading and running the shipped predictors/ folder), network.py (TP
all-reduce), iteration.py (one iteration's time), predicted.py (capacity sweep), exports/
(Dynamo, AIBrix). first_order.py is the analytical roofline model (`--method first-order`),
sweep.py runs either over a GPU x model x TP grid, schema.py reads and writes capacity.yaml.
"""
