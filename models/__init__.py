"""Model side of aecnn-sim: datasets, split ResNet-50, AECNN and baselines, training and profiling.

Needs the ``models`` extra (torch, torchvision, constriction, pillow). The simulator in ``sim``
never imports this package; the two meet only through a profile folder on disk.
"""
