"""Video side of PoseRec: an ST-GCN over the BlazePose graph (paper Eqs. 1-2, Table 6).

Spatial-temporal graph convolution (Yan, Xiong and Lin, AAAI 2018) on 3D BlazePose landmarks:
each block applies Eq. 1, g^l = A g^{l-1} W^l (a 1x1 convolution W^l, then aggregation over
the normalized adjacency A times a learned edge importance), a temporal convolution, and a
residual connection; global average pooling and the linear map of Eq. 2 give e_v.

The parameter names and shapes follow the authors' released ``best_model_pose.pt`` so that it
loads as is (see ``../shared/reference-release/README.md``).
"""

from __future__ import annotations

import torch
from torch import nn

from dataset_conversion.layout import NUM_CHANNELS, NUM_LANDMARKS
from recbole_poserec.model.graph import normalized_adjacency

# (in_channels, out_channels, temporal_stride) per block, for 1 to 4 blocks (paper Table 6).
LAYER_PLANS = {
    1: ((NUM_CHANNELS, 256, 1),),
    2: ((NUM_CHANNELS, 64, 1), (64, 256, 2)),
    3: ((NUM_CHANNELS, 64, 1), (64, 128, 2), (128, 256, 1)),
    4: ((NUM_CHANNELS, 64, 1), (64, 128, 2), (128, 256, 1), (256, 256, 1)),
}


class GraphConvolution(nn.Module):
    """Eq. 1: a 1x1 convolution (W^l) followed by aggregation over the adjacency (A)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=1)

    def forward(self, x: torch.Tensor, adjacency: torch.Tensor) -> torch.Tensor:
        # x: (N, C, T, V); adjacency: (V, V) -> out[n, c, t, w] = sum_v x[n, c, t, v] A[v, w]
        return torch.matmul(self.conv(x), adjacency)


class STGCNBlock(nn.Module):
    """Graph convolution, temporal convolution (BN, 9x1 conv, LeakyReLU, BN) and a residual, then ReLU."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, kernel: int = 9, dropout: float = 0.0):
        super().__init__()
        self.gcn = GraphConvolution(in_channels, out_channels)
        self.tcn = nn.Sequential(
            nn.BatchNorm2d(out_channels),
            nn.Conv2d(out_channels, out_channels, (kernel, 1), (stride, 1), ((kernel - 1) // 2, 0)),
            nn.LeakyReLU(0.2),
            nn.BatchNorm2d(out_channels),
            nn.Dropout(dropout),
        )
        if in_channels == out_channels and stride == 1:
            self.residual = nn.Identity()
        else:
            self.residual = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=(stride, 1)),
                nn.BatchNorm2d(out_channels),
            )
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor, adjacency: torch.Tensor) -> torch.Tensor:
        return self.relu(self.tcn(self.gcn(x, adjacency)) + self.residual(x))


class STGCN(nn.Module):
    """ST-GCN encoder: pose windows -> video embedding e_v in R^{embedding_size} (Eq. 2).

    ``forward`` takes the authors' layout (N, C, T, V, M); :meth:`encode_windows` takes windows as
    stored in the dataset, (N, T, V, C) with M = 1 person.
    """

    def __init__(self, num_layers: int = 3, in_channels: int = NUM_CHANNELS, embedding_size: int = 256,
                 temporal_kernel: int = 9, dropout: float = 0.0, num_landmarks: int = NUM_LANDMARKS):
        super().__init__()
        if num_layers not in LAYER_PLANS:
            raise ValueError(f"gcn_layers must be one of {sorted(LAYER_PLANS)}, got {num_layers}")
        plan = LAYER_PLANS[num_layers]
        if in_channels != plan[0][0]:
            plan = ((in_channels,) + plan[0][1:],) + plan[1:]
        self.in_channels = in_channels
        self.num_landmarks = num_landmarks
        self.register_buffer("A", torch.from_numpy(normalized_adjacency(num_landmarks)))
        self.data_bn = nn.BatchNorm1d(in_channels * num_landmarks)
        self.st_gcn_networks = nn.ModuleList(
            STGCNBlock(c_in, c_out, stride, temporal_kernel, dropout) for c_in, c_out, stride in plan
        )
        self.edge_importance = nn.ParameterList(nn.Parameter(torch.ones_like(self.A)) for _ in plan)
        self.fc = nn.Linear(plan[-1][1], embedding_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, t, v, m = x.shape
        # data_bn normalizes the V*C channels landmark-major (channel index = v * C + c), over time.
        x = x.permute(0, 4, 3, 1, 2).reshape(n * m, v * c, t)
        x = self.data_bn(x)
        x = x.reshape(n, m, v, c, t).permute(0, 1, 3, 4, 2).reshape(n * m, c, t, v)
        for block, importance in zip(self.st_gcn_networks, self.edge_importance):
            x = block(x, (self.A * importance)[0])
        pooled = x.mean(dim=(2, 3)).reshape(n, m, -1).mean(dim=1)
        return self.fc(pooled)

    def encode_windows(self, poses: torch.Tensor) -> torch.Tensor:
        """Encode windows given as (N, T, V, C) (or flattened (N, T*V*C)) -> (N, embedding_size)."""
        if poses.dim() == 2:
            poses = poses.reshape(poses.shape[0], -1, self.num_landmarks, self.in_channels)
        return self(poses.permute(0, 3, 1, 2).unsqueeze(-1))
