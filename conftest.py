"""Settings shared by the test suite and the doctests."""

import torch

# Tests train tiny networks, for which a second intra-op thread costs more in
# synchronization than it gains, and which slow down badly when another
# process holds the other core.
torch.set_num_threads(1)
