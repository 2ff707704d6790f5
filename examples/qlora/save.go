package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/nf4go/nf4"
	"github.com/nf4go/nf4/checkpoint"
	"github.com/nf4go/nf4/ops"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// modelFile holds the quantized base (NF4 weights in the bitsandbytes
// layout, float32 biases); the adapters sit next to it in the PEFT layout.
const modelFile = "model.safetensors"

func layerName(l int) string { return fmt.Sprintf("layer%d", l) }

// save writes the quantized base and the trained adapters to dir.
func save(dir string, m *mlp, quantized []*nf4.Tensor, layers []*ops.LoRA) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var es []checkpoint.Entry
	ad := &checkpoint.Adapter{Rank: layers[0].Rank, Alpha: layers[0].Alpha}
	for l, q := range quantized {
		nes, err := checkpoint.NF4Entries(layerName(l)+".weight", q, checkpoint.F32)
		if err != nil {
			return err
		}
		es = append(es, nes...)
		b := m.biases[l].Data().([]float32)
		es = append(es, checkpoint.Entry{Name: layerName(l) + ".bias", DType: checkpoint.F32,
			Shape: []int{len(b)}, Data: checkpoint.EncodeFloats(nil, b, checkpoint.F32)})
		ad.Layers = append(ad.Layers, checkpoint.LoRALayer{Module: layerName(l),
			A: layers[l].A.Value().(*tensor.Dense), B: layers[l].B.Value().(*tensor.Dense)})
	}
	if err := checkpoint.WriteFile(context.Background(), filepath.Join(dir, modelFile),
		map[string]string{"format": "pt"}, es, nil); err != nil {
		return err
	}
	return checkpoint.SaveAdapter(dir, ad)
}

// load reads what save wrote and builds an evaluation network from it.
func load(dir string, sizes []int, batchSize int, e *nf4.Engine) (*network, error) {
	c, err := checkpoint.Open(filepath.Join(dir, modelFile))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	ad, err := checkpoint.LoadAdapter(dir)
	if err != nil {
		return nil, err
	}
	m := &mlp{sizes: sizes}
	var quantized []*nf4.Tensor
	for l := 0; l+1 < len(sizes); l++ {
		q, _, err := c.NF4(layerName(l) + ".weight")
		if err != nil {
			return nil, err
		}
		if q.Rows() != sizes[l+1] || q.Cols() != sizes[l] {
			return nil, fmt.Errorf("%s: %s is [%d %d], the flags want [%d %d]", dir, layerName(l), q.Rows(), q.Cols(), sizes[l+1], sizes[l])
		}
		b, err := c.Dense(layerName(l) + ".bias")
		if err != nil {
			return nil, err
		}
		quantized = append(quantized, q)
		m.biases = append(m.biases, b)
	}
	if len(ad.Layers) != len(quantized) {
		return nil, fmt.Errorf("%s: %d adapters for %d layers", dir, len(ad.Layers), len(quantized))
	}
	n, _, err := loraNetwork(m, quantized, ad.Rank, ad.Alpha, batchSize, e, false, 1)
	if err != nil {
		return nil, err
	}
	for l, a := range ad.Layers {
		if a.Module != layerName(l) {
			return nil, fmt.Errorf("%s: adapter %d is for %s, want %s", dir, l, a.Module, layerName(l))
		}
		if err := G.Let(n.learnables[2*l], a.A); err != nil {
			return nil, err
		}
		if err := G.Let(n.learnables[2*l+1], a.B); err != nil {
			return nil, err
		}
	}
	return n, nil
}
