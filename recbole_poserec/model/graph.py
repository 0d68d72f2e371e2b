"""The BlazePose skeleton graph used by the video side (paper Eq. 1's normalized adjacency A)."""

import numpy as np

from dataset_conversion.layout import NUM_LANDMARKS

# MediaPipe's ``mp.solutions.pose.POSE_CONNECTIONS`` (35 undirected edges), written out so that the
# model does not import MediaPipe; ``tests/test_poserec_units.py`` checks it against MediaPipe itself.
BLAZEPOSE_EDGES = (
    (0, 1), (0, 4), (1, 2), (2, 3), (3, 7), (4, 5), (5, 6), (6, 8), (9, 10), (11, 12),
    (11, 13), (11, 23), (12, 14), (12, 24), (13, 15), (14, 16), (15, 17), (15, 19), (15, 21),
    (16, 18), (16, 20), (16, 22), (17, 19), (18, 20), (23, 24), (23, 25), (24, 26), (25, 27),
    (26, 28), (27, 29), (27, 31), (28, 30), (28, 32), (29, 31), (30, 32),
)


def normalized_adjacency(num_nodes: int = NUM_LANDMARKS, edges=BLAZEPOSE_EDGES) -> np.ndarray:
    """Adjacency with self loops, normalized by column degree (A D^-1), one "uniform" partition.

    Returns a float32 array of shape (1, V, V), the layout of the authors' ``A`` buffer.
    """
    adjacency = np.eye(num_nodes, dtype=np.float64)
    for i, j in edges:
        adjacency[i, j] = adjacency[j, i] = 1.0
    column_degree = adjacency.sum(axis=0)
    return (adjacency / column_degree[None, :]).astype(np.float32)[None]
