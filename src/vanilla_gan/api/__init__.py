"""What a Python user calls: vg.train (train.py), the training session it shares with the command line
(session.py), a trained run (run.py: vg.load) and the shipped weights as one (pretrained.py).
"""
