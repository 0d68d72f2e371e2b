"""Data for RecBole: window-grouped training batches, the video-aware sampler, the generated default datasets."""
