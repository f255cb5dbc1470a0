package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/rivo/uniseg"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	uc "github.com/wxarchive/wxarchive/app"
	"github.com/wxarchive/wxarchive/repo"
	"github.com/wxarchive/wxarchive/store"
)

func (a *app) searchCmd() *cobra.Command {
	var (
		asJSON, exact, facets, countAll bool
		limit                           int
		sortBy, cursor                  string
	)
	c := &cobra.Command{
		Use:   "search QUERY",
		Short: "Search messages in Chinese and English (docs/SEARCH.md)",
		Long: `Search the archive. QUERY is the query language of docs/SEARCH.md: words and
Chinese terms (all must match), "phrases", OR, NOT or -term, (groups), a NEAR/n b,
prefix*, and filters from: to: participant: conversation: type: has:attachment
filename: after: before: on: recalled: direction: department:. Several arguments
are joined with spaces.

--exact scans the stored text for QUERY as a literal string (case-sensitive, no
folding): slower, but it cannot miss.

Counting stops at 100,000 matches ("100,000+ matches"); --count-all counts
every one, which takes longer for a very common term.

A person or department filter whose value the archive does not know (no such
id or directory name, no such department) is a warning on stderr, with the
closest known value; the search still runs and exits 0.

Every search is recorded in the journal (who, query, result count).`,
		Example: `  wxarchive search 保本
  wxarchive search '"guaranteed returns" OR 保证收益 after:2026-07-01 before:2026-10-01'
  wxarchive search 'from:zhangwei 私人微信 NEAR/5 加' --json
  wxarchive search --exact '保 本'`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 1 || limit > uc.MaxSearchLimit {
				return usageErr("limit: must be between 1 and %d, not %d", uc.MaxSearchLimit, limit)
			}
			return a.withApp(cmd.Context(), journaling, func(ctx context.Context, u *uc.App, _ *repo.Repo) error {
				res, err := u.Search(ctx, uc.SearchOptions{Query: strings.Join(args, " "), Exact: exact,
					Sort: store.SearchSort(sortBy), Limit: limit, Cursor: cursor, Facets: facets, CountAll: countAll})
				if err != nil {
					return err
				}
				// On stderr, so that --json stays one document (it has
				// them too) and a table piped on still shows them.
				for _, w := range res.Warnings {
					fmt.Fprintln(a.stderr, "warning: "+w)
				}
				if asJSON {
					return a.printJSON(res)
				}
				a.renderSearch(res, u.Location(), args)
				return nil
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	c.Flags().IntVar(&limit, "limit", uc.DefaultSearchLimit, fmt.Sprintf("results per page (1–%d)", uc.MaxSearchLimit))
	c.Flags().StringVar(&sortBy, "sort", "time", "time (newest first) or relevance")
	c.Flags().StringVar(&cursor, "cursor", "", "continue after a previous page (its next_cursor)")
	c.Flags().BoolVar(&exact, "exact", false, "scan for QUERY as a literal string")
	c.Flags().BoolVar(&countAll, "count-all", false, fmt.Sprintf("count every match (by default counting stops at %d)", uc.SearchCountLimit))
	c.Flags().BoolVar(&facets, "facets", false, "count matches by sender, conversation, type, direction and month")
	return c
}

// renderSearch prints a readable table: time, conversation, sender and a
// snippet with the hits marked (bold on a terminal, «» otherwise).
func (a *app) renderSearch(res *uc.SearchResult, loc *time.Location, args []string) {
	on, off := "«", "»"
	if f, ok := a.stdout.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		on, off = "\x1b[1;33m", "\x1b[0m"
	}
	shown := len(res.Results)
	switch {
	case res.Total == 0:
		fmt.Fprintln(a.stdout, "no messages match")
		return
	case int64(shown) == res.Total:
		fmt.Fprintf(a.stdout, "%d %s, by %s\n\n", res.Total, plural(res.Total, "match", "matches"), res.Sort)
	case !res.TotalExact:
		fmt.Fprintf(a.stdout, "%s+ matches, showing %d, by %s (--count-all for the exact number)\n\n", thousands(res.Total), shown, res.Sort)
	default:
		fmt.Fprintf(a.stdout, "%d matches, showing %d, by %s\n\n", res.Total, shown, res.Sort)
	}
	rows := [][]string{{"SERIAL", "TIME (" + loc.String() + ")", "CONVERSATION", "SENDER", "MESSAGE"}}
	for _, it := range res.Results {
		t, _ := time.Parse(time.RFC3339Nano, it.SentAt)
		snip := markSnippet(it.Snippet, it.Highlights, on, off)
		if it.InAttachment > 0 {
			snip = fmt.Sprintf("[attachment %d] %s", it.InAttachment, snip)
		}
		if it.Recalled {
			snip = "[recalled] " + snip
		}
		if it.Snippet == "" {
			snip = "(" + string(it.Kind) + ")"
		}
		when := t.In(loc).Format("2006-01-02 15:04")
		if it.TimeUnknown {
			when += "?" // the source gave no time: this is when it was captured
		}
		conv, sender := it.Conversation, it.Sender
		if it.ConversationName != "" {
			conv = it.ConversationName
		}
		if it.SenderName != "" {
			sender = it.SenderName + " " + it.Sender // the name, and the id beside it
		}
		rows = append(rows, []string{fmt.Sprint(it.Serial), when, clip(conv, 28), clip(sender, 24), snip})
	}
	widths := make([]int, 4)
	for _, r := range rows {
		for i := 0; i < 4; i++ {
			widths[i] = max(widths[i], uniseg.StringWidth(r[i]))
		}
	}
	for _, r := range rows {
		var b strings.Builder
		for i := 0; i < 4; i++ {
			b.WriteString(r[i])
			b.WriteString(strings.Repeat(" ", widths[i]-uniseg.StringWidth(r[i])+2))
		}
		b.WriteString(r[4])
		fmt.Fprintln(a.stdout, b.String())
	}
	for _, it := range res.Results {
		if it.TimeUnknown {
			fmt.Fprintln(a.stdout, "\n? time unknown: the source gave no usable time; the time shown is when the message was captured")
			break
		}
	}
	if res.NextCursor != "" {
		fmt.Fprintf(a.stdout, "\nnext page: --cursor %s\n", res.NextCursor)
	}
	for _, name := range store.FacetNames {
		fc, ok := res.Facets[name]
		if !ok {
			continue
		}
		var parts []string
		for _, f := range fc {
			v := f.Value
			if f.Name != "" {
				v = f.Name + " " + f.Value // the name, and the id beside it
			}
			parts = append(parts, fmt.Sprintf("%s (%d)", v, f.Count))
		}
		fmt.Fprintf(a.stdout, "%s: %s\n", name, strings.Join(parts, ", "))
	}
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// markSnippet wraps the highlighted character ranges.
func markSnippet(s string, hl [][2]int, on, off string) string {
	if len(hl) == 0 {
		return s
	}
	var b strings.Builder
	i, k := 0, 0
	for _, r := range s {
		for k < len(hl) && hl[k][1] <= i && hl[k][0] < hl[k][1] {
			k++
		}
		if k < len(hl) && i == hl[k][0] {
			b.WriteString(on)
		}
		b.WriteRune(r)
		i++
		if k < len(hl) && i == hl[k][1] {
			b.WriteString(off)
			k++
		}
	}
	return b.String()
}

// clip shortens s to at most n display columns.
func clip(s string, n int) string {
	if uniseg.StringWidth(s) <= n {
		return s
	}
	var b strings.Builder
	w := 0
	for _, r := range s {
		rw := uniseg.StringWidth(string(r))
		if w+rw > n-1 {
			break
		}
		b.WriteRune(r)
		w += rw
	}
	return b.String() + "…"
}

// thousands writes n with comma separators: 100000 → 100,000.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
