package main

import (
	"strings"
	"testing"
)

// TestTableAlignsChinese: columns line up by display width, so a column
// of department names in Chinese starts the next column at the same
// terminal column on every line.
func TestTableAlignsChinese(t *testing.T) {
	var b strings.Builder
	tw := newTable(&b)
	tw.Write([]byte("POLICY\tDEPARTMENT\tOPEN\n"))
	tw.Write([]byte("complaints\t机构销售部\t2\n"))
	tw.Write([]byte("gifts-and-entertainment\t-\t13\n"))
	tw.Write([]byte("off-channel\tＡ组\t1\n"))
	if err := tw.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"POLICY                   DEPARTMENT  OPEN\n" +
		"complaints               机构销售部  2\n" +
		"gifts-and-entertainment  -           13\n" +
		"off-channel              Ａ组        1\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
	if displayWidth("财富e\u0301") != 5 {
		t.Fatalf("displayWidth: %d", displayWidth("财富e\u0301"))
	}
}
