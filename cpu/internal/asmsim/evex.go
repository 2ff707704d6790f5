package asmsim

import (
	"fmt"
	"strconv"
	"strings"
)

// byteRun collects consecutive BYTE directives: the kernels write the
// AVX-512 BF16 instructions, which the Go assembler lacks, as raw bytes.
type byteRun struct {
	lines []int // each byte's line
	bytes []byte
}

func (r *byteRun) add(line int, arg string) error {
	v, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(arg), "$"), 0, 8)
	if err != nil {
		return fmt.Errorf("bad BYTE value %q", arg)
	}
	r.lines = append(r.lines, line)
	r.bytes = append(r.bytes, byte(v))
	return nil
}

// decode splits the run into the instructions it encodes (comments
// between consecutive ones do not end a run): EVEX ones (0x62) of six
// bytes, and VEX ones (0xc4, the AMX instructions) of five or six.
func (r *byteRun) decode(file string) ([]Inst, error) {
	var out []Inst
	for i := 0; i < len(r.bytes); {
		var in Inst
		var n int
		var err error
		if r.bytes[i] == 0xc4 {
			in, n, err = decodeVEXAMX(r.bytes[i:min(i+6, len(r.bytes))])
		} else {
			n = min(evexLen, len(r.bytes)-i)
			in, err = decodeEVEX(r.bytes[i : i+n])
		}
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", file, r.lines[i], err)
		}
		in.Line = r.lines[i]
		out = append(out, in)
		i += n
	}
	r.lines, r.bytes = nil, nil
	return out, nil
}

const evexLen = 6

// decodeEVEX turns a run of bytes into the one instruction it encodes.
// Only the register forms the kernels use are accepted: 512-bit,
// unmasked, map 0F38, W0, VDPBF16PS (F3 52) and VCVTNE2PS2BF16 (F2 72).
func decodeEVEX(b []byte) (Inst, error) {
	if len(b) != evexLen || b[0] != 0x62 {
		return Inst{}, fmt.Errorf("byte run % x is not a 6-byte EVEX instruction", b)
	}
	p0, p1, p2, op, modrm := b[1], b[2], b[3], b[4], b[5]
	if p0&0x0f != 0x02 {
		return Inst{}, fmt.Errorf("byte run % x: not map 0F38", b)
	}
	if p1&0x80 != 0 || p1&0x04 == 0 {
		return Inst{}, fmt.Errorf("byte run % x: W1 or bad EVEX.P1", b)
	}
	if p2 != 0x48 && p2 != 0x40 {
		return Inst{}, fmt.Errorf("byte run % x: not 512-bit, unmasked and unbroadcast", b)
	}
	if modrm>>6 != 3 {
		return Inst{}, fmt.Errorf("byte run % x: memory operands not supported", b)
	}
	var name string
	switch pp := p1 & 3; {
	case pp == 2 && op == 0x52:
		name = "VDPBF16PS"
	case pp == 3 && op == 0x72:
		name = "VCVTNE2PS2BF16"
	default:
		return Inst{}, fmt.Errorf("byte run % x: unknown instruction", b)
	}
	inv := ^p0
	reg := int(modrm>>3&7) | int(inv>>7&1)<<3 | int(inv>>4&1)<<4
	rm := int(modrm&7) | int(inv>>5&1)<<3 | int(inv>>6&1)<<4
	vvvv := int(^p1>>3&15) | int(^p2>>3&1)<<4
	z := func(n int) Operand { return Operand{Kind: KindVec, Reg: n, Width: 64} }
	// Go operand order: the ModRM.rm source, the EVEX.vvvv source, the
	// destination.
	return Inst{Op: name, Args: []Operand{z(rm), z(vvvv), z(reg)},
		Text: fmt.Sprintf("%s Z%d, Z%d, Z%d", name, rm, vvvv, reg)}, nil
}
