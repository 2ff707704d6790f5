// Package tokenizer reads Hugging Face tokenizer.json files and encodes and
// decodes text as the tokenizers library does, for the BPE tokenizers of
// the Llama family:
//
//   - byte-level BPE as GPT-2 and Llama 3 use it (the ByteLevel
//     pre-tokenizer, GPT-2's split or Llama 3's Split pattern, merges over
//     bytes mapped to printable characters, ignore_merges);
//   - SentencePiece-style BPE as Llama 2, TinyLlama and Mistral use it
//     (spaces replaced by "▁" through the Prepend/Replace normalizers or
//     the Metaspace pre-tokenizer, byte fallback to <0xXX> tokens, fused
//     unknowns);
//
// with added and special tokens, the TemplateProcessing post-processor
// (a BOS token) and the matching decoders. Tokenizer files are checked
// when loaded: anything this package would not reproduce exactly (an
// unknown component, a split pattern Go cannot run) is an error naming it,
// never a silently different encoding.
//
// The split patterns GPT-2 and Llama 3 declare need look-ahead, which Go's
// regexp lacks; they are recognised by their text and run by hand-written
// scanners. Other Split patterns are compiled with Go's regexp.
//
// No maintained pure-Go library covered these cases: github.com/sugarme/tokenizer
// mis-splits whitespace in byte-level BPE (its split pattern drops the
// look-ahead), has no byte fallback for BPE and panics on bad input;
// others read SentencePiece .model files or wrap the Rust library with cgo.
package tokenizer
