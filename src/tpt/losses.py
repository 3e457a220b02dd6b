"""The fine-tune's loss (finetune.loss), with per-example weights (the SFT sets' `weight` column).

- `ce`: cross-entropy on the completion's tokens (the paper's; with every weight 1 the Trainer's own loss is used,
  and this module is not called).
- `gem`: GEM (Li et al., ICLR 2025, arXiv 2408.16673), an entropy-regularised distribution matching that keeps the
  model's output diversity. Per token, with logits z, label y and q = softmax(z / beta) held constant:
      loss = -sum_v q_v h_v (log p(y) - log p(v)),   p = softmax(z)
  with h_v = 1 (`linear`) or sigmoid(0.01 (z_v - z_y)) held constant (`logsigmoid`, the authors' code's default).
  For `linear` the gradient with respect to z is softmax(z / beta) - onehot(y): that of beta x CE(z / beta, y).

A token's loss is multiplied by its example's weight; the sum is divided by the number of completion tokens (of the
whole accumulated batch, as the Trainer counts them), so weights of 1 give the plain mean.
"""
import torch
import torch.nn.functional as F

IGNORE = -100  # label of tokens that carry no loss (the prompt, the padding)
LOSSES = ("ce", "gem")  # finetune.loss
GEM_H = ("linear", "logsigmoid")  # finetune.gem.h


def gem(logits, labels, beta, h="linear"):
    """The GEM loss of each row: logits (tokens, vocabulary), labels (tokens,). Returns (tokens,)."""
    log_p = F.log_softmax(logits.float(), dim=-1)
    with torch.no_grad():
        q = F.softmax(logits.float() / beta, dim=-1)
        if h == "logsigmoid":
            on_label = logits.float().gather(-1, labels.unsqueeze(-1))
            q = q * torch.sigmoid(0.01 * (logits.float() - on_label))
        elif h != "linear":
            raise ValueError(f"finetune.gem.h={h!r}: one of {', '.join(GEM_H)}")
    log_p_label = log_p.gather(-1, labels.unsqueeze(-1))
    return -(q * (log_p_label - log_p)).sum(-1)


def token_losses(logits, labels, loss="ce", beta=0.7, h="linear"):
    """Each token's loss for next-token prediction: logits (batch, length, vocabulary), labels (batch, length) with
    IGNORE where no loss is due. Returns (losses (batch, length - 1), mask of the tokens that count)."""
    logits, labels = logits[:, :-1, :], labels[:, 1:]
    mask = labels != IGNORE
    flat_logits, flat_labels = logits[mask], labels[mask]
    if loss == "ce":
        values = F.cross_entropy(flat_logits.float(), flat_labels, reduction="none")
    elif loss == "gem":
        values = gem(flat_logits, flat_labels, beta, h)
    else:
        raise ValueError(f"finetune.loss={loss!r}: one of {', '.join(LOSSES)}")
    out = torch.zeros(labels.shape, dtype=values.dtype, device=values.device)
    out[mask] = values
    return out, mask


def sft_loss(logits, labels, weights=None, loss="ce", beta=0.7, h="linear", num_items=None):
    """The batch's loss: sum over examples and completion tokens of weight x token loss, divided by num_items (the
    Trainer's count of completion tokens in the accumulated batch) or, without it, by this batch's count.
    weights: (batch,) or None (every weight 1)."""
    values, mask = token_losses(logits, labels, loss, beta, h)
    if weights is not None:
        values = values * weights.to(values.dtype).unsqueeze(-1)
    count = num_items if num_items is not None else mask.sum().clamp(min=1)
    return values.sum() / count
