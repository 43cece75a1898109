"""Lesson 08: reading a text, lesson 07's batches, checkpoints that round-trip and refuse, training runs, and torchrun."""

from __future__ import annotations

import argparse
import json
import math
import random

import pytest
import torch
from conftest import PATTERN, VOCAB, assert_one_line_error, load_lesson, run_in_process, run_script

from common import UserError
from common.checkpoints import CheckpointError, load_run_state, run_state_path, save_gpt, save_run_state
from common.text import read_text, split_text

_07 = load_lesson("07_simple_llm")
CharTokenizer, evaluate, get_batch, windows = _07.CharTokenizer, _07.evaluate, _07.get_batch, _07.windows
characters_per_token = load_lesson("08_train_llm").characters_per_token
GPT, GPTConfig = _07.GPT, _07.GPTConfig
load_gpt = load_lesson("09_use_llm").load_gpt  # 08 writes (common.checkpoints.save_gpt), 09 reads



def tiny_config(**changes) -> GPTConfig:
    return GPTConfig(**{"vocab_size": 11, "block_size": 16, "n_layer": 2, "n_head": 2, "n_embd": 16} | changes)


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
    # A checkpoint written before the read-out was named lm_head still loads, with the same predictions.
    older = {**checkpoint, "state_dict": {k.replace("lm_head.", "head."): v for k, v in checkpoint["state_dict"].items()}}
    assert "head.weight" in older["state_dict"]
    torch.save(older, tmp_path / "older.pt")
    assert torch.equal(load_gpt(tmp_path / "older.pt")[0](idx), restored(idx))
    checkpoint["tokenizer"]["vocab"] = "abc"  # one character short of the model
    torch.save(checkpoint, tmp_path / "short.pt")
    with pytest.raises(CheckpointError, match="tokenizer has 3 tokens"):
        load_gpt(tmp_path / "short.pt")


ARGS_08 = ("--block-size", "32", "--batch-size", "8", "--n-embd", "32", "--n-layer", "1", "--warmup-iters", "5",
           "--eval-interval", "30")


def test_08_trains_and_saves_its_best_model(tmp_path, small_text):
    result = run_script("08_train_llm.py", "--text", str(small_text), *ARGS_08, "--max-iters", "60", "--threads", "1",
                        out=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "on cpu (1 threads)" in result.stdout  # --threads is what PyTorch was given
    model, tokenizer, saved = load_gpt(tmp_path / "models" / "08_gpt_small.pt")
    assert saved["prompt"] == "the cat sat on the mat. the do"  # the text's first line (30 characters): 10's page
    assert saved["best_val_bpc"] == min(h["val_bpc"] for h in saved["history"]) < math.log2(len(tokenizer))
    assert (tmp_path / "figures" / "08_small_loss_curves.png").is_file()
    assert "learn_merges_fast learns the same" in result.stdout  # the BPE every run shows
    assert "decode gives 'Café 🙂': the same text" in result.stdout


@pytest.mark.slow
def test_08_never_replaces_a_better_model(tmp_path, small_text):
    first = run_script("08_train_llm.py", "--text", str(small_text), *ARGS_08, "--max-iters", "60", out=tmp_path)
    assert first.returncode == 0, first.stderr
    checkpoint = tmp_path / "models" / "08_gpt_small.pt"
    before = checkpoint.read_bytes()
    worse = run_script("08_train_llm.py", "--text", str(small_text), *ARGS_08, "--max-iters", "2", "--eval-interval",
                       "1", out=tmp_path)
    assert worse.returncode == 0, worse.stderr
    assert "is unchanged" in worse.stdout and checkpoint.read_bytes() == before


@pytest.mark.slow
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
    binary, out = tmp_path / "b.bin", str(tmp_path / "models" / "gpt.pt")
    binary.write_bytes(bytes(range(256)) * 100)
    assert_one_line_error(run_in_process("08_train_llm.py", "--text", str(binary), "--out", out), "binary")
    assert_one_line_error(run_in_process("08_train_llm.py", "--text", str(tmp_path / "nope.txt"), "--out", out),
                          "no such file")
    assert_one_line_error(run_in_process("08_train_llm.py", "--n-embd", "30", "--n-head", "4", "--out", out),
                          "not a multiple")
    assert_one_line_error(run_in_process("08_train_llm.py", "--threads", "0", "--out", out), "--threads")
    assert not (tmp_path / "models" / "gpt.pt").exists()


def test_08_trains_every_step_in_training_mode_even_after_evaluating_and_sampling(lesson):
    """Evaluation and sampling switch the model to eval mode; with dropout on, every training step must switch back."""
    train08 = lesson("08_train_llm")
    tokenizer = CharTokenizer.from_text(PATTERN)
    ids = torch.tensor(tokenizer.encode(PATTERN * 40))
    model = GPT(GPTConfig(len(tokenizer), block_size=16, n_layer=1, n_head=2, n_embd=16, dropout=0.2))
    modes = []  # (gradients on, training mode) for every forward pass
    model.register_forward_pre_hook(lambda module, inputs: modes.append((torch.is_grad_enabled(), module.training)))
    args = argparse.Namespace(lr=1e-3, min_lr=1e-4, warmup_iters=2, max_iters=6, eval_interval=2, weight_decay=0.1,
                              grad_clip=1.0, batch_size=4, block_size=16, seed=0, compile=False, resume=False)
    cpu = torch.device("cpu")
    files = argparse.Namespace(keep=lambda *evaluation: False)  # saves nothing
    train08.fit(model, ids[:500], ids[500:], tokenizer, args, files=files, team=train08.Team(cpu),
                precision=train08.Precision(torch.float32, cpu))
    training_steps = [mode for grad, mode in modes if grad]
    assert len(training_steps) == 6 and all(training_steps)
    assert any(not mode for grad, mode in modes if not grad)  # it did evaluate in eval mode in between


TINY_RUN = ("--block-size", "16", "--n-embd", "16", "--n-layer", "1", "--n-head", "2", "--warmup-iters", "2",
            "--max-iters", "20", "--eval-interval", "10")


def torchrun(processes: int) -> tuple[str, ...]:
    """run_script's launcher for 08 under torchrun, on this machine's CPU (the gloo backend)."""
    return ("-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}")


@pytest.mark.slow
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
    assert_one_line_error(run_in_process("08_train_llm.py", *flags, "--out", str(tmp_path / "gpt.pt")), message)
    assert not (tmp_path / "gpt.pt").exists()


def test_08_resume_refuses_what_it_cannot_continue_and_leaves_every_file_as_it_was(tmp_path, small_text):
    out = tmp_path / "models" / "gpt.pt"
    assert_one_line_error(run_in_process("08_train_llm.py", "--text", str(small_text), "--out", str(out), "--resume"),
                          "no interrupted run")
    out.parent.mkdir(parents=True, exist_ok=True)
    save_run_state(run_state_path(out), {"text_sha256": "another text's"}, history=[{"step": 10}])
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert_one_line_error(run_in_process("08_train_llm.py", "--text", str(small_text), "--out", str(out), "--resume"),
                          "another text")
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("old, new, message", [
    ({"processes": 2}, {"processes": 1}, "it ran in 2 processes, this command in 1"),  # torchrun's, not a flag
    ({"compile": True}, {"compile": False}, "it ran with --compile"),
    ({"lr": 0.003}, {"lr": 0.01}, "it had --lr 0.003, this command 0.01"),
])
def test_a_refused_resume_names_the_difference_as_the_learner_would_change_it(tmp_path, old, new, message):
    state = tmp_path / "gpt.resume.pt"
    save_run_state(state, {"text_sha256": "same"} | old, history=[{"step": 10}])
    with pytest.raises(UserError, match=message):
        load_run_state(state, {"text_sha256": "same"} | new)


def test_08_fine_tunes_a_model_into_a_checkpoint_of_its_own_that_names_its_parent(tmp_path, small_text, checkpoint):
    parent = checkpoint.read_bytes()
    result = run_script("08_train_llm.py", "--init-from", str(checkpoint), "--text", str(small_text), "--max-iters", "20",
                        "--eval-interval", "10", "--batch-size", "4", out=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "before any step it scores" in result.stdout
    child = tmp_path / "models" / "08_gpt_small_from_test.pt"  # its own name; the parent is untouched
    record = json.loads(child.with_suffix(".json").read_text())
    assert record["hyperparameters"]["init_from"] == str(checkpoint) and checkpoint.read_bytes() == parent
    assert record["hyperparameters"]["lr"] == 1e-3  # fine-tuning's own default, smaller than training's
    model, tokenizer, saved = load_gpt(child)  # 09 loads it like any other
    assert (saved["config"]["n_layer"], saved["config"]["block_size"], tokenizer.vocab) == (2, 32, VOCAB)


def test_08_fine_tuning_refuses_what_the_model_it_starts_from_cannot_do(tmp_path, checkpoint):
    odd = tmp_path / "odd.txt"
    odd.write_text("Caf\u00e9 at 7: the cat sat on the mat. " * 80)
    out = str(tmp_path / "models" / "ft.pt")
    assert_one_line_error(run_in_process("08_train_llm.py", "--init-from", str(checkpoint), "--text", str(odd),
                                         "--out", out), "never saw", "'\u00e97'", "BPE")
    assert_one_line_error(run_in_process("08_train_llm.py", "--init-from", str(checkpoint), "--n-layer", "3",
                                         "--out", out), "--n-layer 3", "has --n-layer 2")
    assert_one_line_error(run_in_process("08_train_llm.py", "--init-from", str(checkpoint), "--out", str(checkpoint)),
                          "never over the one it starts from")
    assert not (tmp_path / "models" / "ft.pt").exists()
