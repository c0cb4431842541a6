import torch
import torch.nn.functional as F

from softmaxreg.training import softmax as S


def test_naive_forms_overflow_and_underflow_where_stable_ones_do_not():
    logits = torch.tensor([[1000.0, 0.0], [-1000.0, 0.0]])
    naive = S.naive_softmax(logits)
    assert torch.isnan(naive[0]).any()  # exp(1000) = inf, inf / inf = nan
    target = torch.tensor([1, 0])
    naive_loss = S.naive_cross_entropy(logits, target)
    assert not torch.isfinite(naive_loss).all()  # log(0) = -inf
    stable = S.stable_softmax(logits)
    assert torch.isfinite(stable).all()
    torch.testing.assert_close(stable.sum(1), torch.ones(2))
    loss = S.cross_entropy(logits, target, reduction="none")
    assert torch.isfinite(loss).all()
    torch.testing.assert_close(loss, torch.tensor([1000.0, 1000.0]))
    torch.testing.assert_close(S.log_softmax(logits), F.log_softmax(logits, dim=1))


def test_stable_cross_entropy_matches_torch_on_random_logits():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(512, 10, generator=g, dtype=torch.float64) * 20
    target = torch.randint(0, 10, (512,), generator=g)
    for reduction in ("none", "mean", "sum"):
        ours = S.cross_entropy(logits, target, reduction)
        ref = F.cross_entropy(logits, target, reduction=reduction)
        assert torch.allclose(ours, ref, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(S.stable_softmax(logits), F.softmax(logits, dim=1))


def test_closed_form_gradient_matches_autograd():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(64, 10, generator=g, dtype=torch.float64, requires_grad=True)
    target = torch.randint(0, 10, (64,), generator=g)
    F.cross_entropy(logits, target).backward()
    torch.testing.assert_close(S.cross_entropy_grad(logits.detach(), target), logits.grad)
