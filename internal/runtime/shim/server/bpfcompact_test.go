package server

import (
	"encoding/binary"
	"math/rand/v2"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// runBPF interprets a seccomp program on data (struct seccomp_data) as the
// kernel does, and returns its verdict.
func runBPF(t *testing.T, p []insn, data []byte) uint32 {
	var a, x uint32
	var mem [16]uint32
	// load is what a load of mode (ABS for A only) gives.
	load := func(pc int, in insn) uint32 {
		switch in.code & 0xe0 {
		case unix.BPF_ABS:
			if in.code&0x07 == unix.BPF_LD {
				return binary.LittleEndian.Uint32(data[in.k:])
			}
		case unix.BPF_IMM:
			return in.k
		case unix.BPF_MEM:
			return mem[in.k]
		case unix.BPF_LEN:
			return uint32(len(data))
		}
		t.Fatalf("pc %d: load %#x", pc, in.code)
		return 0
	}
	for pc := 0; pc < len(p); pc++ {
		in := p[pc]
		switch in.code & 0x07 {
		case unix.BPF_LD:
			a = load(pc, in)
		case unix.BPF_LDX:
			x = load(pc, in)
		case unix.BPF_ST:
			mem[in.k] = a
		case unix.BPF_STX:
			mem[in.k] = x
		case unix.BPF_ALU:
			v := in.k
			if in.code&unix.BPF_X != 0 {
				v = x
			}
			switch in.code & 0xf0 {
			case unix.BPF_ADD:
				a += v
			case unix.BPF_SUB:
				a -= v
			case unix.BPF_AND:
				a &= v
			case unix.BPF_OR:
				a |= v
			case unix.BPF_LSH:
				a <<= v
			case unix.BPF_RSH:
				a >>= v
			case unix.BPF_NEG:
				a = -a
			default:
				t.Fatalf("pc %d: alu %#x", pc, in.code)
			}
		case unix.BPF_JMP:
			if isJA(in) {
				pc += int(in.k)
				continue
			}
			cmp := in
			if in.code&unix.BPF_X != 0 {
				cmp.k = x
			}
			if condTrue(cmp, a) {
				pc += int(in.jt)
			} else {
				pc += int(in.jf)
			}
		case unix.BPF_RET:
			if in.code&0x18 == unix.BPF_A {
				return a
			}
			return in.k
		case unix.BPF_MISC:
			if in.code&0xf8 == unix.BPF_TAX {
				x = a
			} else {
				a = x
			}
		}
	}
	t.Fatal("program ran off its end")
	return 0
}

func seccompData(arch, nr uint32, args [6]uint64) []byte {
	b := make([]byte, 64)
	binary.LittleEndian.PutUint32(b[0:], nr)
	binary.LittleEndian.PutUint32(b[4:], arch)
	binary.LittleEndian.PutUint64(b[8:], 0x7f0000001000)
	for i, v := range args {
		binary.LittleEndian.PutUint64(b[16+8*i:], v)
	}
	return b
}

// checkSame runs both programs on every architecture and number given and
// on argument vectors made of the constants both compare (and random ones).
func checkSame(t *testing.T, p, q []insn, arches, nrs []uint32) {
	t.Helper()
	consts := map[uint32]bool{}
	for _, in := range p {
		if in.code&0x07 == unix.BPF_JMP && !isJA(in) {
			consts[in.k], consts[in.k+1], consts[in.k-1] = true, true, true
		}
	}
	rnd := rand.New(rand.NewPCG(7, 11))
	var argSets [][6]uint64
	argSets = append(argSets, [6]uint64{}, [6]uint64{^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0)})
	for k := range consts {
		var a, b [6]uint64
		for i := range a {
			a[i] = uint64(k)
			b[i] = uint64(k)<<32 | uint64(rnd.Uint32())
		}
		argSets = append(argSets, a, b)
	}
	for range 8 {
		var a [6]uint64
		for i := range a {
			a[i] = rnd.Uint64()
		}
		argSets = append(argSets, a)
	}
	// Every number with no and all-ones arguments, and with one more set
	// in turn: each set meets many numbers.
	turn := 0
	for _, arch := range arches {
		for _, nr := range nrs {
			turn++
			for _, args := range [][6]uint64{argSets[0], argSets[1], argSets[2+turn%(len(argSets)-2)]} {
				d := seccompData(arch, nr, args)
				if got, want := runBPF(t, q, d), runBPF(t, p, d); got != want {
					t.Fatalf("arch %#x nr %#x args %x: %#x, want %#x", arch, nr, args, got, want)
				}
			}
		}
	}
}

func numbers(extra ...uint32) []uint32 {
	var nrs []uint32
	for nr := uint32(0); nr < 1100; nr++ {
		nrs = append(nrs, nr, 0x40000000|nr, 0x80000000|nr)
	}
	return append(nrs, append(extra, 0x3fffffff, 0x7fffffff, 0xbfffffff, 0xfffffffe, 0xffffffff)...)
}

// The program libcontainer loads for Docker's default profile on amd64 (as
// the shim dumps it, -ENOSYS stub included) keeps its verdicts and shrinks.
func TestCompactDockerProfile(t *testing.T) {
	b, err := os.ReadFile("testdata/docker-default-amd64.bpf")
	if err != nil {
		t.Fatal(err)
	}
	c := compactProgram(b)
	p, q := decodeProgram(b), decodeProgram(c)
	t.Logf("%d instructions -> %d", len(p), len(q))
	if len(q) > len(p)*6/10 {
		t.Errorf("compacted to %d instructions of %d", len(q), len(p))
	}
	arches := []uint32{unix.AUDIT_ARCH_X86_64, unix.AUDIT_ARCH_I386, unix.AUDIT_ARCH_AARCH64, 0, 0xffffffff}
	checkSame(t, p, q, arches, numbers())
	if q2 := compactProgram(c); len(q2) != len(c) {
		t.Errorf("compacting again: %d bytes -> %d", len(c), len(q2))
	}
}

// Programs the dispatch analysis cannot prove stay as they are.
func TestCompactKeepsWhatItCannotProve(t *testing.T) {
	ld := func(k uint32) insn { return insn{code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, k: k} }
	jeq := func(k uint32, jt, jf uint8) insn {
		return insn{code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, jt: jt, jf: jf, k: k}
	}
	ret := func(k uint32) insn { return insn{code: unix.BPF_RET | unix.BPF_K, k: k} }
	long := func(mid ...insn) []insn {
		// Twenty consecutive numbers allowed: worth compacting, but for mid.
		p := []insn{ld(offArch), jeq(unix.AUDIT_ARCH_X86_64, 0, 22), ld(offNr)}
		for i := range 20 {
			p = append(p, jeq(uint32(i), uint8(20-i), 0))
		}
		p = append(p, mid...)
		return append(p, ret(unix.SECCOMP_RET_ERRNO|1), ret(unix.SECCOMP_RET_ALLOW), ret(unix.SECCOMP_RET_KILL_PROCESS))
	}
	if b := encodeProgram(long()); len(compactProgram(b)) >= len(b) {
		t.Fatalf("the plain program was not compacted")
	}
	for name, p := range map[string][]insn{
		"jset of two bits":   long(insn{code: unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K, k: 3}),
		"A read at the exit": long(insn{code: unix.BPF_ALU | unix.BPF_AND | unix.BPF_K, k: 1}),
		"X compared":         long(insn{code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_X}),
		"a return of A":      long(insn{code: unix.BPF_RET | unix.BPF_A}),
	} {
		// The inserted instruction leaves the dispatch reading A: its
		// jumps are fixed so that the program stays valid.
		for i := range p {
			if p[i].code&0x07 == unix.BPF_JMP && !isJA(p[i]) && i+1+int(p[i].jt) >= len(p)-3 && i < 23 {
				p[i].jt++
			}
		}
		b := encodeProgram(p)
		if got := compactProgram(b); string(got) != string(b) {
			t.Errorf("%s: changed", name)
		}
	}
	one := encodeProgram([]insn{ret(unix.SECCOMP_RET_ALLOW)})
	if got := compactProgram(one); string(got) != string(one) {
		t.Errorf("a lone return changed")
	}
}

// Random profiles laid out as a compiler might (the architecture checked,
// then a run of jeq per architecture, each followed by a jump to its
// action's return) keep their verdicts, with enough syscalls for
// trampolines in the search tree.
func TestCompactRandomProfiles(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	actions := []uint32{unix.SECCOMP_RET_ALLOW, unix.SECCOMP_RET_ERRNO | 1, unix.SECCOMP_RET_ERRNO | 38, unix.SECCOMP_RET_TRAP, unix.SECCOMP_RET_KILL_PROCESS}
	archs := []uint32{unix.AUDIT_ARCH_X86_64, unix.AUDIT_ARCH_I386}
	for round := range 30 {
		n := 20 + rnd.IntN(600)
		var code []insn
		var to []int // absolute target of each ja (-1: none); -2 - i: action i's return
		emit := func(in insn, target int) {
			code = append(code, in)
			to = append(to, target)
		}
		emit(insn{code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, k: offArch}, -1)
		var archJA []int
		for _, a := range archs {
			emit(insn{code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, k: a, jt: 0, jf: 1}, -1)
			archJA = append(archJA, len(code))
			emit(insn{code: unix.BPF_JMP | unix.BPF_JA}, 0)
		}
		emit(insn{code: unix.BPF_RET | unix.BPF_K, k: unix.SECCOMP_RET_KILL_PROCESS}, -1)
		for ai := range archs {
			to[archJA[ai]] = len(code)
			emit(insn{code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, k: offNr}, -1)
			// Most numbers allowed, in runs, a few with other actions,
			// as real profiles are; in a random order.
			var nrs []uint32
			for nr := range uint32(n) {
				if rnd.IntN(10) < 7 {
					nrs = append(nrs, nr)
				}
				if rnd.IntN(20) == 0 {
					nrs = append(nrs, 0x40000000|nr)
				}
			}
			rnd.Shuffle(len(nrs), func(i, j int) { nrs[i], nrs[j] = nrs[j], nrs[i] })
			for _, nr := range nrs {
				act := 0
				if rnd.IntN(10) == 0 {
					act = rnd.IntN(len(actions))
				}
				emit(insn{code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, k: nr, jt: 0, jf: 1}, -1)
				emit(insn{code: unix.BPF_JMP | unix.BPF_JA}, -2-act)
			}
			emit(insn{code: unix.BPF_RET | unix.BPF_K, k: unix.SECCOMP_RET_ERRNO | 1}, -1) // the default
		}
		retAt := len(code)
		for _, a := range actions {
			emit(insn{code: unix.BPF_RET | unix.BPF_K, k: a}, -1)
		}
		for i := range code {
			switch {
			case to[i] <= -2:
				code[i].k = uint32(retAt + (-2 - to[i]) - i - 1)
			case to[i] >= 0:
				code[i].k = uint32(to[i] - i - 1)
			}
		}
		b := encodeProgram(code)
		q := decodeProgram(compactProgram(b))
		if len(q) >= len(code) {
			t.Errorf("round %d: %d instructions not compacted (%d)", round, len(code), len(q))
		}
		checkSame(t, code, q, append(archs, unix.AUDIT_ARCH_AARCH64), numbers())
	}
}
