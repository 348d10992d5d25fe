"""Profile stage: what one serving instance (GPU type x model x TP) can serve within the SLO.

catalog.py (+ catalog/*.yaml) holds sourced GPU and model specs, hf_config.py reads a Hugging
Face config.json, first_order.py is the roofline capacity model, sweep.py runs it over a
GPU x model x TP grid, schema.py reads and writes capacity.yaml.
"""
