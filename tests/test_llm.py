"""Lessons 07-08: the tokenizer, attention against PyTorch, the causal mask, the GPT, training and checkpoints."""

from __future__ import annotations

import argparse
import json
import math
import random

import pytest
import torch
from conftest import assert_one_line_error, run_script
from torch.nn import functional as F

from common import UserError
from common.gpt import GPT, CausalSelfAttention, GPTConfig, load_gpt, save_gpt
from common.nets import CheckpointError
from common.text import evaluate, get_batch, read_text, split_text, windows
from common.tokenizers import CharTokenizer, characters_per_token, checksum

PATTERN = "the cat sat on the mat. the dog sat on the log. "


@pytest.fixture(scope="module")
def lesson07(lesson):
    return lesson("07_simple_llm")


def tiny_config(**changes) -> GPTConfig:
    return GPTConfig(**{"vocab_size": 11, "block_size": 16, "n_layer": 2, "n_head": 2, "n_embd": 16} | changes)


# ----------------------------------------------------------------------------- text


def test_tokenizer_round_trip_and_unknown_characters():
    tokenizer = CharTokenizer.from_text("hello world")
    assert tokenizer.vocab == " dehlorw"
    assert tokenizer.decode(tokenizer.encode("hello world")) == "hello world"
    assert tokenizer.unknown("hex!") == "x!"
    assert tokenizer.decode(tokenizer.encode("hex!")) == "he  "  # unknown characters become the space
    assert checksum(CharTokenizer("ab")) != checksum(CharTokenizer("ba"))


@pytest.mark.parametrize("content, message", [
    (b"", "too short"), (b"abc" * 10, "too short"), (b"\x00\x01\x02" * 500, "binary"),
    (b"\xff\xfe" + "caf\u00e9".encode("latin-1") * 500, "not UTF-8"),
])
def test_read_text_refuses_what_cannot_be_trained_on(tmp_path, content, message):
    path = tmp_path / "t.txt"
    path.write_bytes(content)
    with pytest.raises(UserError, match=message):
        read_text(path, min_chars=100)


def test_batches_are_inputs_shifted_by_one_and_windows_cover_the_text():
    ids = torch.arange(100)
    x, y = get_batch(ids, 5, 8, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (5, 8) and torch.equal(y, x + 1)
    wx, wy = windows(ids, 10)
    assert wx.shape == (9, 10) and torch.equal(wx.flatten(), ids[:90]) and torch.equal(wy, wx + 1)
    assert windows(ids, 10, max_windows=3)[0][:, 0].tolist() == [0, 40, 80]
    train, val = split_text("x" * 90 + "y" * 10)
    assert (train, val) == ("x" * 90, "y" * 10)


# ----------------------------------------------------------------------------- attention


def test_attention_equals_pytorch_scaled_dot_product_attention(lesson07):
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 3, 7, 5, dtype=torch.float64) for _ in range(3))
    ours = lesson07.causal_attention(q, k, v)
    theirs = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert torch.allclose(ours, theirs, atol=1e-10, rtol=0)


def test_attention_gradients_pass_gradcheck(lesson07):
    torch.manual_seed(1)
    q, k, v = (torch.randn(1, 2, 5, 3, dtype=torch.float64, requires_grad=True) for _ in range(3))
    assert torch.autograd.gradcheck(lesson07.causal_attention, (q, k, v), eps=1e-6, atol=1e-8)


def test_no_position_attends_to_the_future(lesson07):
    """Changing later characters never changes the predictions at earlier positions."""
    torch.manual_seed(2)
    config = tiny_config()
    idx = torch.randint(11, (1, 16))
    changed = idx.clone()
    changed[0, 9:] = (changed[0, 9:] + 1) % 11
    for _, model in lesson07.ladder(config):
        model.double().eval()  # fresh logits are tiny (~1e-7): compare in float64, relative to their size
        a, b = model(idx), model(changed)
        assert torch.allclose(a[0, :9], b[0, :9], rtol=1e-12, atol=0)
        assert not torch.allclose(a[0, 9:], b[0, 9:], rtol=1e-3, atol=0)


def test_attention_weights_are_lower_triangular_rows_summing_to_one(lesson07):
    model = GPT(tiny_config()).eval()
    att = lesson07.attention_weights(model, torch.randint(11, (2, 10)))[1]  # block 2: (B, nh, T, T)
    assert torch.all(att.triu(diagonal=1) == 0)
    assert torch.allclose(att.sum(-1), torch.ones(2, 2, 10))


def copy_multihead_into(attention: CausalSelfAttention, multihead) -> None:
    """Put lesson 07's per-head query/key/value matrices into the batched layer's one qkv matrix."""
    with torch.no_grad():
        for part, name in enumerate(("query", "key", "value")):
            weight = torch.cat([getattr(head, name).weight for head in multihead.heads])  # (C, C)
            C = weight.size(0)
            attention.qkv.weight[part * C:(part + 1) * C] = weight
            attention.qkv.bias[part * C:(part + 1) * C] = 0
        attention.proj.load_state_dict(multihead.proj.state_dict())


def test_batched_heads_compute_the_same_as_the_loop_over_heads(lesson07):
    """common/gpt.py's all-heads-at-once attention is lesson 07's rung 3, written for speed."""
    torch.manual_seed(3)
    config = tiny_config()
    ours = lesson07.MultiHead(config).double()
    batched = CausalSelfAttention(config).double().eval()
    copy_multihead_into(batched, ours)
    x = torch.randn(3, 12, config.n_embd, dtype=torch.float64)
    for fused in (True, False):
        batched.fused = fused
        assert torch.allclose(ours(x), batched(x), atol=1e-12)


@pytest.mark.parametrize("cached", [False, True])
def test_the_fused_kernel_computes_what_the_lines_written_out_compute(cached):
    """scaled_dot_product_attention against the by-hand softmax: outputs, and (without a cache) every gradient."""
    config = tiny_config()
    results = []
    for fused in (True, False):
        torch.manual_seed(4)  # the same weights and input for both
        model = GPT(config).double()
        for block in model.blocks:
            block.attn.fused = fused
        idx = torch.randint(config.vocab_size, (2, 10))
        if cached:  # a prefill of 6 positions, then 4 more at once against the cache (generation: no gradients)
            cache = model.new_cache()
            with torch.no_grad():
                logits = torch.cat([model(idx[:, :6], cache), model(idx[:, 6:], cache)], dim=1)
            results.append((logits, []))
        else:
            logits = model(idx)
            logits.square().mean().backward()
            results.append((logits.detach(), [p.grad for p in model.parameters()]))
    (fused_out, fused_grads), (hand_out, hand_grads) = results
    assert torch.allclose(fused_out, hand_out, atol=1e-12, rtol=0)
    assert len(fused_grads) == len(hand_grads) == (0 if cached else len(list(model.parameters())))
    assert all(torch.allclose(a, b, atol=1e-12, rtol=1e-9) for a, b in zip(fused_grads, hand_grads))


# ----------------------------------------------------------------------------- learning


def bigram_entropy(ids: torch.Tensor, vocab: int) -> float:
    """The best a bigram can do on ``ids``: the conditional entropy of next given current, from counts."""
    counts = torch.zeros(vocab, vocab)
    counts.index_put_((ids[:-1], ids[1:]), torch.ones(len(ids) - 1), accumulate=True)
    p = counts / counts.sum(1, keepdim=True).clamp(min=1)
    return float(-(counts * torch.log(p.clamp(min=1e-30))).sum() / counts.sum())


def test_a_small_gpt_beats_the_best_possible_bigram_after_a_few_steps():
    text = PATTERN * 40
    tokenizer = CharTokenizer.from_text(text)
    ids = torch.tensor(tokenizer.encode(text))
    config = GPTConfig(len(tokenizer), block_size=32, n_layer=2, n_head=2, n_embd=32)
    torch.manual_seed(0)
    model = GPT(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(0)
    for _ in range(150):
        x, y = get_batch(ids, 16, 32, generator)
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    loss = evaluate(model, ids, 32, characters_per_token(tokenizer)).nats_per_token
    baseline = bigram_entropy(ids, len(tokenizer))
    assert baseline > 0.3  # context matters in this text: 't' is followed by 'h', ' ' or 'o'
    assert loss < baseline - 0.2, (loss, baseline)


def test_fresh_model_predicts_nearly_uniformly():
    model = GPT(tiny_config())
    ids = torch.randint(11, (400,))
    assert abs(evaluate(model, ids, 16, torch.ones(11, dtype=torch.long)).nats_per_token - math.log(11)) < 0.05


# ----------------------------------------------------------------------------- checkpoints


def test_checkpoint_round_trip_and_refusals(tmp_path):
    model, tokenizer = GPT(tiny_config(vocab_size=4)), CharTokenizer("abcd")
    save_gpt(tmp_path / "g.pt", model, tokenizer, best_val_bpc=1.5)
    restored, restored_tokenizer, checkpoint = load_gpt(tmp_path / "g.pt")
    assert restored_tokenizer.vocab == "abcd" and checkpoint["best_val_bpc"] == 1.5
    idx = torch.tensor([[0, 1, 2, 3]])
    assert torch.equal(model.eval()(idx), restored(idx))

    class Evil:
        def __reduce__(self):
            return (print, ("this must never run",))

    torch.save({"format": "nn-tutorial-gpt/2", "evil": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="pickled Python objects"):
        load_gpt(tmp_path / "evil.pt")
    (tmp_path / "cut.pt").write_bytes((tmp_path / "g.pt").read_bytes()[:500])
    with pytest.raises(CheckpointError):
        load_gpt(tmp_path / "cut.pt")
    checkpoint["tokenizer"]["vocab"] = "abc"  # one character short of the model
    torch.save(checkpoint, tmp_path / "short.pt")
    with pytest.raises(CheckpointError, match="tokenizer has 3 tokens"):
        load_gpt(tmp_path / "short.pt")


# ----------------------------------------------------------------------------- the scripts


@pytest.fixture(scope="module")
def small_text(tmp_path_factory):
    path = tmp_path_factory.mktemp("text") / "small.txt"
    path.write_text(PATTERN * 120)
    return path


def test_07_prints_the_ladder_and_saves_its_figures(tmp_path, small_text):
    result = run_script("07_simple_llm.py", "--text", str(small_text), "--steps", "40", "--block-size", "32",
                        "--n-embd", "32", "--n-layer", "2", out=tmp_path)
    assert result.returncode == 0, result.stderr
    for rung in ("bigram table", "+ one attention head", "4 heads", "+ feed-forward", "+ residual, LayerNorm",
                 "GPT, 2 blocks"):
        assert rung in result.stdout
    assert "learn_merges_fast learns the same" in result.stdout
    assert "decode gives 'Café 🙂': the same text" in result.stdout
    for name in ("07_ladder", "07_attention"):
        assert (tmp_path / "figures" / f"{name}.png").stat().st_size > 10_000


def test_08_trains_saves_and_never_replaces_a_better_model(tmp_path, small_text):
    args = ("--text", str(small_text), "--block-size", "32", "--batch-size", "8", "--n-embd", "32", "--n-layer", "1",
            "--warmup-iters", "5", "--eval-interval", "30")
    first = run_script("08_train_llm.py", *args, "--max-iters", "60", out=tmp_path)
    assert first.returncode == 0, first.stderr
    checkpoint = tmp_path / "models" / "08_gpt_small.pt"
    model, tokenizer, saved = load_gpt(checkpoint)
    assert saved["best_val_bpc"] == min(h["val_bpc"] for h in saved["history"]) < math.log2(len(tokenizer))
    assert (tmp_path / "figures" / "08_small_loss_curves.png").is_file()
    before = checkpoint.read_bytes()
    worse = run_script("08_train_llm.py", *args, "--max-iters", "2", "--eval-interval", "1", out=tmp_path)
    assert worse.returncode == 0, worse.stderr
    assert "is unchanged" in worse.stdout and checkpoint.read_bytes() == before


def test_08_trains_on_bpe_tokens_and_scores_both_kinds_in_bits_per_character(tmp_path):
    small_text = tmp_path / "small.txt"  # words in random order: BPE would squeeze a repeated pattern into a few tokens
    rng = random.Random(0)
    small_text.write_text(" ".join(rng.choice(PATTERN.split()) for _ in range(1500)))
    args = ("--text", str(small_text), "--block-size", "16", "--batch-size", "8", "--n-embd", "16", "--n-layer", "1",
            "--warmup-iters", "5", "--max-iters", "30", "--eval-interval", "30")
    for tokenizer in ("char", "bpe"):
        result = run_script("08_train_llm.py", *args, "--tokenizer", tokenizer, "--vocab-size", "280", out=tmp_path)
        assert result.returncode == 0, result.stderr
    char_model = load_gpt(tmp_path / "models" / "08_gpt_small.pt")
    bpe_model = load_gpt(tmp_path / "models" / "08_gpt_small_bpe.pt")  # its own default path: nothing replaced
    assert char_model[1].kind == "char" and bpe_model[1].kind == "bpe" and len(bpe_model[1]) == 280
    for model, tokenizer, saved in (char_model, bpe_model):
        val_text = small_text.read_text()[int(0.9 * len(small_text.read_text())):]
        ids = torch.tensor(tokenizer.encode(val_text))
        score = evaluate(model, ids, 16, characters_per_token(tokenizer))  # the whole validation text, again
        assert saved["best_val_bpc"] == pytest.approx(score.bits_per_char, abs=1e-5)
        assert saved["best_val_loss"] == pytest.approx(score.nats_per_token, abs=1e-5)
        assert saved["hyperparameters"]["vocab_size"] == len(tokenizer)  # the model's, not an unused flag's
    assert (tmp_path / "figures" / "08_small_bpe_loss_curves.png").is_file()
    assert_one_line_error(run_script("08_train_llm.py", "--tokenizer", "bpe", "--vocab-size", "100", out=tmp_path),
                          "--vocab-size", "256 to 4096")


def test_08_bad_inputs_are_one_line(tmp_path):
    binary = tmp_path / "b.bin"
    binary.write_bytes(bytes(range(256)) * 100)
    assert_one_line_error(run_script("08_train_llm.py", "--text", str(binary), out=tmp_path), "binary")
    assert_one_line_error(run_script("08_train_llm.py", "--text", str(tmp_path / "nope.txt"), out=tmp_path),
                          "no such file")
    assert_one_line_error(run_script("08_train_llm.py", "--n-embd", "30", "--n-head", "4", out=tmp_path),
                          "not a multiple")
    assert not (tmp_path / "models").exists()


def test_08_trains_every_step_in_training_mode_even_after_evaluating_and_sampling(lesson):
    """Evaluation and sampling switch the model to eval mode; with dropout on, every training step must switch back."""
    train08 = lesson("08_train_llm")
    tokenizer = CharTokenizer.from_text(PATTERN)
    ids = torch.tensor(tokenizer.encode(PATTERN * 40))
    model = GPT(GPTConfig(len(tokenizer), block_size=16, n_layer=1, n_head=2, n_embd=16, dropout=0.2))
    modes = []  # (gradients on, training mode) for every forward pass
    model.register_forward_pre_hook(lambda module, inputs: modes.append((torch.is_grad_enabled(), module.training)))
    args = argparse.Namespace(lr=1e-3, min_lr=1e-4, warmup_iters=2, max_iters=6, eval_interval=2, weight_decay=0.1,
                              grad_clip=1.0, batch_size=4, block_size=16, seed=0, compile=False)
    cpu = torch.device("cpu")
    train08.fit(model, ids[:500], ids[500:], tokenizer, args, save=lambda loss, history: False,
                team=train08.Team(cpu), precision=train08.Precision(torch.float32, cpu))
    training_steps = [mode for grad, mode in modes if grad]
    assert len(training_steps) == 6 and all(training_steps)
    assert any(not mode for grad, mode in modes if not grad)  # it did evaluate in eval mode in between


# ----------------------------------------------------------------------------- bigger than a laptop

TINY_RUN = ("--block-size", "16", "--n-embd", "16", "--n-layer", "1", "--n-head", "2", "--warmup-iters", "2",
            "--max-iters", "20", "--eval-interval", "10")


def torchrun(processes: int) -> tuple[str, ...]:
    """run_script's launcher for 08 under torchrun, on this machine's CPU (the gloo backend)."""
    return ("-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}")


def test_two_processes_train_the_model_one_process_trains_on_their_global_batch(tmp_path, small_text):
    together = run_script("08_train_llm.py", "--text", str(small_text), *TINY_RUN, "--batch-size", "4",
                          out=tmp_path / "two", launcher=torchrun(2))
    assert together.returncode == 0, together.stderr[-3000:]
    alone = run_script("08_train_llm.py", "--text", str(small_text), *TINY_RUN, "--batch-size", "8",
                       out=tmp_path / "one")
    assert alone.returncode == 0, alone.stderr
    assert "8 windows (2 processes x 4)" in together.stdout
    assert together.stdout.count("best validation score") == 1  # only rank 0 speaks
    written = sorted(p.name for p in (tmp_path / "two" / "models").iterdir())
    assert written == ["08_gpt_small.json", "08_gpt_small.pt"]
    model, tokenizer, saved = load_gpt(tmp_path / "two" / "models" / "08_gpt_small.pt")  # as 09 and 10 load it
    single = json.loads((tmp_path / "one" / "models" / "08_gpt_small.json").read_text())
    assert saved["hyperparameters"]["processes"] == 2 and single["hyperparameters"]["processes"] == 1
    for ours, theirs in zip(saved["history"], single["history"], strict=True):
        # The same windows, split in two: the same gradients up to the order of float32 sums.
        assert abs(ours["train_loss"] - theirs["train_loss"]) < 1e-3
        assert abs(ours["val_loss"] - theirs["val_loss"]) < 1e-3
    used = run_script("09_use_llm.py", "--checkpoint", str(tmp_path / "two" / "models" / "08_gpt_small.pt"),
                      "--max-new-tokens", "20", out=tmp_path / "two")
    assert used.returncode == 0, used.stderr


@pytest.mark.parametrize("flags, message", [
    (["--dtype", "float16", "--device", "cpu"], "float16 needs a CUDA GPU"),
    (["--quick", "--preset", "gpu"], "choose one"),
])
def test_combinations_that_cannot_work_are_refused_in_one_line(tmp_path, flags, message):
    assert_one_line_error(run_script("08_train_llm.py", *flags, out=tmp_path), message)
    assert not (tmp_path / "models").exists()
