// Package bench holds the benchmarks behind docs/BENCHMARKS.md: durable
// batched ingest against an fsync'd append baseline, HTTP ingest at several
// concurrencies, and verify's hashing rate. They use real components (SQLite
// with synchronous=FULL, fsblob) on the machine's disk.
//
//	go test ./bench -run '^$' -bench . -benchtime 20000x
package bench
