"""Reference encodings from Hugging Face's tokenizers library.

  make DIR CORPUS     train small tokenizers shaped like GPT-2's, Llama 3's,
                      Llama 2's (normalizer form) and Llama 2's (Metaspace
                      form) on the text file CORPUS and write them to DIR as
                      gpt2.json, llama3.json, llama2.json, llama2-metaspace.json
  encode TOKENIZER TEXTS_JSON OUT_JSON
                      for each text: ids without and with special tokens, and
                      the decoded ids (skipping special tokens or not)

The tokenizers made here are committed under testdata with the encodings
of cases.txt (cases.json), so that the Go tests need no Python; the
interop tests compare fresh random texts live.
"""
import json
import sys


def train_bpe(corpus, vocab_size, pre, specials, byte_level):
    from tokenizers import Tokenizer, models, trainers, pre_tokenizers, normalizers

    tok = Tokenizer(models.BPE())
    alphabet = pre_tokenizers.ByteLevel.alphabet() if byte_level else []
    if byte_level:
        tok.pre_tokenizer = pre
    else:
        tok.normalizer = normalizers.Replace(" ", "\u2581")
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replace_space=False) if False else pre_tokenizers.Split("\u2581", "merged_with_next")
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, initial_alphabet=alphabet, show_progress=False)
    tok.train([corpus], trainer)
    js = json.loads(tok.to_str())
    return js["model"]["vocab"], js["model"]["merges"]


def make(d, corpus):
    from tokenizers import Regex, Tokenizer, pre_tokenizers

    gpt2_pat = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
    llama3_pat = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}

    # GPT-2: ByteLevel pre-tokenizer with its own split, <|endoftext|>.
    vocab, merges = train_bpe(corpus, 600, pre_tokenizers.ByteLevel(add_prefix_space=False), ["<|endoftext|>"], True)
    gpt2 = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": vocab["<|endoftext|>"], "content": "<|endoftext|>", "single_word": False, "lstrip": False, "rstrip": False, "normalized": True, "special": True}],
        "normalizer": None, "pre_tokenizer": byte_level,
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "", "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False, "vocab": vocab, "merges": merges},
    }

    # Llama 3: Split with its pattern, ByteLevel without a regex,
    # ignore_merges, a BOS template and chat special tokens.
    pre3 = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(llama3_pat), "isolated"), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    specials3 = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
    vocab3, merges3 = train_bpe(corpus, 700, pre3, specials3, True)
    llama3 = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": vocab3[s], "content": s, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True} for s in specials3],
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": llama3_pat}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
        "post_processor": {"type": "Sequence", "processors": [
            {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
            {"type": "TemplateProcessing",
             "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
             "pair": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
             "special_tokens": {"<|begin_of_text|>": {"id": "<|begin_of_text|>", "ids": [vocab3["<|begin_of_text|>"]], "tokens": ["<|begin_of_text|>"]}}}]},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None, "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": True, "vocab": vocab3, "merges": merges3},
    }

    # Llama 2 / TinyLlama: "▁" for spaces, byte fallback to <0xXX>, <unk>
    # fused, a <s> template. The byte tokens sit in the vocabulary right
    # after <unk> <s> </s>, as in Llama 2's.
    vocab2, merges2 = train_bpe(corpus, 500, None, [], False)
    specials2 = ["<unk>", "<s>", "</s>"]
    ordered = specials2 + ["<0x%02X>" % b for b in range(256)] + sorted(vocab2, key=vocab2.get)
    seen, v2 = set(), {}
    for t in ordered:
        if t not in seen:
            seen.add(t)
            v2[t] = len(v2)
    llama2 = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": i, "content": s, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True} for i, s in enumerate(specials2)],
        "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u2581"}, {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
        "pre_tokenizer": None,
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                           "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
                           "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None, "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False, "vocab": v2, "merges": merges2},
    }
    meta = json.loads(json.dumps(llama2))
    meta["normalizer"] = None
    meta["pre_tokenizer"] = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": False}
    meta["decoder"] = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": False}

    for name, js in [("gpt2", gpt2), ("llama3", llama3), ("llama2", llama2), ("llama2-metaspace", meta)]:
        s = json.dumps(js, ensure_ascii=False)
        Tokenizer.from_str(s)  # it must load
        with open(f"{d}/{name}.json", "w") as f:
            f.write(s)


def encode(path, texts_json, out):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(path)
    with open(texts_json) as f:
        texts = json.load(f)
    res = []
    for t in texts:
        plain = tok.encode(t, add_special_tokens=False).ids
        special = tok.encode(t, add_special_tokens=True).ids
        res.append({"text": t, "ids": plain, "special": special,
                    "decoded": tok.decode(special, skip_special_tokens=False),
                    "decoded_skip": tok.decode(special, skip_special_tokens=True)})
    with open(out, "w") as f:
        json.dump(res, f, ensure_ascii=False, indent=0)


if __name__ == "__main__":
    cmds = {"make": make, "encode": encode}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        raise SystemExit(__doc__)
    cmds[sys.argv[1]](*sys.argv[2:])
