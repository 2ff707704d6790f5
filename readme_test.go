package nf4_test

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// readmeBlock is a fenced code block of README.md.
type readmeBlock struct {
	lang  string
	line  int // of the opening fence
	lines []string
}

func readmeBlocks(t *testing.T) []readmeBlock {
	t.Helper()
	f, err := os.Open("README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var blocks []readmeBlock
	var cur *readmeBlock
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		switch {
		case cur == nil && strings.HasPrefix(l, "```"):
			cur = &readmeBlock{lang: strings.TrimPrefix(l, "```"), line: n}
		case cur != nil && l == "```":
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.lines = append(cur.lines, l)
		}
	}
	if cur != nil {
		t.Fatalf("README.md:%d: unclosed code block", cur.line)
	}
	return blocks
}

var spaces = regexp.MustCompile(`\s+`)

// normalize drops blank lines and indentation and collapses runs of
// spaces, so gofmt's alignment of comments does not matter.
func normalize(lines []string) []string {
	var out []string
	for _, l := range lines {
		if l = strings.TrimSpace(spaces.ReplaceAllString(l, " ")); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func contains(hay, needle []string) bool {
	for i := 0; i+len(needle) <= len(hay); i++ {
		if equal(hay[i:i+len(needle)], needle) {
			return true
		}
	}
	return false
}

func equal(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return len(a) == len(b)
}

// Every Go block of the README is code that compiles and runs: it must
// appear word for word in a test file of this module, and what its
// comments say a Println prints must be an // Output: line there.
func TestREADMEGoBlocksAreExamples(t *testing.T) {
	var files []string
	for _, dir := range []string{".", "ops", "checkpoint", "models/llama"} {
		m, _ := filepath.Glob(filepath.Join(dir, "*_test.go"))
		files = append(files, m...)
	}
	sources := map[string][]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sources[f] = normalize(strings.Split(string(b), "\n"))
	}
	printed := regexp.MustCompile(`^fmt\.Println\(.*\) // (.+)$`)
	n := 0
	for _, b := range readmeBlocks(t) {
		if b.lang != "go" {
			continue
		}
		n++
		code := normalize(b.lines)
		found := ""
		for _, f := range files {
			if contains(sources[f], code) {
				found = f
				break
			}
		}
		if found == "" {
			t.Errorf("README.md:%d: this Go block is in no test file, so nothing compiles it", b.line)
			continue
		}
		for _, l := range code {
			if m := printed.FindStringSubmatch(l); m != nil && !contains(sources[found], []string{"// " + m[1]}) {
				t.Errorf("README.md:%d: %q is not what %s shows as printed", b.line, m[1], found)
			}
		}
	}
	if n == 0 {
		t.Error("no Go block found in README.md")
	}
}

// The README's shell blocks name only packages, folders and scripts that
// exist (the nf4 command lines themselves run in cmd/nf4's tests).
func TestREADMEShellBlocksNameWhatExists(t *testing.T) {
	path := regexp.MustCompile(`^(\./[\w./-]+|scripts/[\w.-]+|examples/[\w./-]+)$`)
	n := 0
	for _, b := range readmeBlocks(t) {
		if b.lang != "sh" {
			continue
		}
		for _, l := range b.lines {
			l, _, _ = strings.Cut(l, "#")
			for _, w := range strings.FieldsFunc(l, func(r rune) bool { return r == ' ' || r == '&' }) {
				if !path.MatchString(w) {
					continue
				}
				n++
				p := strings.TrimSuffix(w, "/...")
				if st, err := os.Stat(p); err != nil {
					t.Errorf("README.md:%d: %s does not exist", b.line, w)
				} else if strings.HasPrefix(w, "scripts/") && st.Mode()&0o111 == 0 {
					t.Errorf("README.md:%d: %s is not executable", b.line, w)
				}
			}
		}
	}
	if n < 5 {
		t.Errorf("only %d paths found in the README's shell blocks", n)
	}
}
