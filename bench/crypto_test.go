package main

import "testing"

// BenchmarkCrypto runs the single-core crypto limits as ordinary Go
// benchmarks: go test -bench Crypto -cpu 1 ./bench/ (pin it with taskset).
func BenchmarkCrypto(b *testing.B) {
	for _, c := range goCryptoCases() {
		b.Run(c.name, c.bench)
	}
}
