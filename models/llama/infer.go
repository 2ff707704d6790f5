package llama

import (
	"fmt"
	"math"
	"runtime"
	"sync"
)

// kvCache holds one sequence's keys and values, per layer [capacity·kvDim],
// rotated keys as attention reads them.
type kvCache struct {
	k, v [][]float32
	n    int // positions filled
	cap  int
}

func (m *Model) newCache(capacity int) *kvCache {
	c := &kvCache{cap: capacity}
	kv := m.Config.NumKeyValueHeads * m.Config.HeadDim
	for range m.Layers {
		c.k = append(c.k, make([]float32, capacity*kv))
		c.v = append(c.v, make([]float32, capacity*kv))
	}
	return c
}

// scratch holds the activations of one forward step, grown as needed.
type scratch struct {
	x, h, q, k, v, att, o, gate, up []float32
	cos, sin                        []float32
}

func grow(b []float32, n int) []float32 {
	if cap(b) < n {
		return make([]float32, n)
	}
	return b[:n]
}

func (s *scratch) size(c *Config, rows int) {
	d, hd := c.HiddenSize, c.HeadDim
	s.x = grow(s.x, rows*d)
	s.h = grow(s.h, rows*d)
	s.q = grow(s.q, rows*c.NumAttentionHeads*hd)
	s.k = grow(s.k, rows*c.NumKeyValueHeads*hd)
	s.v = grow(s.v, rows*c.NumKeyValueHeads*hd)
	s.att = grow(s.att, rows*c.NumAttentionHeads*hd)
	s.o = grow(s.o, rows*d)
	s.gate = grow(s.gate, rows*c.IntermediateSize)
	s.up = grow(s.up, rows*c.IntermediateSize)
	s.cos = grow(s.cos, rows*hd/2)
	s.sin = grow(s.sin, rows*hd/2)
}

// row says which sequence a row of the step belongs to and its position.
type row struct{ seq, pos int }

// forward runs the tokens toks[b] of each sequence b through the decoder,
// appending their keys and values to caches[b], and returns the final
// hidden states (after the last norm) of every row, in order.
func (m *Model) forward(s *scratch, caches []*kvCache, toks [][]int) ([]float32, []row, error) {
	c := m.Config
	var rows []row
	for b, t := range toks {
		kc := caches[b]
		if kc.n+len(t) > kc.cap {
			return nil, nil, fmt.Errorf("llama: sequence %d: %d cached + %d new tokens exceed the cache of %d", b, kc.n, len(t), kc.cap)
		}
		for i, id := range t {
			if id < 0 || id >= c.VocabSize {
				return nil, nil, fmt.Errorf("llama: sequence %d, token %d: id %d is outside the vocabulary (size %d)", b, i, id, c.VocabSize)
			}
			rows = append(rows, row{b, kc.n + i})
		}
	}
	M := len(rows)
	if M == 0 {
		return nil, nil, nil
	}
	s.size(c, M)
	d, hd, half := c.HiddenSize, c.HeadDim, c.HeadDim/2
	qDim, kvDim := c.NumAttentionHeads*hd, c.NumKeyValueHeads*hd
	i := 0
	for _, t := range toks {
		for _, id := range t {
			m.Embed.embedRow(s.x[i*d:(i+1)*d], id)
			i++
		}
	}
	for r, rw := range rows {
		m.rope.table(s.cos[r*half:(r+1)*half], s.sin[r*half:(r+1)*half], rw.pos)
	}
	e := m.engine
	for li, l := range m.Layers {
		rmsNorm(s.h, s.x, l.InputNorm.Data().([]float32), M, c.RMSNormEps)
		for _, p := range []struct {
			lin *Linear
			out []float32
		}{{l.Q, s.q}, {l.K, s.k}, {l.V, s.v}} {
			if err := p.lin.forward(e, p.out, s.h, M); err != nil {
				return nil, nil, err
			}
		}
		for r, rw := range rows {
			cs, sn := s.cos[r*half:(r+1)*half], s.sin[r*half:(r+1)*half]
			for h := range c.NumAttentionHeads {
				applyRope(s.q[r*qDim+h*hd:r*qDim+(h+1)*hd], cs, sn)
			}
			for h := range c.NumKeyValueHeads {
				applyRope(s.k[r*kvDim+h*hd:r*kvDim+(h+1)*hd], cs, sn)
			}
			kc := caches[rw.seq]
			copy(kc.k[li][rw.pos*kvDim:(rw.pos+1)*kvDim], s.k[r*kvDim:(r+1)*kvDim])
			copy(kc.v[li][rw.pos*kvDim:(rw.pos+1)*kvDim], s.v[r*kvDim:(r+1)*kvDim])
		}
		m.attend(s, caches, rows, li)
		if err := l.O.forward(e, s.o, s.att, M); err != nil {
			return nil, nil, err
		}
		add(s.x[:M*d], s.o[:M*d])
		rmsNorm(s.h, s.x, l.PostNorm.Data().([]float32), M, c.RMSNormEps)
		if err := l.Gate.forward(e, s.gate, s.h, M); err != nil {
			return nil, nil, err
		}
		if err := l.Up.forward(e, s.up, s.h, M); err != nil {
			return nil, nil, err
		}
		g, u := s.gate[:M*c.IntermediateSize], s.up[:M*c.IntermediateSize]
		for i, v := range g {
			g[i] = silu(v) * u[i]
		}
		if err := l.Down.forward(e, s.o, g, M); err != nil {
			return nil, nil, err
		}
		add(s.x[:M*d], s.o[:M*d])
	}
	for b, t := range toks {
		caches[b].n += len(t)
	}
	out := make([]float32, M*d)
	rmsNorm(out, s.x, m.Norm.Data().([]float32), M, c.RMSNormEps)
	return out, rows, nil
}

func add(dst, src []float32) {
	for i, v := range src {
		dst[i] += v
	}
}

// attend computes the causal attention of every row over its sequence's
// cache (positions 0…pos), heads sharing key/value heads in groups.
func (m *Model) attend(s *scratch, caches []*kvCache, rows []row, layer int) {
	c := m.Config
	hd, H := c.HeadDim, c.NumAttentionHeads
	qDim, kvDim := H*hd, c.NumKeyValueHeads*hd
	groups := c.groups()
	scale := float32(1 / math.Sqrt(float64(hd)))
	work := func(lo, hi int, scores []float32) []float32 {
		for j := lo; j < hi; j++ {
			r, h := j/H, j%H
			rw := rows[r]
			kc := caches[rw.seq]
			kh := h / groups
			q := s.q[r*qDim+h*hd : r*qDim+(h+1)*hd]
			n := rw.pos + 1
			scores = grow(scores, n)
			best := float32(math.Inf(-1))
			for t := range n {
				k := kc.k[layer][t*kvDim+kh*hd : t*kvDim+(kh+1)*hd]
				var dot float32
				for i, v := range q {
					dot += v * k[i]
				}
				scores[t] = dot * scale
				best = max(best, scores[t])
			}
			var sum float32
			for t := range n {
				e := float32(math.Exp(float64(scores[t] - best)))
				scores[t] = e
				sum += e
			}
			out := s.att[r*qDim+h*hd : r*qDim+(h+1)*hd]
			clear(out)
			inv := 1 / sum
			for t := range n {
				p := scores[t] * inv
				v := kc.v[layer][t*kvDim+kh*hd : t*kvDim+(kh+1)*hd]
				for i, x := range v {
					out[i] += p * x
				}
			}
		}
		return scores
	}
	total := len(rows) * H
	cost := 0
	for _, rw := range rows {
		cost += (rw.pos + 1) * H * hd
	}
	workers := runtime.GOMAXPROCS(0)
	if workers == 1 || cost < 1<<15 {
		work(0, total, nil)
		return
	}
	var wg sync.WaitGroup
	chunk := (total + workers - 1) / workers
	for lo := 0; lo < total; lo += chunk {
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			work(lo, hi, nil)
		}(lo, min(lo+chunk, total))
	}
	wg.Wait()
}

// logits projects hidden states [rows, hidden] onto the vocabulary.
func (m *Model) logits(hidden []float32, rows int) ([]float32, error) {
	out := make([]float32, rows*m.Config.VocabSize)
	if err := m.LMHead.forward(m.engine, out, hidden, rows); err != nil {
		return nil, err
	}
	return out, nil
}

// Logits returns the logits [len(ids), vocab] of one sequence, row t
// predicting token t+1, as transformers' model(input_ids).logits does.
func (m *Model) Logits(ids []int) ([]float32, error) {
	ls, err := m.BatchLogits([][]int{ids})
	if err != nil {
		return nil, err
	}
	return ls[0], nil
}

// BatchLogits returns the logits of each sequence of a batch (sequences of
// any lengths; each gets positions 0…len−1 of its own).
func (m *Model) BatchLogits(batch [][]int) ([][]float32, error) {
	caches := make([]*kvCache, len(batch))
	for b, ids := range batch {
		if len(ids) == 0 {
			return nil, fmt.Errorf("llama: sequence %d is empty", b)
		}
		if len(ids) > m.Config.MaxPositionEmbeddings {
			return nil, fmt.Errorf("llama: sequence %d has %d tokens, longer than the context of %d (max_position_embeddings)", b, len(ids), m.Config.MaxPositionEmbeddings)
		}
		caches[b] = m.newCache(len(ids))
	}
	var s scratch
	hidden, rows, err := m.forward(&s, caches, batch)
	if err != nil {
		return nil, err
	}
	all, err := m.logits(hidden, len(rows))
	if err != nil {
		return nil, err
	}
	V := m.Config.VocabSize
	out := make([][]float32, len(batch))
	at := 0
	for b, ids := range batch {
		out[b] = all[at*V : (at+len(ids))*V]
		at += len(ids)
	}
	return out, nil
}

// PaddedLogits takes a batch as transformers does, ids [B][T] with an
// attention mask (1 for a token, 0 for padding, on either side), and
// returns logits [B][T·vocab], zero at padded positions. Positions count
// the unmasked tokens only, as generate() computes them.
func (m *Model) PaddedLogits(ids, mask [][]int) ([][]float32, error) {
	if len(ids) != len(mask) {
		return nil, fmt.Errorf("llama: %d sequences but %d mask rows", len(ids), len(mask))
	}
	batch := make([][]int, len(ids))
	for b := range ids {
		if len(ids[b]) != len(mask[b]) {
			return nil, fmt.Errorf("llama: sequence %d has %d ids but %d mask values", b, len(ids[b]), len(mask[b]))
		}
		for t, v := range mask[b] {
			switch v {
			case 1:
				batch[b] = append(batch[b], ids[b][t])
			case 0:
			default:
				return nil, fmt.Errorf("llama: mask[%d][%d] = %d: want 0 or 1", b, t, v)
			}
		}
	}
	ls, err := m.BatchLogits(batch)
	if err != nil {
		return nil, err
	}
	V := m.Config.VocabSize
	out := make([][]float32, len(ids))
	for b := range ids {
		out[b] = make([]float32, len(ids[b])*V)
		j := 0
		for t, v := range mask[b] {
			if v == 1 {
				copy(out[b][t*V:(t+1)*V], ls[b][j*V:(j+1)*V])
				j++
			}
		}
	}
	return out, nil
}
