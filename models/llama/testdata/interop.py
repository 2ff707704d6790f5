"""The Python side of nf4's interoperability tests with transformers, PEFT
and bitsandbytes (run by interop_test.go under the `interop` build tag).

Every command writes its results to files the Go test reads back:

  model DIR CONFIG_JSON SEED        random LlamaForCausalLM(config), save_pretrained
  logits DIR IDS_JSON OUT [--adapter DIR] [--mask MASK_JSON] [--dequantize 1]
                                    logits of the model in DIR (float, or 4-bit
                                    when its config has a quantization_config) as
                                    OUT.safetensors {"logits": [B, T, V]};
                                    --dequantize runs the 4-bit layers as float32
                                    products of the weights bitsandbytes dequantizes
  quantize DIR OUT_DIR [--double-quant] [--block-size N]
                                    load DIR with BitsAndBytesConfig on the CPU,
                                    save_pretrained the 4-bit model
  peft DIR OUT_DIR TARGETS SEED     a PEFT LoRA adapter with random A and B
  bnb-bytes FLOAT.safetensors NF4.safetensors BLOCK DQ
                                    quantize every weight NF4.safetensors holds in
                                    4 bits with bitsandbytes' quantize_4bit and
                                    compare every byte; exits 1 on a difference
  tokenize TOKENIZER_JSON TEXTS_JSON OUT_JSON
                                    ids and decoded text of each text, with and
                                    without special tokens
"""
import json
import sys


def model(d, config_json, seed):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(**json.loads(config_json))
    torch.manual_seed(int(seed))
    m = LlamaForCausalLM(cfg)
    # transformers initialises norms to 1; make them random too, so a
    # mistake in applying them shows.
    with torch.no_grad():
        for n, p in m.named_parameters():
            if "norm" in n:
                p.uniform_(0.5, 1.5)
            if n.endswith(".bias"):
                p.normal_(0, 0.02)
    m.save_pretrained(d, safe_serialization=True)


def load(d):
    import torch
    from transformers import AutoConfig, LlamaForCausalLM

    cfg = AutoConfig.from_pretrained(d)
    kw = {"torch_dtype": torch.float32}
    if getattr(cfg, "quantization_config", None):
        kw["device_map"] = "cpu"
    m = LlamaForCausalLM.from_pretrained(d, **kw)
    m.eval()
    return m


def dequantize_linear4bit(m):
    """Replaces every bitsandbytes Linear4bit by a float32 Linear holding
    the weight bitsandbytes dequantizes: the 4-bit weights as bitsandbytes
    reads them, in float32 arithmetic (its own CPU matmul may round
    through a 16-bit type)."""
    import torch
    import bitsandbytes as bnb
    import bitsandbytes.functional as F

    for name, mod in list(m.named_modules()):
        for child_name, child in list(mod.named_children()):
            if isinstance(child, bnb.nn.Linear4bit):
                w = F.dequantize_4bit(child.weight.data, child.weight.quant_state).float()
                lin = torch.nn.Linear(w.shape[1], w.shape[0], bias=child.bias is not None)
                with torch.no_grad():
                    lin.weight.copy_(w)
                    if child.bias is not None:
                        lin.bias.copy_(child.bias.float())
                setattr(mod, child_name, lin)


def logits(d, ids_json, out, *rest):
    import torch
    from safetensors.torch import save_file

    args = dict(zip(rest[::2], rest[1::2]))
    m = load(d)
    if "--dequantize" in args:
        dequantize_linear4bit(m)
    if "--adapter" in args:
        from peft import PeftModel

        m = PeftModel.from_pretrained(m, args["--adapter"])
        m.eval()
    ids = torch.tensor(json.loads(ids_json))
    kw = {}
    if "--mask" in args:
        mask = torch.tensor(json.loads(args["--mask"]))
        kw["attention_mask"] = mask
        # positions count the tokens only, as generate() computes them
        pos = mask.long().cumsum(-1) - 1
        kw["position_ids"] = pos.masked_fill(mask == 0, 0)
    with torch.no_grad():
        lg = m(input_ids=ids, **kw).logits.float().contiguous()
    save_file({"logits": lg}, out)


def quantize(d, out, *rest):
    import torch
    from transformers import BitsAndBytesConfig, LlamaForCausalLM

    args = list(rest)
    bs = 64
    if "--block-size" in args:
        bs = int(args[args.index("--block-size") + 1])
    qc = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_compute_dtype=torch.float32,
        bnb_4bit_use_double_quant="--double-quant" in args,
    )
    m = LlamaForCausalLM.from_pretrained(d, quantization_config=qc, device_map="cpu", torch_dtype=torch.float32)
    if bs != 64:
        raise SystemExit("transformers quantizes with block size 64 only")
    m.save_pretrained(out, safe_serialization=True)


def peft(d, out, targets, seed):
    import torch
    from peft import LoraConfig, get_peft_model

    m = load(d)
    torch.manual_seed(int(seed))
    cfg = LoraConfig(r=4, lora_alpha=8, target_modules=targets.split(","), lora_dropout=0.0,
                     init_lora_weights=False, task_type="CAUSAL_LM")
    pm = get_peft_model(m, cfg)
    pm.save_pretrained(out, safe_serialization=True)


def bnb_bytes(float_path, nf4_path, block, dq):
    import torch
    import bitsandbytes.functional as F
    from safetensors import safe_open

    block, dq = int(block), dq == "1"
    fl = safe_open(float_path, "pt")
    q = safe_open(nf4_path, "pt")
    names = [k[: -len(".quant_state.bitsandbytes__nf4")] for k in q.keys() if k.endswith(".quant_state.bitsandbytes__nf4")]
    if not names:
        raise SystemExit(f"{nf4_path}: no 4-bit weights")
    bad = 0
    for n in sorted(names):
        w = fl.get_tensor(n).float()
        packed, st = F.quantize_4bit(w, blocksize=block, quant_type="nf4", compress_statistics=dq)
        want = {n: packed}
        for k, v in st.as_dict(packed=True).items():
            want[n + "." + k] = v
        for k, v in want.items():
            got = q.get_tensor(k)
            if got.dtype != v.dtype or got.shape != v.shape:
                print(f"{k}: nf4 wrote {got.dtype}{list(got.shape)}, bitsandbytes {v.dtype}{list(v.shape)}")
                bad += 1
                continue
            if k.endswith("quant_state.bitsandbytes__nf4"):
                gj, wj = json.loads(bytes(got.tolist())), json.loads(bytes(v.tolist()))
                if gj != wj:
                    print(f"{k}: nf4 {gj} != bitsandbytes {wj}")
                    bad += 1
                continue
            diff = (got.view(torch.uint8) != v.contiguous().view(torch.uint8)).sum().item()
            if diff:
                print(f"{k}: {diff} of {v.numel() * v.element_size()} bytes differ")
                bad += 1
    print(f"bnb-bytes: {len(names)} weights compared, {bad} tensors differ")
    sys.exit(1 if bad else 0)


def tokenize(path, texts_json, out):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(path)
    res = []
    for t in json.loads(texts_json):
        plain = tok.encode(t, add_special_tokens=False).ids
        special = tok.encode(t, add_special_tokens=True).ids
        res.append({"ids": plain, "special": special, "decoded": tok.decode(plain, skip_special_tokens=False)})
    with open(out, "w") as f:
        json.dump(res, f)


if __name__ == "__main__":
    cmds = {"model": model, "logits": logits, "quantize": quantize, "peft": peft, "bnb-bytes": bnb_bytes, "tokenize": tokenize}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        raise SystemExit(__doc__)
    cmds[sys.argv[1]](*sys.argv[2:])
