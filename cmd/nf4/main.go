// Command nf4 converts and inspects safetensors checkpoints: it quantizes
// float weights to NF4 in the bitsandbytes / Hugging Face 4-bit layout,
// turns them back into floats, merges LoRA adapters, and lists what a
// file holds.
//
// Exit status: 0 on success, 1 when the command fails (bad input, an I/O
// error, an interrupt), 2 on a usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

const usage = `usage: nf4 <command> [flags] [arguments]

Commands:
  quantize    quantize the float weights of a checkpoint to NF4
  inspect     list the tensors of a checkpoint
  dequantize  turn NF4 weights back into float tensors
  merge       merge a PEFT LoRA adapter into a checkpoint

Run "nf4 <command> --help" for the flags of a command.

Files are safetensors files; a sharded checkpoint is read through its
*.safetensors.index.json. No file a command reads is ever written, by any
path. Outputs replace only regular files (or a symbolic link's target),
and are written to temporaries renamed into place when every one is
complete, so a failed or interrupted run leaves an earlier output as it
was; see "nf4 quantize --help".

Exit status: 0 success, 1 failure (bad input, I/O error, interrupted),
2 usage error.
`

// takesValue reports whether word is a flag of fs that takes the next word
// as its value (a non-boolean flag written without "=").
func takesValue(fs *flag.FlagSet, word string) bool {
	name := strings.TrimLeft(word, "-")
	if !strings.HasPrefix(word, "-") || strings.Contains(name, "=") {
		return false
	}
	f := fs.Lookup(name)
	if f == nil {
		return false
	}
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return !ok || !b.IsBoolFlag()
}

// exit codes scripts can rely on
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

// usageError marks a mistake in the command line, as opposed to a failure
// of the work itself.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

type command struct {
	name string
	run  func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = []command{
	{"quantize", runQuantize},
	{"inspect", runInspect},
	{"dequantize", runDequantize},
	{"merge", runMerge},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// The first signal asks the run to stop cleanly; the second, with
		// the handler gone, ends the process at once.
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		var ue *usageError
		switch {
		case err == nil:
			return exitOK
		case errors.Is(err, flag.ErrHelp):
			return exitOK
		case errors.As(err, &ue):
			fmt.Fprintf(stderr, "nf4 %s: %v\nRun \"nf4 %s --help\" for usage.\n", c.name, err, c.name)
			return exitUsage
		case errors.Is(err, context.Canceled):
			fmt.Fprintf(stderr, "nf4 %s: interrupted; no output was written\n", c.name)
			return exitFailed
		default:
			fmt.Fprintf(stderr, "nf4 %s: %v\n", c.name, err)
			return exitFailed
		}
	}
	fmt.Fprintf(stderr, "nf4: unknown command %q\n\n%s", args[0], usage)
	return exitUsage
}

// newFlags makes a flag set whose --help prints the command's usage text
// and defaults to stdout.
func newFlags(name, text string, stdout io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fs.SetOutput(stdout)
		fmt.Fprint(stdout, text)
		fmt.Fprintln(stdout, "\nFlags:")
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// parse parses flags that may come before, between or after the
// positional arguments, and checks their number. After "--" every word is
// a positional argument.
func parse(fs *flag.FlagSet, args []string, want int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err // the flag set has printed the usage
			}
			return nil, usagef("%v", err)
		}
		rest := fs.Args()
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" && !(used > 1 && takesValue(fs, args[used-2])) {
			pos = append(pos, rest...)
			break
		}
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	if len(pos) != want {
		return nil, usagef("want %d arguments, have %d", want, len(pos))
	}
	return pos, nil
}
