// Package archtest checks the rules of the house (docs/ARCHITECTURE.md,
// DESIGN §6) against the code with `go list` and the Go parser: which
// package may import which, and that access journaling happens only in
// app/. It has tests only.
package archtest
