"""GlobalBatchNorm (`--sync-bn`, the self-supervised methods' global BN) and MoCo's shuffled keys, under two gloo
processes, against one process that sees the whole batch."""
import copy
import os

import torch
from torch import nn

from reslab.selfsup.gather import encode_shuffled
from reslab.train.global_bn import GlobalBatchNorm, globalize_batch_norm


def net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                         nn.Linear(4 * 5 * 5, 6), nn.BatchNorm1d(6))


def _spawn(fn, *args):
    import torch.multiprocessing as mp

    with mp.Manager() as manager:
        out = manager.dict()
        mp.spawn(fn, args=(*args, out), nprocs=2)
        return dict(out)


def _init(rank: int, store_path: str):
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", store=dist.FileStore(store_path, 2), rank=rank, world_size=2)


def _leave():
    import torch.distributed as dist

    dist.barrier()  # both ranks' results are stored before either leaves
    os._exit(0)  # no C++ destructors: gloo's teardown at exit can abort after the work is done (see test_pretrain)


def _global_bn_step(rank, store_path, model, x, out):
    _init(rank, store_path)
    model = globalize_batch_norm(copy.deepcopy(model))  # spawn shares tensors' memory: the parent's stay untouched
    part = x[rank * 4:(rank + 1) * 4].clone().requires_grad_(True)
    y = model(part)
    (y ** 3).sum().backward()  # each process's share of a loss summed over the whole batch
    out[rank] = (y.detach(), part.grad, {k: p.grad for k, p in model.named_parameters()},
                 {k: b.clone() for k, b in model.state_dict().items()})
    _leave()


def test_two_processes_normalise_with_the_whole_batch(tmp_path):
    """In float64, so that what is compared is the arithmetic, not float32 rounding in another order."""
    model, x = net().double(), torch.randn(8, 3, 5, 5, dtype=torch.float64)
    out = _spawn(_global_bn_step, str(tmp_path / "store"), model, x)
    whole = x.clone().requires_grad_(True)
    y = model(whole)  # one process, plain BatchNorm, the whole batch
    (y ** 3).sum().backward()
    for rank in range(2):
        rows = slice(rank * 4, (rank + 1) * 4)
        got_y, got_input_grad, _, state = out[rank]
        torch.testing.assert_close(got_y, y[rows].detach(), rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(got_input_grad, whole.grad[rows], rtol=1e-12, atol=1e-12)
        for key, value in model.state_dict().items():  # running mean and (unbiased) variance of the whole batch
            torch.testing.assert_close(state[key], value, rtol=1e-12, atol=1e-12, msg=key)
    for key, p in model.named_parameters():  # what DDP's sum over processes gives
        torch.testing.assert_close(out[0][2][key] + out[1][2][key], p.grad, rtol=1e-12, atol=1e-12)
    # the truth is not what each process alone computes: its own half's statistics give other outputs
    alone = net().double()(x[:4])
    assert not torch.allclose(alone, y[:4].detach(), atol=1e-3)


def test_one_process_and_eval_mode_are_plain_batch_norm():
    model, x = net(), torch.randn(8, 3, 5, 5)
    plain = copy.deepcopy(model)
    converted = globalize_batch_norm(model)
    assert sum(isinstance(m, GlobalBatchNorm) for m in converted.modules()) == 2
    assert list(converted.state_dict()) == list(plain.state_dict())  # checkpoints keep their keys
    torch.testing.assert_close(converted(x), plain(x))
    torch.testing.assert_close(converted.state_dict(), plain.state_dict())  # the same running-statistics update
    torch.testing.assert_close(converted.eval()(x), plain.eval()(x))
    bn = nn.BatchNorm2d(4)
    optimizer = torch.optim.SGD(bn.parameters(), lr=1.0)
    global_bn = globalize_batch_norm(bn)
    global_bn(torch.randn(2, 4, 3, 3)).sum().backward()
    optimizer.step()  # an optimiser built before the conversion holds the same tensors
    assert global_bn.weight is bn.weight and global_bn.running_mean is bn.running_mean


def _shuffled_keys(rank, store_path, encoder, x, out):
    _init(rank, store_path)
    torch.manual_seed(123)  # rank 0's permutation is the one used
    out[rank] = encode_shuffled(copy.deepcopy(encoder), x[rank * 3:(rank + 1) * 3])
    _leave()


def test_moco_keys_come_back_to_their_images_but_with_other_images_batch_statistics(tmp_path):
    torch.manual_seed(0)
    encoder = nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4))  # training mode: batch statistics
    x = torch.randn(6, 5)
    out = _spawn(_shuffled_keys, str(tmp_path / "store"), encoder, x)
    torch.manual_seed(123)
    order = torch.randperm(6)
    with torch.no_grad():  # each process encoded a batch of three images drawn from both processes
        shuffled = torch.cat([copy.deepcopy(encoder)(x[order[r * 3:(r + 1) * 3]]) for r in range(2)])
        direct = torch.cat([copy.deepcopy(encoder)(x[r * 3:(r + 1) * 3]) for r in range(2)])
    keys = torch.empty_like(shuffled)
    keys[order] = shuffled
    assert sorted(order[:3].tolist()) != [0, 1, 2]  # the permutation mixes the processes' images
    for rank in range(2):
        torch.testing.assert_close(out[rank], keys[rank * 3:(rank + 1) * 3])
        assert not torch.allclose(out[rank], direct[rank * 3:(rank + 1) * 3], atol=1e-3)


def test_moco_keys_in_eval_mode_are_the_images_own():
    encoder = nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4))
    x = torch.randn(6, 5)
    torch.testing.assert_close(encode_shuffled(encoder, x), encoder(x))  # one process: nothing to shuffle
