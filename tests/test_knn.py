"""The kNN monitor and `reslab eval --knn` (cosine similarity, exp(sim / t)-weighted vote of the k nearest),
against a brute-force numpy computation and hand-made cases."""
import numpy as np
import torch

from reslab.selfsup.knn import knn_predict


def brute_force(queries, bank, labels, num_classes, k, t):
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    b = bank / np.linalg.norm(bank, axis=1, keepdims=True)
    out = []
    for row in q:
        sims = b @ row
        votes = np.zeros(num_classes)
        for j in np.argsort(-sims)[:k]:
            votes[labels[j]] += np.exp(sims[j] / t)
        out.append(int(np.argmax(votes)))
    return out


def test_knn_matches_brute_force_numpy():
    rng = np.random.default_rng(0)
    bank, queries = rng.normal(size=(60, 5)), rng.normal(size=(25, 5))
    labels = rng.integers(0, 4, size=60)
    got = knn_predict(torch.tensor(queries), torch.tensor(bank), torch.tensor(labels), 4, k=7, t=0.1, chunk=10)
    assert got.tolist() == brute_force(queries, bank, labels, 4, 7, 0.1)


def test_vote_is_weighted_by_similarity_not_counted():
    # two far neighbours of class 1 outvote in number, the one very close neighbour of class 0 wins by weight
    bank = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.1, 1.0]])
    labels = torch.tensor([0, 1, 1])
    query = torch.tensor([[1.0, 0.05]])
    assert knn_predict(query, bank, labels, 2, k=3, t=0.1).item() == 0
    assert knn_predict(query, bank, labels, 2, k=3, t=100.0).item() == 1  # a flat weighting counts heads


def test_k_larger_than_the_bank_uses_the_whole_bank():
    bank = torch.eye(3)
    assert knn_predict(torch.eye(3), bank, torch.tensor([2, 0, 1]), 3, k=200).tolist() == [2, 0, 1]
