package app

import (
	"context"

	"github.com/wxarchive/wxarchive/archive"
	"github.com/wxarchive/wxarchive/store"
)

// ConsentView is an external contact's consent to being archived: every
// agree/disagree event and the state the latest one leaves.
type ConsentView struct {
	ExternalID string             `json:"external_id"`
	State      string             `json:"state"` // agreed, disagreed or unknown (no event)
	Events     []store.ConsentRow `json:"events"`
}

// Consent looks up an external contact's consent history. Looking up a
// client is an access like any other: journaled, with the messages that
// carried the events.
func (a *App) Consent(ctx context.Context, externalID string) (*ConsentView, error) {
	p, err := a.principal(ctx)
	if err != nil {
		return nil, err
	}
	if err := archive.CheckID("external_id", externalID, archive.MaxIDBytes); err != nil {
		return nil, limitErr(err)
	}
	rows, err := a.d.Store.Consent(ctx, externalID)
	if err != nil {
		return nil, err
	}
	v := &ConsentView{ExternalID: externalID, State: "unknown", Events: rows}
	if v.Events == nil {
		v.Events = []store.ConsentRow{}
	}
	var serials []uint64
	for _, e := range rows {
		serials = append(serials, e.Serial)
	}
	if n := len(rows); n > 0 {
		v.State = "disagreed"
		if rows[n-1].Agreed {
			v.State = "agreed"
		}
	}
	if err := a.journalAccess(ctx, p, archive.AccessEvent{What: "consent:" + externalID, Serials: serials}); err != nil {
		return nil, err
	}
	return v, nil
}
