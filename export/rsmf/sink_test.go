package rsmf

import "github.com/wxarchive/wxarchive/export/exporttest"

// memSink is the format tests' in-memory sink.
type memSink = exporttest.Sink

func newMemSink() *memSink { return exporttest.NewSink() }
