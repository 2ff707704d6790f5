package llama

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"time"
)

// GenerateOptions controls Generate.
type GenerateOptions struct {
	MaxNewTokens int // per prompt (default 32)
	// Temperature 0 decodes greedily; otherwise logits are divided by it,
	// then TopK (0: all) and TopP (0 or 1: all) filter them, in the order
	// transformers applies them, and the next token is drawn.
	Temperature float64
	TopK        int
	TopP        float64
	Seed        uint64 // 0: random
	// Stop ends a sequence when it produces one of these ids (default: the
	// config's eos_token_id); the stop token is kept in the output.
	Stop []int
	// Progress, when set, is told after each step how many tokens have been
	// generated and the most there can be.
	Progress func(done, total int)
}

// Generation is what Generate produced.
type Generation struct {
	Tokens  [][]int  // the new tokens of each prompt
	Reasons []string // why each stopped: "stop", "length" or "context"
	// Prompt and new token counts, and the time the prompts (prefill) and
	// the token-by-token steps (decode) took.
	PromptTokens, NewTokens int
	Prefill, Decode         time.Duration
}

// TokensPerSecond returns the decode rate: new tokens after the first, per
// second of decode steps (0 when there were none).
func (g *Generation) TokensPerSecond() float64 {
	steps := g.NewTokens - len(g.Tokens)
	if steps <= 0 || g.Decode <= 0 {
		return 0
	}
	return float64(steps) / g.Decode.Seconds()
}

func (g *Generation) String() string {
	return fmt.Sprintf("%d prompts, %d prompt tokens in %v (%.0f tokens/s), %d new tokens, decoding at %.1f tokens/s",
		len(g.Tokens), g.PromptTokens, g.Prefill.Round(time.Millisecond), float64(g.PromptTokens)/max(g.Prefill.Seconds(), 1e-9),
		g.NewTokens, g.TokensPerSecond())
}

// Generate continues each prompt (token ids; prompts may differ in length
// and run as one batch, each at its own positions) with a key/value cache:
// every prompt is run once, then each step feeds one token per unfinished
// sequence.
func (m *Model) Generate(prompts [][]int, o GenerateOptions) (*Generation, error) {
	c := m.Config
	if o.MaxNewTokens == 0 {
		o.MaxNewTokens = 32
	}
	switch {
	case len(prompts) == 0:
		return nil, fmt.Errorf("llama: Generate: no prompts")
	case o.MaxNewTokens < 0:
		return nil, fmt.Errorf("llama: Generate: MaxNewTokens %d is negative", o.MaxNewTokens)
	case !(o.Temperature >= 0) || math.IsInf(o.Temperature, 0):
		return nil, fmt.Errorf("llama: Generate: temperature %v: want 0 (greedy) or a positive number", o.Temperature)
	case o.TopK < 0:
		return nil, fmt.Errorf("llama: Generate: TopK %d is negative", o.TopK)
	case !(o.TopP >= 0 && o.TopP <= 1):
		return nil, fmt.Errorf("llama: Generate: TopP %v: want a value in [0, 1]", o.TopP)
	}
	stop := o.Stop
	if stop == nil {
		stop = c.EOSTokenID
	}
	seed := o.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	rng := rand.New(rand.NewPCG(seed, 0x67656e))
	g := &Generation{Tokens: make([][]int, len(prompts)), Reasons: make([]string, len(prompts))}
	caches := make([]*kvCache, len(prompts))
	limit := make([]int, len(prompts))
	total := 0
	for i, p := range prompts {
		switch {
		case len(p) == 0:
			return nil, fmt.Errorf("llama: Generate: prompt %d is empty", i)
		case len(p) >= c.MaxPositionEmbeddings:
			return nil, fmt.Errorf("llama: Generate: prompt %d has %d tokens: the context holds %d (max_position_embeddings), so nothing can follow", i, len(p), c.MaxPositionEmbeddings)
		}
		limit[i] = min(o.MaxNewTokens, c.MaxPositionEmbeddings-len(p))
		caches[i] = m.newCache(len(p) + limit[i])
		g.PromptTokens += len(p)
		total += limit[i]
	}
	var s scratch
	start := time.Now()
	hidden, _, err := m.forward(&s, caches, prompts)
	if err != nil {
		return nil, err
	}
	// the logits of each prompt's last token only
	d := c.HiddenSize
	last := make([]float32, len(prompts)*d)
	at := 0
	for i, p := range prompts {
		at += len(p)
		copy(last[i*d:(i+1)*d], hidden[(at-1)*d:at*d])
	}
	active := make([]int, 0, len(prompts))
	for i := range prompts {
		active = append(active, i)
	}
	first := true
	for len(active) > 0 {
		logits, err := m.logits(last, len(active))
		if err != nil {
			return nil, err
		}
		if first {
			g.Prefill = time.Since(start)
			start = time.Now()
			first = false
		}
		V := c.VocabSize
		next := active[:0:0]
		var feed [][]int
		var feedCaches []*kvCache
		for j, i := range active {
			tok := sample(logits[j*V:(j+1)*V], o, rng)
			g.Tokens[i] = append(g.Tokens[i], tok)
			g.NewTokens++
			switch {
			case contains(stop, tok):
				g.Reasons[i] = "stop"
			case len(g.Tokens[i]) >= limit[i]:
				g.Reasons[i] = "length"
				if limit[i] < o.MaxNewTokens {
					g.Reasons[i] = "context"
				}
			default:
				next = append(next, i)
				feed = append(feed, []int{tok})
				feedCaches = append(feedCaches, caches[i])
			}
		}
		if o.Progress != nil {
			o.Progress(g.NewTokens, total)
		}
		active = next
		if len(active) == 0 {
			break
		}
		h, _, err := m.forward(&s, feedCaches, feed)
		if err != nil {
			return nil, err
		}
		last = h
	}
	g.Decode = time.Since(start)
	return g, nil
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// sample picks the next token from one row of logits.
func sample(logits []float32, o GenerateOptions, rng *rand.Rand) int {
	if o.Temperature == 0 {
		return argmax(logits)
	}
	type cand struct {
		id int
		p  float64
	}
	cs := make([]cand, len(logits))
	for i, v := range logits {
		cs[i] = cand{i, float64(v) / o.Temperature}
	}
	sort.SliceStable(cs, func(a, b int) bool { return cs[a].p > cs[b].p })
	if o.TopK > 0 && o.TopK < len(cs) {
		cs = cs[:o.TopK]
	}
	best := cs[0].p
	var sum float64
	for i := range cs {
		cs[i].p = math.Exp(cs[i].p - best)
		sum += cs[i].p
	}
	for i := range cs {
		cs[i].p /= sum
	}
	if o.TopP > 0 && o.TopP < 1 {
		// keep the smallest head whose mass reaches TopP
		var cum float64
		for i := range cs {
			cum += cs[i].p
			if cum >= o.TopP {
				cs = cs[:i+1]
				sum = cum
				break
			}
		}
		for i := range cs {
			cs[i].p /= sum
		}
	}
	u := rng.Float64()
	for _, c := range cs {
		if u < c.p {
			return c.id
		}
		u -= c.p
	}
	return cs[len(cs)-1].id
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}
