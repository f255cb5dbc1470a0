package textindex

import (
	"strings"
	"testing"
)

var benchText = strings.Repeat("您好，关于这只基金的收益我们可以保证每年8%的回报，请加我私人微信详聊。Please call me at 13800138000 tomorrow. ", 2)

// BenchmarkIndexTerms measures the analyzer on the ingest path.
func BenchmarkIndexTerms(b *testing.B) {
	var a Analyzer
	b.SetBytes(int64(len(benchText)))
	b.ReportAllocs()
	var buf []byte
	for i := 0; i < b.N; i++ {
		buf = a.AppendIndexTerms(buf[:0], benchText)
	}
}
