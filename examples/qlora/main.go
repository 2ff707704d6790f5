// Command qlora walks through QLoRA on the CPU, with nothing to download:
// it trains a small float32 MLP on a synthetic task, quantizes its weights
// to NF4, shows what quantization costs, then fine-tunes LoRA adapters over
// the frozen NF4 weights on a shifted task.
//
//	go run ./examples/qlora [-hidden 512] [-layers 3] [-pretrain 600] [-finetune 300] [-save DIR] [-load DIR]
//
// -save DIR writes the quantized base (DIR/model.safetensors, NF4 in the
// bitsandbytes layout) and the adapters (DIR/adapter_model.safetensors and
// adapter_config.json, the PEFT layout), reloads them and checks that the
// reloaded model has the trained loss. -load DIR skips training and
// evaluates a saved model on the same task.
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"time"

	"github.com/nf4go/nf4"
	"github.com/nf4go/nf4/checkpoint"
	G "gorgonia.org/gorgonia"
)

type config struct {
	in, hidden, layers, classes int
	batch, evalBatches          int
	pretrain, finetune          int
	rank                        int
	alpha, lr, shift            float64
	blockSize                   int
	seed                        uint64
	save, load                  string
}

func main() {
	var c config
	flag.IntVar(&c.in, "in", 64, "input features")
	flag.IntVar(&c.hidden, "hidden", 512, "width of the hidden layers")
	flag.IntVar(&c.layers, "layers", 3, "number of hidden layers")
	flag.IntVar(&c.classes, "classes", 10, "number of classes")
	flag.IntVar(&c.batch, "batch", 64, "batch size")
	flag.IntVar(&c.evalBatches, "eval", 16, "batches in each evaluation set")
	flag.IntVar(&c.pretrain, "pretrain", 600, "float32 training steps")
	flag.IntVar(&c.finetune, "finetune", 300, "LoRA fine-tuning steps")
	flag.IntVar(&c.rank, "rank", 8, "LoRA rank")
	flag.Float64Var(&c.alpha, "alpha", 16, "LoRA alpha (the update is scaled by alpha/rank)")
	flag.Float64Var(&c.lr, "lr", 2e-3, "Adam learning rate")
	flag.Float64Var(&c.shift, "shift", 0.8, "how far the fine-tuning task moves from the first")
	flag.IntVar(&c.blockSize, "block-size", nf4.DefaultBlockSize, "NF4 block size")
	flag.Uint64Var(&c.seed, "seed", 1, "random seed")
	flag.StringVar(&c.save, "save", "", "save the quantized base and the adapters to this directory, and check they reload to the same loss")
	flag.StringVar(&c.load, "load", "", "evaluate a model saved with -save instead of training one")
	flag.Parse()
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "qlora:", err)
		os.Exit(1)
	}
}

func run(c config) error {
	if c.in <= 0 || c.hidden <= 0 || c.layers <= 0 || c.classes <= 1 || c.batch <= 0 || c.evalBatches <= 0 || c.pretrain < 0 || c.finetune < 0 {
		return fmt.Errorf("sizes and step counts must be positive (and classes ≥ 2)")
	}
	r := rand.New(rand.NewPCG(c.seed, 0x9e3779b97f4a7c15))
	engine, err := nf4.NewEngine(engineOptions()...)
	if err != nil {
		return err
	}
	defer engine.Close()
	fmt.Printf("nf4 QLoRA example, engine: %v\n\n", engine)

	sizes := []int{c.in}
	for range c.layers {
		sizes = append(sizes, c.hidden)
	}
	sizes = append(sizes, c.classes)
	taskA := newTeacher(r, c.in, 64, c.classes)
	taskB := taskA.shifted(r, c.shift)
	evalA := make([]batch, c.evalBatches)
	evalB := make([]batch, c.evalBatches)
	for i := range evalA {
		evalA[i] = taskA.batch(r, c.batch)
		evalB[i] = taskB.relabel(evalA[i])
	}

	if c.load != "" {
		n, err := load(c.load, sizes, c.batch, engine)
		if err != nil {
			return err
		}
		loss, acc, err := n.evaluate(evalB)
		if err != nil {
			return err
		}
		fmt.Printf("loaded %s: task B, NF4 + LoRA: loss %.4f, accuracy %.1f%%\n", c.load, loss, 100*acc)
		return nil
	}

	// 1. Train the float32 model on task A.
	model := newMLP(r, sizes)
	fmt.Printf("1. float32 MLP %v, trained on task A for %d steps (batch %d)\n", sizes, c.pretrain, c.batch)
	train, err := floatNetwork(model, c.batch, engine, true)
	if err != nil {
		return err
	}
	perStep, err := fit(train, func() batch { return taskA.batch(r, c.batch) }, c.pretrain, c.lr)
	if err != nil {
		return err
	}
	eval, err := floatNetwork(model, c.batch, engine, false)
	if err != nil {
		return err
	}
	lossA, accA, err := eval.evaluate(evalA)
	if err != nil {
		return err
	}
	fmt.Printf("   %.1f ms/step; task A: loss %.4f, accuracy %.1f%%\n\n", ms(perStep), lossA, 100*accA)

	// 2. Quantize every weight to NF4, and with double quantization.
	var quantized []*nf4.Tensor
	var f32Bytes, nf4Bytes, dqBytes int
	for _, w := range model.weights {
		q, err := nf4.Quantize(w, nf4.WithBlockSize(c.blockSize))
		if err != nil {
			return err
		}
		dq, err := nf4.Quantize(w, nf4.WithBlockSize(c.blockSize), nf4.WithDoubleQuant())
		if err != nil {
			return err
		}
		quantized = append(quantized, q)
		f32Bytes += q.Float32Bytes()
		nf4Bytes += q.Bytes()
		dqBytes += dq.Bytes()
	}
	fmt.Printf("2. weights quantized to NF4 (block %d)\n", c.blockSize)
	for l, q := range quantized {
		fmt.Printf("   layer %d: %v\n", l, q)
	}
	fmt.Printf("   weight memory: float32 %s, NF4 %s (%.2f×), NF4 double-quantized %s (%.2f×)\n",
		nf4.HumanBytes(f32Bytes), nf4.HumanBytes(nf4Bytes), float64(f32Bytes)/float64(nf4Bytes),
		nf4.HumanBytes(dqBytes), float64(f32Bytes)/float64(dqBytes))
	base, _, err := loraNetwork(model, quantized, c.rank, c.alpha, c.batch, engine, false, c.seed)
	if err != nil {
		return err
	}
	qLossA, qAccA, err := base.evaluate(evalA)
	if err != nil {
		return err
	}
	fmt.Printf("   task A after quantization: loss %.4f (%+.4f), accuracy %.1f%% (%+.1f points)\n\n",
		qLossA, qLossA-lossA, 100*qAccA, 100*(qAccA-accA))

	// 3. Fine-tune LoRA adapters on task B over the frozen NF4 weights.
	qLossB, qAccB, err := base.evaluate(evalB)
	if err != nil {
		return err
	}
	tune, layers, err := loraNetwork(model, quantized, c.rank, c.alpha, c.batch, engine, true, c.seed)
	if err != nil {
		return err
	}
	trainable, frozen := 0, 0
	for l, layer := range layers {
		trainable += layer.TrainableParams()
		frozen += quantized[l].Size()
	}
	fmt.Printf("3. LoRA (rank %d, alpha %g) on every layer, fine-tuned on task B for %d steps\n", c.rank, c.alpha, c.finetune)
	fmt.Printf("   trainable parameters: %d (%.2f%% of the %d frozen NF4 weights)\n", trainable, 100*float64(trainable)/float64(frozen), frozen)
	fmt.Printf("   task B, quantized base: loss %.4f, accuracy %.1f%%\n", qLossB, 100*qAccB)
	perStep, err = fit(tune, func() batch { return taskB.relabel(taskA.batch(r, c.batch)) }, c.finetune, c.lr)
	if err != nil {
		return err
	}
	check, _, err := loraNetwork(model, quantized, c.rank, c.alpha, c.batch, engine, false, c.seed)
	if err != nil {
		return err
	}
	if err := copyAdapters(check, tune); err != nil {
		return err
	}
	tLossB, tAccB, err := check.evaluate(evalB)
	if err != nil {
		return err
	}
	fmt.Printf("   %.1f ms/step\n", ms(perStep))
	fmt.Printf("   task B, NF4 + LoRA: loss %.4f (%.0f%% below the quantized base), accuracy %.1f%% (%+.1f points)\n",
		tLossB, 100*(1-tLossB/qLossB), 100*tAccB, 100*(tAccB-qAccB))
	if c.save == "" {
		return nil
	}

	// 4. Save the base and the adapters, reload them, check the loss.
	if err := save(c.save, model, quantized, layers); err != nil {
		return err
	}
	reloaded, err := load(c.save, sizes, c.batch, engine)
	if err != nil {
		return err
	}
	rLossB, rAccB, err := reloaded.evaluate(evalB)
	if err != nil {
		return err
	}
	fmt.Printf("\n4. saved to %s (%s, %s, %s) and reloaded\n", c.save, modelFile, checkpoint.AdapterWeightsFile, checkpoint.AdapterConfigFile)
	fmt.Printf("   task B, reloaded: loss %.4f, accuracy %.1f%% (trained: loss %.4f, accuracy %.1f%%)\n", rLossB, 100*rAccB, tLossB, 100*tAccB)
	if rLossB != tLossB || rAccB != tAccB {
		return fmt.Errorf("the reloaded model's loss %v differs from the trained %v", rLossB, tLossB)
	}
	fmt.Println("   identical")
	return nil
}

// fit runs steps of Adam on the network's learnables and returns the mean
// time per step.
func fit(n *network, next func() batch, steps int, lr float64) (time.Duration, error) {
	solver := G.NewAdamSolver(G.WithLearnRate(lr))
	start := time.Now()
	for step := range steps {
		loss, _, err := n.run(next())
		if err != nil {
			return 0, err
		}
		if err := solver.Step(G.NodesToValueGrads(n.learnables)); err != nil {
			return 0, err
		}
		if (step+1)%max(1, steps/5) == 0 {
			fmt.Printf("   step %4d: loss %.4f\n", step+1, loss)
		}
	}
	if steps == 0 {
		return 0, nil
	}
	return time.Since(start) / time.Duration(steps), nil
}

// copyAdapters gives the evaluation network the trained adapter values.
func copyAdapters(dst, src *network) error {
	if len(dst.learnables) != len(src.learnables) {
		return fmt.Errorf("networks differ: %d and %d learnables", len(dst.learnables), len(src.learnables))
	}
	for i, n := range src.learnables {
		if err := G.Let(dst.learnables[i], n.Value()); err != nil {
			return err
		}
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
