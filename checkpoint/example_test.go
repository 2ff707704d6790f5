package checkpoint_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/nf4go/nf4"
	"github.com/nf4go/nf4/checkpoint"
	"gorgonia.org/tensor"
)

// Store an NF4 weight in the bitsandbytes layout and read it back.
func Example() {
	dir, _ := os.MkdirTemp("", "nf4")
	defer os.RemoveAll(dir)
	w := make([]float32, 4*128)
	for i := range w {
		w[i] = float32(i%7) - 3
	}
	q, err := nf4.QuantizeFloat32s(w, 4, 128, nf4.WithDoubleQuant())
	if err != nil {
		log.Fatal(err)
	}
	path := filepath.Join(dir, "model.safetensors")
	entries, err := checkpoint.NF4Entries("layer.weight", q, checkpoint.F32)
	if err != nil {
		log.Fatal(err)
	}
	if err := checkpoint.WriteFile(context.Background(), path, map[string]string{"format": "pt"}, entries, nil); err != nil {
		log.Fatal(err)
	}
	c, err := checkpoint.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	for _, t := range c.Tensors() {
		fmt.Println(t.Name, t.DType, t.Shape)
	}
	js, _, _ := c.Raw("layer.weight.quant_state.bitsandbytes__nf4")
	fmt.Println(string(js))
	back, _, err := c.NF4("layer.weight")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(back.Rows(), back.Cols(), back.BlockSize(), back.DoubleQuant())
	// Output:
	// layer.weight U8 [256 1]
	// layer.weight.absmax U8 [8]
	// layer.weight.quant_map F32 [16]
	// layer.weight.nested_absmax F32 [1]
	// layer.weight.nested_quant_map F32 [256]
	// layer.weight.quant_state.bitsandbytes__nf4 U8 [151]
	// {"quant_type": "nf4", "blocksize": 64, "dtype": "float32", "shape": [4, 128], "nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": 3.0}
	// 4 128 64 true
}

// Quantize a float checkpoint file to NF4.
func ExampleQuantizeFile() {
	dir, _ := os.MkdirTemp("", "nf4")
	defer os.RemoveAll(dir)
	in := filepath.Join(dir, "float.safetensors")
	w := make([]float32, 8*64)
	for i := range w {
		w[i] = float32(i%11) / 10
	}
	err := checkpoint.WriteFile(context.Background(), in, nil, []checkpoint.Entry{
		{Name: "proj.weight", DType: checkpoint.BF16, Shape: []int{8, 64}, Data: checkpoint.EncodeFloats(nil, w, checkpoint.BF16)},
		{Name: "proj.bias", DType: checkpoint.F32, Shape: []int{8}, Data: checkpoint.EncodeFloats(nil, w[:8], checkpoint.F32)},
	}, nil)
	if err != nil {
		log.Fatal(err)
	}
	rep, err := checkpoint.QuantizeFile(context.Background(), in, filepath.Join(dir, "nf4.safetensors"), checkpoint.QuantizeOptions{BlockSize: 64})
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range rep.Steps {
		fmt.Println(s.Name, s.Action, s.From, "→", s.To)
	}
	// Output:
	// proj.weight nf4 BF16 → NF4/64
	// proj.bias copy F32 → F32
}

// Save LoRA adapters in the PEFT layout and load them again.
func ExampleSaveAdapter() {
	dir, _ := os.MkdirTemp("", "nf4")
	defer os.RemoveAll(dir)
	a := &checkpoint.Adapter{Rank: 2, Alpha: 4, Layers: []checkpoint.LoRALayer{{
		Module: "model.layers.0.self_attn.q_proj",
		A:      tensor.New(tensor.WithShape(2, 64), tensor.Of(tensor.Float32)),
		B:      tensor.New(tensor.WithShape(32, 2), tensor.Of(tensor.Float32)),
	}}}
	if err := checkpoint.SaveAdapter(dir, a); err != nil {
		log.Fatal(err)
	}
	back, err := checkpoint.LoadAdapter(dir)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(back, back.TargetModules, back.Layers[0].A.Shape(), back.Layers[0].B.Shape())
	// Output:
	// LoRA r=2 alpha=4 on 1 modules [q_proj] (2, 64) (32, 2)
}
