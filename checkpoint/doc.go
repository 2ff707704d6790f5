// Package checkpoint reads and writes safetensors files: float tensors,
// 4-bit weights (NF4 or FP4) in the bitsandbytes / Hugging Face layout, and
// LoRA adapters in the PEFT layout. What it writes for a 4-bit weight is
// what bitsandbytes writes, byte for byte (testdata/bnb holds files made
// by bitsandbytes' own code, and the tests compare against them); it reads
// every 4-bit layout bitsandbytes writes: packed codes in any storage
// dtype, any shape, blocks spanning rows, a partial last block.
//
// Files are memory-mapped and checked strictly before any tensor is read:
// the header must be one JSON object, offsets must tile the data section
// exactly, and every byte length must match dtype×shape. Every error names
// the file and, where there is one, the tensor. A mapped file that another
// program truncates while it is read is an error wrapping ErrFileChanged,
// not a SIGBUS that kills the process (the slices Raw returns are the one
// exception: a caller reading them itself is not protected).
//
// Outputs go to temporary files beside their targets that are renamed
// into place only once every file of the run (shards, index, config.json)
// is complete, so a failed or interrupted run never leaves a partial file
// under a target name, and leaves an earlier output as it was. An output
// is never one of the files read, compared by device and inode, and never
// anything but a regular file or a new name (see CheckOutput).
//
// The container code is our own, over github.com/edsrzf/mmap-go and
// github.com/x448/float16: the Go safetensors libraries serialize from
// tensors held whole in memory (a quantized checkpoint would need the whole
// output in RAM, where this package streams one tensor at a time) and
// report parse errors without the tensor's name.
//
// The in-memory NF4 format keeps element 2i in the low nibble;
// bitsandbytes keeps it in the high nibble. The swap happens here, at the
// file boundary, and nowhere else.
package checkpoint
