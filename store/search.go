package store

import (
	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/textindex"
)

// Search keys order the full-text index by sent time, so that the newest
// matches of a common term come first without sorting every match: the
// key is the sent time in whole seconds shifted left by SearchKeySlotBits,
// plus the serial's low bits. Keys are unique: two messages of the same
// second collide only if their serials are a multiple of 2^30 apart, and
// then the later one takes the next free key of that second. Every key lies
// in its second's block, so a time range is a key range (SearchKeyRange).
const SearchKeySlotBits = 30

// maxSearchSeconds keeps keys positive int64 (sent times up to year 2242).
const maxSearchSeconds = 1<<(63-SearchKeySlotBits) - 1

// ErrSearchKeysExhausted is returned when more than 2^30 messages were sent
// in one second (or share a missing timestamp): past the index's design.
var ErrSearchKeysExhausted = errorString("more than 2^30 messages with the same sent second: the full-text index cannot order them")

func searchSecond(ms int64) int64 {
	s := ms / 1000
	if ms < 0 {
		s = 0
	}
	return min(s, maxSearchSeconds)
}

// SearchKey returns the preferred search key of a message.
func SearchKey(sent archive.Time, serial uint64) int64 {
	ms := sent.Millis()
	if sent.IsZero() {
		ms = 0
	}
	return searchSecond(ms)<<SearchKeySlotBits | int64(serial&(1<<SearchKeySlotBits-1))
}

// SearchKeyRange returns keys [lo, hi) that hold every message sent in
// [fromMs, toMs): a superset (whole seconds) for the index to start from.
func SearchKeyRange(fromMs, toMs int64) (lo, hi int64) {
	lo = searchSecond(fromMs) << SearchKeySlotBits
	top := searchSecond(toMs)
	// A partial second still counts, and times before 1970 all sit in
	// block 0.
	if toMs > top*1000 || toMs <= 0 {
		top++
	}
	if top >= maxSearchSeconds {
		return lo, 1<<63 - 1
	}
	return lo, top << SearchKeySlotBits
}

// SearchSort orders search results.
type SearchSort string

// Sort orders.
const (
	SortTime      SearchSort = "time"      // newest first
	SortRelevance SearchSort = "relevance" // best first (BM25), then newest
)

// SearchRequest is one page of a search.
type SearchRequest struct {
	Query textindex.Node // parsed query; nil in exact mode
	Exact string         // exact mode: a literal every result's text contains
	Sort  SearchSort
	Limit int
	After *SearchCursor // the previous page's Next
	// CountLimit bounds the total: counting stops once this many matches
	// are found, and the page says the total is a lower bound. Zero counts
	// every match. Counting is the slow part of a search for a very common
	// term (2.6M matches of 的 in 10M messages); the first page is not.
	CountLimit int64
	// Facets asks for value counts over all matches (not only this page).
	Facets bool
	// FacetMonth turns an hour bucket (ms at the start of a UTC hour) into
	// the month label it falls in, in the archive's time zone.
	FacetMonth func(hourStartMillis int64) string
	// Serials, when set, limits the search to these messages (at most
	// MaxSearchSerials): whether given messages lie within a query — a
	// reviewer's departments, a regulator's scope — is answered by the
	// same rules as a search.
	Serials []uint64
}

// MaxSearchSerials bounds SearchRequest.Serials.
const MaxSearchSerials = 1000

// SearchCursor is a keyset position: results after it come next.
type SearchCursor struct {
	Key   int64
	Score float64 // relevance sort only
}

// SearchHit is one matching message.
type SearchHit struct {
	Serial       uint64
	SourceID     string
	Conversation string
	Sender       string
	SentAt       archive.Time
	Kind         archive.Kind
	Direction    archive.Direction
	RecalledBy   uint64
	TimeUnknown  bool // SentAt is the capture time: the source gave none
	Attachments  int
	Text         string   // the message text (body)
	AttachText   []string // extracted attachment texts, in attachment order
	Key          int64
	Score        float64 // BM25 (lower is better) in relevance sort
}

// FacetCount is one value of a facet and how many matches have it.
type FacetCount struct {
	Value string `json:"value"`
	Count int64  `json:"count"`
}

// Facets computed on request.
var FacetNames = []string{"sender", "conversation", "type", "direction", "month"}

// MaxFacetValues bounds the values listed per facet (the most frequent).
const MaxFacetValues = 20

// SearchPage is a page of results.
type SearchPage struct {
	// Total is the number of matches, or, when TotalExact is false, a
	// lower bound (the request's CountLimit was reached).
	Total      int64
	TotalExact bool
	Hits       []SearchHit
	Next       *SearchCursor // nil on the last page
	Facets     map[string][]FacetCount
}

// ErrReindexRequired is returned by Search on an archive whose full-text
// index predates the archive's schema and must be rebuilt (wxarchive reindex).
var ErrReindexRequired = errorString("the full-text index must be rebuilt: run `wxarchive reindex`")

type errorString string

func (e errorString) Error() string { return string(e) }
