package server

import (
	"encoding/binary"
	"math/bits"
	"slices"

	"golang.org/x/sys/unix"
)

// Compaction of a compiled seccomp program.
//
// libseccomp compiles Docker's default profile into about 1300 classic BPF
// instructions: for each architecture a tree of comparisons on the syscall
// number whose leaves test one number after another (about 1000 jeq), then
// the argument checks and the returns. The kernel converts and JIT-compiles
// every instruction at each load, which berth-entry does at every container
// start and exec: 0.5 ms on the test VM. Most of those tests lead to the
// same few places (allow, the errno, the argument checks of a syscall), over
// long runs of consecutive numbers.
//
// compactProgram rebuilds the part of the program that only looks at the
// architecture and the syscall number (the dispatch) as a binary search over
// the intervals of (architecture, number) that lead to the same place, and
// keeps everything from those places on (argument checks, returns) as it
// is. The dispatch's outcome depends on the two values only through the
// constants they are compared with, so it is constant between consecutive
// breakpoints (k and k+1 for jeq, k+1 for jgt, k for jge; the multiples of
// its bit for a one-bit jset). Both programs are evaluated at every
// breakpoint of the original, which covers every interval: the rebuilt
// program is used only if it reaches the same place for all of them, its
// kept instructions are the original's with their jumps mapped, and it is
// smaller. Anything unexpected (a dispatch that leaves with A still needed,
// a multi-bit jset) keeps the original program.

// compactVersion names this compaction in the cache key of compiled
// programs: change it with the code.
const compactVersion = "compact 1"

// insn is one classic BPF instruction, struct sock_filter.
type insn struct {
	code   uint16
	jt, jf uint8
	k      uint32
}

// Offsets in struct seccomp_data.
const (
	offNr   = 0
	offArch = 4
)

type field int8

const (
	fieldNone field = iota
	fieldNr
	fieldArch
)

func decodeProgram(b []byte) []insn {
	p := make([]insn, len(b)/8)
	for i := range p {
		e := b[i*8:]
		p[i] = insn{code: binary.LittleEndian.Uint16(e), jt: e[2], jf: e[3], k: binary.LittleEndian.Uint32(e[4:])}
	}
	return p
}

func encodeProgram(p []insn) []byte {
	b := make([]byte, 0, 8*len(p))
	for _, in := range p {
		b = binary.LittleEndian.AppendUint16(b, in.code)
		b = append(b, in.jt, in.jf)
		b = binary.LittleEndian.AppendUint32(b, in.k)
	}
	return b
}

// fieldLoad says whether in loads the syscall number or the architecture.
func fieldLoad(in insn) field {
	if in.code == unix.BPF_LD|unix.BPF_W|unix.BPF_ABS {
		switch in.k {
		case offNr:
			return fieldNr
		case offArch:
			return fieldArch
		}
	}
	return fieldNone
}

func isJA(in insn) bool { return in.code == unix.BPF_JMP|unix.BPF_JA }

// condK says whether in is a conditional jump comparing A with k.
func condK(in insn) bool {
	if in.code&0x07 != unix.BPF_JMP || in.code&unix.BPF_X != 0 {
		return false
	}
	switch in.code & 0xf0 {
	case unix.BPF_JEQ, unix.BPF_JGT, unix.BPF_JGE, unix.BPF_JSET:
		return true
	}
	return false
}

func condTrue(in insn, a uint32) bool {
	switch in.code & 0xf0 {
	case unix.BPF_JEQ:
		return a == in.k
	case unix.BPF_JGT:
		return a > in.k
	case unix.BPF_JGE:
		return a >= in.k
	default: // BPF_JSET
		return a&in.k != 0
	}
}

// exitOK says whether the dispatch may leave at in: it does not read A (a
// return of a constant, or a load that replaces A).
func exitOK(in insn) bool {
	if in.code == unix.BPF_RET|unix.BPF_K {
		return true
	}
	return in.code&0x07 == unix.BPF_LD
}

// successors are the instructions that may follow pc.
func successors(p []insn, pc int) []int {
	in := p[pc]
	switch {
	case in.code&0x07 == unix.BPF_RET:
		return nil
	case isJA(in):
		return []int{pc + 1 + int(in.k)}
	case in.code&0x07 == unix.BPF_JMP:
		return []int{pc + 1 + int(in.jt), pc + 1 + int(in.jf)}
	}
	return []int{pc + 1}
}

// dispatchExit runs the dispatch of p for arch and nr and returns where it
// leaves, or -1 if it runs off the program.
func dispatchExit(p []insn, arch, nr uint32) int {
	pc, f := 0, fieldNone
	for pc >= 0 && pc < len(p) {
		in := p[pc]
		switch {
		case fieldLoad(in) != fieldNone:
			f = fieldLoad(in)
			pc++
		case isJA(in):
			pc += 1 + int(in.k)
		case condK(in) && f != fieldNone:
			a := nr
			if f == fieldArch {
				a = arch
			}
			if condTrue(in, a) {
				pc += 1 + int(in.jt)
			} else {
				pc += 1 + int(in.jf)
			}
		default:
			return pc
		}
	}
	return -1
}

// breakpoints adds to bp the values where comparing with in changes
// outcome; false for a comparison whose outcome changes too often.
func breakpoints(bp map[uint32]bool, in insn) bool {
	k := in.k
	switch in.code & 0xf0 {
	case unix.BPF_JEQ:
		bp[k] = true
		if k != ^uint32(0) {
			bp[k+1] = true
		}
	case unix.BPF_JGT:
		if k != ^uint32(0) {
			bp[k+1] = true
		}
	case unix.BPF_JGE:
		bp[k] = true
	case unix.BPF_JSET:
		if k == 0 {
			return true
		}
		if bits.OnesCount32(k) != 1 || k < 1<<20 {
			return false
		}
		for v := uint64(0); v < 1<<32; v += uint64(k) {
			bp[uint32(v)] = true
		}
	}
	return true
}

// interval is a run of values [lo, next interval's lo) leading to to.
type interval struct {
	lo uint32
	to int
}

// compactProgram returns prog with its dispatch rebuilt, or prog itself.
func compactProgram(prog []byte) []byte {
	p := decodeProgram(prog)
	if len(p) == 0 {
		return prog
	}
	// The dispatch: every (instruction, field in A) reachable from the
	// start through loads of the two fields, jumps and comparisons of
	// them; where it leaves, and the constants it compares.
	type state struct {
		pc int
		f  field
	}
	seen := map[state]bool{}
	exits := map[int]bool{}
	bps := map[field]map[uint32]bool{fieldNr: {0: true}, fieldArch: {0: true}}
	work := []state{{0, fieldNone}}
	for len(work) > 0 {
		s := work[len(work)-1]
		work = work[:len(work)-1]
		if seen[s] {
			continue
		}
		seen[s] = true
		if s.pc < 0 || s.pc >= len(p) {
			return prog
		}
		in := p[s.pc]
		switch {
		case fieldLoad(in) != fieldNone:
			work = append(work, state{s.pc + 1, fieldLoad(in)})
		case isJA(in):
			work = append(work, state{s.pc + 1 + int(in.k), s.f})
		case condK(in) && s.f != fieldNone:
			if !breakpoints(bps[s.f], in) {
				return prog
			}
			work = append(work, state{s.pc + 1 + int(in.jt), s.f}, state{s.pc + 1 + int(in.jf), s.f})
		default:
			if !exitOK(in) {
				return prog
			}
			exits[s.pc] = true
		}
	}
	archBps, nrBps := sortedKeys(bps[fieldArch]), sortedKeys(bps[fieldNr])

	// Where each (architecture, number) interval leads; architectures with
	// the same map share a section.
	type section struct {
		ivals []interval
		label int
	}
	// Leaves lead to labels: a section's index, or ^pc for an exit.
	var sections []*section
	var archIvals []interval
	for _, arch := range archBps {
		var ivals []interval
		for _, nr := range nrBps {
			to := dispatchExit(p, arch, nr)
			if to < 0 || !exits[to] {
				return prog
			}
			if len(ivals) == 0 || ivals[len(ivals)-1].to != ^to {
				ivals = append(ivals, interval{nr, ^to})
			}
		}
		var to int
		if len(ivals) == 1 {
			to = ivals[0].to
		} else {
			i := slices.IndexFunc(sections, func(s *section) bool { return slices.Equal(s.ivals, ivals) })
			if i < 0 {
				i = len(sections)
				sections = append(sections, &section{ivals: ivals})
			}
			to = i
		}
		if len(archIvals) == 0 || archIvals[len(archIvals)-1].to != to {
			archIvals = append(archIvals, interval{arch, to})
		}
	}

	// What the exits lead to is kept as it is.
	kept := map[int]bool{}
	work2 := make([]int, 0, len(exits))
	for pc := range exits {
		work2 = append(work2, pc)
	}
	for len(work2) > 0 {
		pc := work2[len(work2)-1]
		work2 = work2[:len(work2)-1]
		if kept[pc] {
			continue
		}
		if pc < 0 || pc >= len(p) {
			return prog
		}
		kept[pc] = true
		work2 = append(work2, successors(p, pc)...)
	}
	tail := sortedKeys(kept)
	if p[tail[len(tail)-1]].code&0x07 != unix.BPF_RET {
		return prog // the kernel wants a return last
	}

	// Layout: load the architecture and search; each section loads the
	// number and searches; then the kept instructions. Leaves are jumps
	// to labels: a section (>= 0) or an exit (^pc).
	type leaf struct{ at, label int }
	var out []insn
	var leaves []leaf
	tooFar := false
	var tree func(ivals []interval)
	tree = func(ivals []interval) {
		if len(ivals) == 1 {
			leaves = append(leaves, leaf{len(out), ivals[0].to})
			out = append(out, insn{code: unix.BPF_JMP | unix.BPF_JA})
			return
		}
		mid := len(ivals) / 2
		node := len(out)
		out = append(out, insn{code: unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K, k: ivals[mid].lo})
		tramp := -1
		if 2*mid-1 > 255 {
			// The left half (2*mid-1 instructions, or more) is too long
			// for jt to skip: jt reaches a jump to the right half.
			out[node].jf = 1
			tramp = len(out)
			out = append(out, insn{code: unix.BPF_JMP | unix.BPF_JA})
		}
		tree(ivals[:mid])
		switch d := len(out) - node - 1; {
		case tramp >= 0:
			out[tramp].k = uint32(len(out) - tramp - 1)
		case d > 255:
			tooFar = true
		default:
			out[node].jt = uint8(d)
		}
		tree(ivals[mid:])
	}
	out = append(out, insn{code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, k: offArch})
	tree(archIvals)
	for _, s := range sections {
		s.label = len(out)
		out = append(out, insn{code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, k: offNr})
		tree(s.ivals)
	}
	if tooFar {
		return prog
	}
	newPos := make(map[int]int, len(tail))
	for i, pc := range tail {
		newPos[pc] = len(out) + i
	}
	for _, l := range leaves {
		dest := 0
		if l.label >= 0 {
			dest = sections[l.label].label
		} else {
			dest = newPos[^l.label]
		}
		out[l.at].k = uint32(dest - l.at - 1)
	}
	for _, pc := range tail {
		in := p[pc]
		at := newPos[pc]
		switch {
		case isJA(in):
			in.k = uint32(newPos[pc+1+int(in.k)] - at - 1)
		case in.code&0x07 == unix.BPF_JMP:
			jt, jf := newPos[pc+1+int(in.jt)]-at-1, newPos[pc+1+int(in.jf)]-at-1
			if jt < 0 || jt > 255 || jf < 0 || jf > 255 {
				return prog
			}
			in.jt, in.jf = uint8(jt), uint8(jf)
		case in.code&0x07 != unix.BPF_RET && newPos[pc+1] != at+1:
			return prog // falls through to an instruction no longer next
		}
		out = append(out, in)
	}
	if len(out) >= len(p) || !sameProgram(p, out, exits, tail, newPos, archBps, nrBps) {
		return prog
	}
	return encodeProgram(out)
}

// sameProgram checks the rebuilt program q against p: the kept
// instructions are p's, with jumps to the same (mapped) places, and the
// dispatch of both leads to the same place at every breakpoint.
func sameProgram(p, q []insn, exits map[int]bool, tail []int, newPos map[int]int, archBps, nrBps []uint32) bool {
	for _, pc := range tail {
		at := newPos[pc]
		if at >= len(q) || q[at].code != p[pc].code || (!isJA(p[pc]) && q[at].k != p[pc].k) {
			return false
		}
		ps, qs := successors(p, pc), successors(q, at)
		if len(ps) != len(qs) {
			return false
		}
		for i := range ps {
			if np, ok := newPos[ps[i]]; !ok || np != qs[i] {
				return false
			}
		}
	}
	for _, arch := range archBps {
		for _, nr := range nrBps {
			to := dispatchExit(p, arch, nr)
			if !exits[to] || dispatchExit(q, arch, nr) != newPos[to] {
				return false
			}
		}
	}
	return true
}

func sortedKeys[K int | uint32](m map[K]bool) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
