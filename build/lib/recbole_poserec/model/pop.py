"""Pop: rank items by their number of training interactions (RecBole's Pop, with exact counts).

RecBole 1.2.1's ``Pop.calculate_loss`` increments ``item_cnt[item] = item_cnt[item] + 1`` with
advanced indexing, which counts an item once per *batch* however often it occurs in that batch.
On Pose-OBE every window of a video carries the same items, so items repeat within batches and the
resulting "popularity" depends on the shuffle (the seed) and the batch size. This subclass counts
every occurrence (``index_add_``); everything else is RecBole's.
"""

import torch
from recbole.model.general_recommender.pop import Pop as RecBolePop


class Pop(RecBolePop):
    """RecBole's Pop with every training interaction counted (see module docstring)."""

    def calculate_loss(self, interaction):
        item = interaction[self.ITEM_ID]
        self.item_cnt.index_add_(0, item, torch.ones_like(item).unsqueeze(1))
        self.max_cnt = torch.max(self.item_cnt, dim=0)[0]
        return torch.nn.Parameter(torch.zeros(1)).to(self.device)
