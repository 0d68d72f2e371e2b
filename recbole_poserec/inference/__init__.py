"""Inference for a new video: a scorer (:mod:`.scorer`) from a trained checkpoint (:mod:`.checkpoint_scorer`)
or the authors' release (:mod:`.reference_release`), chosen by :mod:`.loader`; pickled arrays are read by
:mod:`dataset_conversion.array_files`. The commands are :mod:`recbole_poserec.recommend` and :mod:`recbole_poserec.plot_items`.
"""
