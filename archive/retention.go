package archive

// Retention events (docs/FORMAT.md §4.2): the rule set that decides each
// record's retain-until, versioned like supervision policies.
const (
	// EventRetentionApplied is a new version of the retention rule set.
	EventRetentionApplied = "retention.applied"
)

// RetentionEvent is the payload of retention.applied: the whole rule-set
// file of one version, with the rules it lets go below the 3-year floor
// and why, so that every retain-until can be traced to the rule and
// version that gave it.
type RetentionEvent struct {
	Name      string              `json:"name"`    // the set's name (retention: in the file)
	Version   int                 `json:"version"` // 1, 2, … over the archive
	SHA256    BlobID              `json:"sha256"`  // of Source
	Source    string              `json:"source"`  // the YAML as applied
	Overrides []RetentionOverride `json:"overrides,omitempty"`
}

// RetentionOverride is a rule of a set whose period stands below the
// floor, with the reason the file gives.
type RetentionOverride struct {
	Rule   string `json:"rule"`
	Period string `json:"period"` // "400d", "2y"
	Reason string `json:"reason"`
}

// EventRetentionExtended: records already archived whose retain-until a
// new version of the rule set makes later, extended in one batch.
const EventRetentionExtended = "retention.extended"

// RetentionExtendedEvent is the payload of retention.extended: the
// messages of one batch, grouped by their new retain-until and the rule
// that gives it. Their blobs (the packs holding their records, their
// attachments) were extended before the event was written.
type RetentionExtendedEvent struct {
	Version int                  `json:"version"` // the rule set's version that gives the later dates
	Groups  []RetentionExtension `json:"groups"`
}

// RetentionExtension is one group of a retention.extended event.
type RetentionExtension struct {
	RetainUntil Time     `json:"retain_until"`
	Rule        string   `json:"rule"`
	Serials     []uint64 `json:"serials"` // ascending
}
