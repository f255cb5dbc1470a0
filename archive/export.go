package archive

// Export journal events (docs/FORMAT.md §2): a production is journaled
// when it is created — who asked, for what scope, how many messages, the
// hash of its plan — and when it is finished, with the SHA-256 of its
// manifest, so the checkpoint that commits export.finished signs the
// manifest and through it every file of the production.
const (
	EventExportCreated  = "export.created"
	EventExportFinished = "export.finished"
)

// ExportCreatedEvent is the payload of export.created. The messages are
// not listed (a production may hold millions): the plan, whose hash is
// here, lists them, and the production's proofs name each.
type ExportCreatedEvent struct {
	Scope      HoldScope `json:"scope"`
	Hold       string    `json:"hold,omitempty"`
	Formats    []string  `json:"formats"`
	Prefix     string    `json:"prefix"`
	Messages   int       `json:"messages"`
	Units      int       `json:"units"`
	PlanSHA256 string    `json:"plan_sha256"`
	Via        string    `json:"via"`
	// Out is the production's directory as the creator named it (a
	// hint for whoever reads the journal; the proofs do not depend on it).
	Out string `json:"out,omitempty"`
}

// ExportFinishedEvent is the payload of export.finished.
type ExportFinishedEvent struct {
	ID             string `json:"id"` // export-<index of export.created>
	ManifestSHA256 string `json:"manifest_sha256"`
	Messages       int    `json:"messages"`
	Files          int    `json:"files"`
	Bytes          int64  `json:"bytes"`
}
