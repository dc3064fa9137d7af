"""The GAN itself: its networks (models.py), the step that trains them (algorithm.py), drawing from G
(sampling.py) and exporting it (export.py). Nothing here knows of files, devices or processes.
"""
