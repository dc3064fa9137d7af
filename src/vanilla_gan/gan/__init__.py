"""The GAN itself: its networks (models.py), the step that trains them (algorithm.py) and drawing from G
(sampling.py). Nothing here knows of files, devices or processes.
"""
