"""The training loop around the step: the Trainer (trainer.py) and its state (trainstate.py), where the step
runs (placement.py: one process, DDP, a CUDA graph), the process it lives in (process.py: seeds,
MKL, devices, signals), threads, progress and the callbacks that write the run folder.
"""
