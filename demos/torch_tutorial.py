"""The tutorial's PyTorch program, plus one line that steps through its training in nnstep.

    python -m nnstep.demos.torch_tutorial        # needs torch: pip install "nnstep[torch]"

Everything but the `nnstep.debug` line is the tutorial's code as it writes
it: x = randn(10, 5), y = randint(0, 2, (10,)), Linear(5, 16) → ReLU →
Linear(16, 2), CrossEntropyLoss, SGD with lr 0.01, then the training loop.
`nnstep.debug` opens the app on an exact copy of the model and optimizer
(forward, loss, backward, update, op by op) and returns when you press q;
the loop then trains the untouched originals as it always would.
"""

import nnstep
import torch
import torch.nn as nn

torch.manual_seed(0)  # for reproducibility

x = torch.randn(10, 5)
y = torch.randint(0, 2, (10,))

model = nn.Sequential(
    nn.Linear(5, 16),
    nn.ReLU(),
    nn.Linear(16, 2),
)
loss_fn = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)

nnstep.debug(model, x, y, loss_fn, optimizer)  # step through it in nnstep; q comes back here

for epoch in range(100):  # noqa: B007 - the tutorial's loop, as it is written there
    y_pred = model(x)  # forward
    loss = loss_fn(y_pred, y)  # loss
    loss.backward()  # backpropagate the gradients
    optimizer.step()  # update the parameters
    optimizer.zero_grad()
print(f"loss after 100 epochs: {loss.item():.4f}")
