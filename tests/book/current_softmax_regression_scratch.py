"""The book's 1.0 edition, section 4.4: softmax regression from scratch as a d2l.Classifier,
trained by d2l.Trainer; then the misclassified validation images.

The book trains 10 epochs; 3 keep the suite fast and reach about 0.8 already."""

import torch
from d2l import torch as d2l


def softmax(X):
    X_exp = d2l.exp(X)
    partition = d2l.reduce_sum(X_exp, 1, keepdims=True)
    return X_exp / partition


X_prob = softmax(d2l.rand((2, 5)))
assert torch.allclose(d2l.reduce_sum(X_prob, 1), torch.ones(2))


class SoftmaxRegressionScratch(d2l.Classifier):
    def __init__(self, num_inputs, num_outputs, lr, sigma=0.01):
        super().__init__()
        self.save_hyperparameters()
        self.W = torch.normal(0, sigma, size=(num_inputs, num_outputs), requires_grad=True)
        self.b = torch.zeros(num_outputs, requires_grad=True)

    def parameters(self):
        return [self.W, self.b]


@d2l.add_to_class(SoftmaxRegressionScratch)
def forward(self, X):
    X = d2l.reshape(X, (-1, self.W.shape[0]))
    return softmax(d2l.matmul(X, self.W) + self.b)


def cross_entropy(y_hat, y):
    return -d2l.reduce_mean(d2l.log(y_hat[list(range(len(y_hat))), y]))


y = d2l.tensor([0, 2])
y_hat = d2l.tensor([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
assert abs(float(cross_entropy(y_hat, y)) - 1.4979) < 1e-4


@d2l.add_to_class(SoftmaxRegressionScratch)
def loss(self, y_hat, y):
    return cross_entropy(y_hat, y)


data = d2l.FashionMNIST(batch_size=256)
model = SoftmaxRegressionScratch(num_inputs=784, num_outputs=10, lr=0.1)
trainer = d2l.Trainer(max_epochs=3)
trainer.fit(model, data)
val_acc = model.board.data["val_acc"][-1].y
print(f"validation accuracy {val_acc:.4f}")
assert 0.75 <= val_acc <= 0.87

X, y = next(iter(data.val_dataloader()))
preds = d2l.argmax(model(X), axis=1)
assert preds.shape == (256,)
wrong = d2l.astype(preds, y.dtype) != y
X, y, preds = X[wrong], y[wrong], preds[wrong]
labels = [a + "\n" + b for a, b in zip(data.text_labels(y), data.text_labels(preds), strict=True)]
data.visualize([X, y], labels=labels)
