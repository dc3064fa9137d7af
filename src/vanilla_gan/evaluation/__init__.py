"""How good are G's images? The metric formulas (metrics.py), the evaluator that computes them with the
bundled digit classifier (evaluator.py, classifier.py), the two-sample test and the memorisation check.
"""
