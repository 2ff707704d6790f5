package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSaveReload runs a tiny configuration with -save: run itself fails
// unless the reloaded model reproduces the trained loss exactly; -load
// then evaluates the saved files on their own.
func TestSaveReload(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "saved")
	c := config{in: 32, hidden: 64, layers: 1, classes: 4, batch: 8, evalBatches: 2,
		pretrain: 5, finetune: 5, rank: 2, alpha: 4, lr: 2e-3, shift: 0.8, blockSize: 32, seed: 3, save: dir}
	if err := run(c); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"model.safetensors", "adapter_model.safetensors", "adapter_config.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	c.save, c.load = "", dir
	if err := run(c); err != nil {
		t.Fatal(err)
	}
	c.hidden = 96 // shapes that do not match the saved model
	if err := run(c); err == nil {
		t.Error("loading a model of other sizes succeeded")
	}
}
