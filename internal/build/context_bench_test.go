package build

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"testing"
)

func BenchmarkReadContext10MB(b *testing.B) {
	data := make([]byte, 10<<20)
	rand.Read(data)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "Dockerfile", Mode: 0o644, Size: 5, Typeflag: tar.TypeReg})
	tw.Write([]byte("FROM\n"))
	tw.WriteHeader(&tar.Header{Name: "big.bin", Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg})
	tw.Write(data)
	tw.Close()
	raw := buf.Bytes()
	b.SetBytes(int64(len(raw)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bc, err := readContext(bytes.NewReader(raw), b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		bc.Close()
	}
}
