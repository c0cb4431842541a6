"""The book's 0.17 edition, section 3.3: linear regression with PyTorch's layers, loss and
optimiser, fed by d2l.load_array."""

import torch
from d2l import torch as d2l
from torch import nn

true_w = d2l.tensor([2, -3.4])
true_b = 4.2
features, labels = d2l.synthetic_data(true_w, true_b, 1000)

batch_size = 10
data_iter = d2l.load_array((features, labels), batch_size)
X, y = next(iter(data_iter))
assert X.shape == (10, 2) and y.shape == (10, 1) and len(data_iter) == 100

net = nn.Sequential(nn.Linear(2, 1))
net[0].weight.data.normal_(0, 0.01)
net[0].bias.data.fill_(0)
loss = nn.MSELoss()
trainer = torch.optim.SGD(net.parameters(), lr=0.03)

num_epochs = 3
for epoch in range(num_epochs):
    for X, y in data_iter:
        step_loss = loss(net(X), y)
        trainer.zero_grad()
        step_loss.backward()
        trainer.step()
    epoch_loss = loss(net(features), labels)
    print(f"epoch {epoch + 1}, loss {epoch_loss:f}")

w = net[0].weight.data
b = net[0].bias.data
print("error in estimating w:", true_w - d2l.reshape(w, true_w.shape))
print("error in estimating b:", true_b - b)
assert (true_w - d2l.reshape(w, true_w.shape)).abs().max() < 0.01
assert (true_b - b).abs().max() < 0.01 and float(epoch_loss) < 1e-3
# d2l.evaluate_loss (section 4.4): the mean loss over a data set, here the training data.
mean_loss = d2l.evaluate_loss(net, data_iter, nn.MSELoss(reduction="none"))
assert abs(mean_loss - float(epoch_loss)) < 1e-6
