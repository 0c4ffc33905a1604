"""moe-workbook: by-hand worksheets and exact answer keys for Mixture-of-Experts layers.

The pipeline, one way:  spec -> generate (seeded) -> solve (exact) -> render -> write.
"""

__version__ = "0.1.0"
